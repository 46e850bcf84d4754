"""The dashboard's HTTP server (aiohttp): pages, static files, a JSON API, the recordings, live rows.

Safe by default: it listens on 127.0.0.1 unless told otherwise, and on any other address only with a token,
which every request must carry (``?token=`` once, then a cookie; or ``Authorization: Bearer``). Every file it
sends is one the catalog found: a static file of this package (listed at start), a session's recording (the
one its summary names), or a file of a session folder. URLs carry ids, looked up in the catalog, never paths.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from fer.dashboard.address import DEFAULT_HOST, DEFAULT_PORT, is_loopback
from fer.dashboard.catalog import VIDEO_TYPES, Catalog, Session
from fer.dashboard.lanes import finished_lanes, live_lanes, read_live_rows
from fer.insight.clips import clip_name, still_jpeg, write_clip
from fer.playtest.gameplay import attach_gameplay
from fer.playtest.annotations import (AnnotationsError, Conflict, add_annotation, annotations_path, delete_annotation,
                                      edit_annotation, read_annotations)

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".txt": "text/plain",
                 ".LICENSE": "text/plain"}
TOKEN_COOKIE = "fer_dashboard_token"
LIVE_POLL_S = 0.5
FLIPBOOK_WIDTH = 640  # frames of the flip-book are scaled down to at most this width
CATALOG = web.AppKey("catalog", Catalog)
TOKEN = web.AppKey("token", str)
LOOPBACK_ONLY = web.AppKey("loopback_only", bool)
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]", "::1"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class UsageError(ValueError):
    """Settings the dashboard refuses to start with (another interface without a token)."""


@dataclass
class DashboardOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None

    def check(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise UsageError(f"--host {self.host} is reachable from other machines: give --token SECRET too"
                             " (requests must then carry it), or keep the default 127.0.0.1")


def _json(content, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(content, allow_nan=False, default=str), status=status,
                        content_type="application/json")


def _error(status: int, message: str, **extra) -> web.Response:
    return _json({"error": message, **extra}, status)


@web.middleware
async def token_check(request: web.Request, handler):
    token = request.app[TOKEN]
    if not token:
        return await handler(request)
    given = (request.query.get("token") or request.cookies.get(TOKEN_COOKIE)
             or request.headers.get("Authorization", "").removeprefix("Bearer "))
    if not hmac.compare_digest(given.encode(), token.encode()):
        return web.Response(status=401, text="401: this dashboard needs its token (open it with ?token=...)")
    response = await handler(request)
    if request.query.get("token"):
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
    return response


@web.middleware
async def same_site_only(request: web.Request, handler):
    """Refuses requests whose Host is not a name of this machine while it listens on loopback only (another
    name is DNS rebinding: a web page's own host resolving to 127.0.0.1), and writes from another origin (a
    web page's form or fetch; browsers always send Origin on those)."""
    if request.app[LOOPBACK_ONLY] and (request.host or "").rsplit(":", 1)[0].lower() not in LOOPBACK_NAMES:
        return _error(403, f"Host {request.host!r} is not this dashboard's address; open it at 127.0.0.1")
    origin = request.headers.get("Origin")
    if request.method in UNSAFE_METHODS and (
            (origin is not None and origin != f"{request.scheme}://{request.host}")
            or request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")):
        return _error(403, f"writes come only from the dashboard's own page, not from {origin or 'another site'}")
    return await handler(request)


def _session(request: web.Request) -> Session:
    session = request.app[CATALOG].sessions().get(request.query.get("id", ""))
    if session is None:
        raise web.HTTPNotFound(text=json.dumps({"error": f"no session {request.query.get('id')!r}"}),
                               content_type="application/json")
    return session


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


def static_handler(files: dict[str, Path]):
    async def static(request: web.Request) -> web.StreamResponse:
        path = files.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="404: no such file")
        return web.FileResponse(path, headers={"Content-Type": CONTENT_TYPES.get(path.suffix, "text/plain")})
    return static


async def list_everything(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG]
    reports = [{"kind": r.kind, "id": r.id, "error": r.error} for r in catalog.reports().values()]
    return _json({"sessions": [s.listing() for s in catalog.sessions().values()], "reports": reports,
                  "roots": [str(root) for root in catalog.roots]})


async def session_data(request: web.Request) -> web.Response:
    session = _session(request)
    recording, recording_error = session.recording()
    content = {"id": session.id, "summary": session.summary, "live": session.live is not None,
               "errors": list(session.errors), "video": None, "lanes": None, "offset": 0}
    if recording is not None:
        content["video"] = {"url": f"/api/video?id={urllib.parse.quote(session.id)}", "type": VIDEO_TYPES.get(recording.suffix.lower(), ""),
                            "name": recording.name}
    elif recording_error:
        content["errors"].append(recording_error)
    capture, capture_error = session.gameplay()
    if capture is not None:
        content["gameplay"] = {"url": f"/api/video?id={urllib.parse.quote(session.id)}&which=gameplay",
                               "name": capture["path"].name, "offset_s": capture["offset_s"],
                               "saveUrl": f"/api/gameplay?id={urllib.parse.quote(session.id)}"}
    elif capture_error:
        content["errors"].append(capture_error)
    try:
        if session.live is not None:
            rows, content["offset"] = read_live_rows(session.live_folder / "frames.csv")
            content["lanes"] = live_lanes(rows, session.live.get("circumplex", {}))
        elif session.summary is not None:
            content["lanes"] = finished_lanes(session.folder)
    except (OSError, ValueError, KeyError) as error:
        content["errors"].append(f"{session.folder}: its tables cannot be read: {type(error).__name__}: {error}")
    content["annotations"], annotation_error = _annotations(session)
    if annotation_error:
        content["errors"].append(annotation_error)
    return _json(content)


def _annotations(session: Session) -> tuple[list[dict], str | None]:
    try:
        return read_annotations(annotations_path(session.folder)), None
    except AnnotationsError as error:
        return [], str(error)


async def video(request: web.Request) -> web.StreamResponse:
    """The session's recording, or with which=gameplay its attached gameplay capture."""
    session = _session(request)
    if request.query.get("which", "recording") == "gameplay":
        capture, error = session.gameplay()
        recording = capture["path"] if capture else None
        error = error or "no gameplay capture is attached to this session"
    else:
        recording, error = session.recording()
    if recording is None:
        return _error(404, error)
    return web.FileResponse(recording, headers={"Content-Type": VIDEO_TYPES.get(recording.suffix.lower(), "")})


async def frame(request: web.Request) -> web.Response:
    """One frame of the recording, for the flip-book shown where the browser cannot play the video's codec."""
    recording, error = _session(request).recording()
    if recording is None:
        return _error(404, error)
    try:
        time_s = max(0.0, float(request.query.get("t", "0")))
    except ValueError:
        return _error(400, "t must be a number of seconds")
    jpeg = await asyncio.get_running_loop().run_in_executor(None, still_jpeg, recording, time_s, FLIPBOOK_WIDTH)
    if jpeg is None:
        return _error(404, f"no frame at {time_s:g} s in {recording.name}")
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


MAX_CLIP_S = 30.0


async def clip(request: web.Request) -> web.StreamResponse:
    """A WebM clip of the recording (or, with which=gameplay, the attached capture at its offset) of ``seconds``
    around ``t``, as a download; nothing is kept on the server."""
    session = _session(request)
    which = request.query.get("which", "face")
    if which not in ("face", "gameplay"):
        return _error(400, "which must be face or gameplay")
    try:
        time_s, seconds = float(request.query.get("t", "0")), float(request.query.get("seconds", "4"))
    except ValueError:
        return _error(400, "t and seconds must be numbers of seconds")
    if not (0 <= time_s < 1e7 and 0 < seconds <= MAX_CLIP_S):
        return _error(400, f"t must be at least 0 and seconds between 0 and {MAX_CLIP_S:g}")
    if which == "gameplay":
        capture, error = session.gameplay()
        source, offset = (capture["path"], capture["offset_s"]) if capture else (None, 0.0)
        error = error or "no gameplay capture is attached to this session"
    else:
        (source, error), offset = session.recording(), 0.0
    if source is None:
        return _error(404, error)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "clip.webm"
        start = time_s + offset - seconds / 2
        frames = await asyncio.get_running_loop().run_in_executor(None, write_clip, source, start, start + seconds, out)
        if not frames:
            return _error(404, f"no frame around {time_s:g} s in {source.name}")
        body = out.read_bytes()
    name = clip_name({"session": session.id, "time_s": time_s, "emotion": "clip"}, which)
    return web.Response(body=body, content_type="video/webm",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def gameplay_save(request: web.Request) -> web.Response:
    """Saves the offset of the session's attached gameplay capture (``{"offset_s": seconds}``), so that the next
    visit, `fer report` and `fer clips` use it; the capture itself is attached by `fer analyze --gameplay`."""
    session, body = _session(request), await _body(request)
    capture, error = session.gameplay()
    if capture is None:
        return _error(404, error or "no gameplay capture is attached to this session (fer analyze --gameplay)")
    offset = body.get("offset_s")
    if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not math.isfinite(offset):
        return _error(400, "offset_s must be a finite number of seconds")
    attach_gameplay(session.folder, capture["path"], float(offset))
    return _json({"offset_s": float(offset)})


async def _body(request: web.Request) -> dict:
    try:
        body = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # ValueError: JSON, and a 5,000-digit integer
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error).split(":")[0]
        raise web.HTTPBadRequest(text=json.dumps({"error": f"the body must be JSON ({reason})"}),
                                 content_type="application/json")
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json")
    return body


async def annotations_get(request: web.Request) -> web.Response:
    annotations, error = _annotations(_session(request))
    return _json({"annotations": annotations, "error": error}, 500 if error else 200)


async def annotations_add(request: web.Request) -> web.Response:
    session = _session(request)
    try:
        return _json(add_annotation(annotations_path(session.folder), session.id, await _body(request)), 201)
    except AnnotationsError as error:
        return _error(400, str(error))


async def annotations_edit(request: web.Request) -> web.Response:
    session, body = _session(request), await _body(request)
    path, annotation_id = annotations_path(session.folder), request.match_info["annotation"]
    try:
        if request.method == "DELETE":
            delete_annotation(path, session.id, annotation_id, int(body.get("revision", -1)))
            return _json({"deleted": annotation_id})
        return _json(edit_annotation(path, session.id, annotation_id, int(body.get("revision", -1)), body))
    except Conflict as conflict:
        return _error(409, str(conflict), current=conflict.current)
    except (AnnotationsError, TypeError, ValueError) as error:
        return _error(400, str(error))


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events of a live session: ``rows`` (new lanes data, and the offset after them) as they are
    appended, then ``done`` once the analysis has ended (the session then reads as a finished one)."""
    session = _session(request)
    frames_csv = session.live_folder / "frames.csv"
    try:
        offset = int(request.query.get("offset", "0") or 0)
    except ValueError:
        return _error(400, "offset must be a whole number of bytes")
    if offset < 0:
        return _error(400, "offset must be a whole number of bytes")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    circumplex = (session.live or {}).get("circumplex", {})
    while True:
        try:
            rows, offset = read_live_rows(frames_csv, offset)
        except FileNotFoundError:
            await response.write(b"event: done\ndata: {}\n\n")
            return response
        if len(rows):
            payload = json.dumps({"offset": offset, "lanes": live_lanes(rows, circumplex)}, default=str)
            await response.write(f"event: rows\ndata: {payload}\n\n".encode())
        await asyncio.sleep(LIVE_POLL_S)


async def report_data(request: web.Request) -> web.Response:
    catalog = request.app[CATALOG]
    report = catalog.reports().get(f"{request.query.get('kind')}:{request.query.get('id')}")
    if report is None:
        return _error(404, f"no {request.query.get('kind')} {request.query.get('id')!r}")
    sessions = [{"id": s.id, "build": (s.summary or {}).get("build"),
                 "segments": [{"segment": seg["segment"], "start_s": seg["start_s"]}
                              for seg in (s.summary or {}).get("segments", [])]}
                for s in catalog.sessions().values() if s.summary]
    return _json({"kind": report.kind, "id": report.id, "content": report.content, "error": report.error,
                  "sessions": sessions})


def make_app(roots: list[Path], token: str | None = None, loopback_only: bool = True) -> web.Application:
    """The dashboard over ``roots``; ``loopback_only``: it listens on loopback, so every Host must name it."""
    app = web.Application(middlewares=[same_site_only, token_check])
    app[CATALOG], app[TOKEN], app[LOOPBACK_ONLY] = Catalog(roots), token or "", loopback_only
    static_files = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    app.router.add_get("/", page)
    for prefix in ("session", "aggregate", "comparison"):
        app.router.add_get(f"/{prefix}/{{id:.+}}", page)
    app.router.add_get("/static/{name}", static_handler(static_files))
    app.router.add_get("/api/list", list_everything)
    app.router.add_get("/api/session", session_data)
    app.router.add_get("/api/video", video)
    app.router.add_get("/api/frame", frame)
    app.router.add_get("/api/clip", clip)
    app.router.add_put("/api/gameplay", gameplay_save)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/report", report_data)
    app.router.add_get("/api/annotations", annotations_get)
    app.router.add_post("/api/annotations", annotations_add)
    app.router.add_put("/api/annotations/{annotation}", annotations_edit)
    app.router.add_delete("/api/annotations/{annotation}", annotations_edit)
    return app


def serve(roots: list[Path], options: DashboardOptions) -> None:
    """Serves until interrupted; prints the address once it listens (the port chosen, for --port 0)."""
    options.check()

    async def run() -> None:
        runner = web.AppRunner(make_app(roots, options.token, is_loopback(options.host)), shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = runner.addresses[0][1]
        host = f"[{options.host}]" if ":" in options.host else options.host
        print(f"fer dashboard: http://{host}:{port}/ ({len(Catalog(roots).sessions())} sessions)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
