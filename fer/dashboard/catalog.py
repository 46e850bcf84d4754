"""What the result folders given to `fer dashboard` hold, found afresh on each look (sessions come and go).

A session is a folder with a summary.json (a corrupt one is still listed, with its error), or a live session's
``.live/<name>/live.json`` (fer.playtest.live). Its id is the summary's ``session`` (the name `fer analyze`
gave it, as in ``/session/<name>``), made unique with ``~2``, ``~3`` when two folders share one. Files are only
ever found here, from the folders given; nothing the browser sends becomes a path.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fer.playtest.gameplay import GameplayError, read_gameplay
from fer.playtest.live import LIVE_FOLDER

VIDEO_TYPES = {".webm": "video/webm", ".mp4": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/x-matroska",
               ".mov": "video/quicktime", ".avi": "video/x-msvideo", ".ogv": "video/ogg"}


@dataclass
class Session:
    id: str
    folder: Path  # <results>/<name>: where summary.json is, or will be once a live analysis ends
    root: Path
    summary: dict | None = None
    live: dict | None = None  # live.json, while the session is being analysed
    errors: list[str] = field(default_factory=list)

    @property
    def live_folder(self) -> Path:
        return self.folder.parent / LIVE_FOLDER / self.folder.name

    @property
    def description(self) -> dict:
        return self.summary or self.live or {}

    def recording(self) -> tuple[Path | None, str | None]:
        """The recording its summary names, and why there is none (a camera, or a file not found)."""
        source = self.description.get("source")
        if not source:
            return None, "the summary names no recording"
        if str(source).isdigit():
            return None, f"a camera session (camera {source}): no recording was kept"
        path = Path(source)
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, self.root / path, self.root.parent / path]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            return None, f"the recording {source} is missing (looked in {', '.join(map(str, candidates))})"
        return found.resolve(), None

    def gameplay(self) -> tuple[dict | None, str | None]:
        """The attached gameplay capture ({"path", "offset_s"}, fer.playtest.gameplay) and why there is none."""
        try:
            attached = read_gameplay(self.folder)
        except GameplayError as error:
            return None, str(error)
        if attached is None:
            return None, None
        path = Path(attached["source"])
        if not path.is_file():
            return None, f"the gameplay capture {path} is missing"
        return {"path": path, "offset_s": attached["offset_s"]}, None

    def listing(self) -> dict:
        """One row of the sessions list."""
        about = self.description
        return {"id": self.id, "build": about.get("build"), "recording": about.get("source"),
                "duration_s": about.get("duration_s"), "players": about.get("players"),
                "face_visible_ratio": about.get("face_visible_ratio"), "warnings": about.get("warnings", []),
                "live": self.live is not None, "errors": self.errors}


@dataclass
class Report:
    """An aggregate.json or comparison.json; ``id`` is its folder relative to the folder given."""
    id: str
    kind: str  # "aggregate" or "comparison"
    path: Path
    content: dict | None = None
    error: str | None = None


def _visible_files(root: Path, name: str) -> list[Path]:
    if root.is_file():
        return [root] if root.name == name else []
    return sorted(f for f in root.rglob(name) if not any(p.startswith(".") for p in f.relative_to(root).parts))


def _read_json(path: Path) -> tuple[dict | None, str | None]:
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{path}: not a readable JSON file: {error}"
    if not isinstance(content, dict):
        return None, f"{path}: not a JSON object"
    return content, None


def _unique(name: str, taken) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}~{number}"
    return candidate


class Catalog:
    def __init__(self, roots: list[Path]):
        self.roots = [Path(os.path.abspath(root)) for root in roots]

    def sessions(self) -> dict[str, Session]:
        found: dict[str, Session] = {}
        by_folder: dict[Path, Session] = {}
        for root in self.roots:
            for file in _visible_files(root, "summary.json"):
                summary, error = _read_json(file)
                if summary is not None and not isinstance(summary.get("per_player"), dict):
                    summary, error = None, f"{file}: not a session summary (no per_player)"
                folder = file.parent
                name = summary.get("session") if summary and isinstance(summary.get("session"), str) else None
                name = name or (folder.relative_to(root).as_posix() if folder != root else folder.name)
                session = Session(_unique(name, found), folder, root, summary, errors=[error] if error else [])
                found[session.id] = by_folder[folder] = session
            for file in self._live_files(root):
                live, error = _read_json(file)
                folder = file.parent.parent.parent / file.parent.name
                session = by_folder.get(folder)
                if session is None:
                    name = (live or {}).get("session") or file.parent.name
                    session = Session(_unique(str(name), found), folder, root)
                    found[session.id] = by_folder[folder] = session
                session.live = live or {}
                if error:
                    session.errors.append(error)
        return found

    @staticmethod
    def _live_files(root: Path) -> list[Path]:
        if root.is_file():
            return []
        return sorted(f for f in root.rglob("live.json") if f.parent.parent.name == LIVE_FOLDER)

    def reports(self) -> dict[str, Report]:
        """aggregate.json and comparison.json files, keyed ``<kind>:<id>``."""
        found: dict[str, Report] = {}
        for root in self.roots:
            for kind, name in (("aggregate", "aggregate.json"), ("comparison", "comparison.json")):
                for file in _visible_files(root, name):
                    where = file.parent if root.is_file() else file.parent.relative_to(root)
                    taken = {key.split(":", 1)[1] for key in found if key.startswith(kind + ":")}
                    report_id = _unique(where.as_posix() if str(where) != "." else root.name, taken)
                    content, error = _read_json(file)
                    found[f"{kind}:{report_id}"] = Report(report_id, kind, file, content, error)
        return found
