"""The gameplay capture of a session, attached once: ``<session>.gameplay.json`` beside the session's folder (as
its annotations are), holding the capture's path and its offset (gameplay time = recording time + offset).

`fer analyze --gameplay FILE --gameplay-offset S` writes it, or finds ``<name>.gameplay.<ext>`` beside a recording;
the dashboard plays it beside the face-cam, `fer report` and `fer clips` take stills and clips from it.
"""
from __future__ import annotations

import json
from pathlib import Path

from fer.playtest.files import write_json

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")


class GameplayError(ValueError):
    """A gameplay file that cannot be read; the message names it."""


def gameplay_path(session_dir: Path) -> Path:
    return session_dir.with_name(session_dir.name + ".gameplay.json")


def gameplay_beside(recording: Path) -> Path | None:
    """``<name>.gameplay.<video suffix>`` next to a recording, if there is one."""
    for suffix in VIDEO_SUFFIXES:
        candidate = recording.with_name(recording.stem + ".gameplay" + suffix)
        if candidate.is_file():
            return candidate
    return None


def read_gameplay(session_dir: Path) -> dict | None:
    """{"source": absolute path, "offset_s": seconds}, or None where none is attached."""
    path = gameplay_path(session_dir)
    try:
        content = json.loads(path.read_text())
        return {"source": str(content["source"]), "offset_s": float(content.get("offset_s", 0.0))}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GameplayError(f"{path}: not a gameplay file ({type(error).__name__}: {error})") from None


def attach_gameplay(session_dir: Path, capture: Path, offset_s: float = 0.0) -> None:
    if not capture.is_file():
        raise GameplayError(f"{capture}: no such gameplay capture")
    session_dir.parent.mkdir(parents=True, exist_ok=True)
    write_json(gameplay_path(session_dir), {"source": str(capture.resolve()), "offset_s": float(offset_s)})
