"""Researchers' markers and notes on a session, in ``<results>/<session folder>.annotations.json``.

The file sits beside the session's folder, not in it, because re-analysing a recording replaces the whole
folder. Its content::

    {"format": "fer-annotations/1", "session": "tester1",
     "annotations": [{"id": "3f2a9c0d1b7e", "time_s": 12.5, "end_s": null, "kind": "marker", "text": "boss intro",
                      "player": null, "revision": 1, "created": "2026-12-02T10:00:00Z", "updated": "..."}]}

Every change is one operation (add, edit or delete one annotation by id) applied to the file as it is on disk
at that moment, under an exclusive lock, and written to a temporary file that then replaces the old one
(``os.replace``): two browser tabs adding markers at once both keep theirs, and an edit or deletion made
from an older revision of an annotation is refused with Conflict instead of silently undoing the other's.
"""
from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from fer.playtest.files import locked, write_json

FORMAT = "fer-annotations/1"
KINDS = ("marker", "note")
MAX_TEXT = 2000


class AnnotationsError(ValueError):
    """An unreadable annotations file or a bad annotation; the message says which."""


class Conflict(AnnotationsError):
    """The annotation changed since the revision the edit was based on; ``current`` is it now (None: deleted)."""

    def __init__(self, message: str, current: dict | None):
        super().__init__(message)
        self.current = current


def annotations_path(session_dir: Path) -> Path:
    return session_dir.with_name(session_dir.name + ".annotations.json")


def read_annotations(path: Path) -> list[dict]:
    """The annotations in time order; none if the file does not exist; AnnotationsError if it is corrupt."""
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationsError(f"{path}: not a readable annotations file: {error}") from None
    if not isinstance(content, dict) or not isinstance(content.get("annotations"), list):
        raise AnnotationsError(f"{path}: not a {FORMAT} file (no annotations list)")
    return sorted(content["annotations"], key=lambda a: a.get("time_s", 0))


def checked(fields: dict) -> dict:
    """The editable fields of an annotation, validated: time_s, end_s, kind, text, player."""
    try:
        time_s = float(fields["time_s"])
        end_s = None if fields.get("end_s") in (None, "") else float(fields["end_s"])
        player = None if fields.get("player") in (None, "") else int(fields["player"])
    except KeyError:
        raise AnnotationsError("an annotation needs time_s") from None
    except (TypeError, ValueError) as error:
        raise AnnotationsError(f"bad annotation field: {error}") from None
    kind, text = fields.get("kind", "marker"), fields.get("text", "")
    if not math.isfinite(time_s) or time_s < 0 or (end_s is not None and not (math.isfinite(end_s) and end_s >= time_s)):
        raise AnnotationsError("time_s must be a finite number >= 0, and end_s (if given) >= time_s")
    if kind not in KINDS or not isinstance(text, str) or len(text) > MAX_TEXT:
        raise AnnotationsError(f"kind must be one of {KINDS} and text a string of at most {MAX_TEXT} characters")
    return {"time_s": round(time_s, 3), "end_s": None if end_s is None else round(end_s, 3), "kind": kind,
            "text": text, "player": player}


def add_annotation(path: Path, session: str, fields: dict) -> dict:
    now = _now()
    annotation = {"id": uuid.uuid4().hex[:12], **checked(fields), "revision": 1, "created": now, "updated": now}
    return _change(path, session, lambda annotations: annotations.append(annotation) or annotation)


def edit_annotation(path: Path, session: str, annotation_id: str, revision: int, fields: dict) -> dict:
    """The annotation with ``fields`` changed, if it is still at ``revision``; Conflict otherwise."""
    new_fields = checked(fields)

    def edit(annotations: list[dict]) -> dict:
        annotation = _current(annotations, annotation_id, revision)
        annotation.update(new_fields, revision=annotation["revision"] + 1, updated=_now())
        return annotation

    return _change(path, session, edit)


def delete_annotation(path: Path, session: str, annotation_id: str, revision: int) -> None:
    _change(path, session, lambda annotations: annotations.remove(_current(annotations, annotation_id, revision)))


def _current(annotations: list[dict], annotation_id: str, revision: int) -> dict:
    found = next((a for a in annotations if a.get("id") == annotation_id), None)
    if found is None or found.get("revision") != revision:
        what = "was deleted" if found is None else f"is at revision {found.get('revision')}, not {revision}"
        raise Conflict(f"annotation {annotation_id} {what}: reload to see the other change", found)
    return found


def _change(path: Path, session: str, change: Callable[[list[dict]], object]):
    """Applies ``change`` to the annotations on disk, under the lock, and writes them back atomically."""
    with _locked(path):
        annotations = read_annotations(path)
        result = change(annotations)
        write_json(path, {"format": FORMAT, "session": session,
                                 "annotations": sorted(annotations, key=lambda a: a["time_s"])})
    return result


def _locked(path: Path):
    """An exclusive lock on a hidden sibling file, held by one writer at a time (processes and threads)."""
    return locked(path.with_name(f".{path.name}.lock"))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
