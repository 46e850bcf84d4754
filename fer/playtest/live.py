"""A session while it is analysed (``fer analyze --live``): its rows, appended as they are classified.

``<results>/.live/<session folder>/`` holds ``live.json`` (the session's name, recording, build, circumplex)
and ``frames.csv``, the rows of frames.csv so far, each line written and flushed as its batch is classified.
``fer dashboard`` shows the session from these files and streams new lines to the page; when the analysis
ends (finished, failed or interrupted) the folder is removed, after the finished session's folder is in place.
The folder is hidden, so ``fer aggregate`` never reads it.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from fer.playtest.analytics import CIRCUMPLEX, FRAME_COLUMNS

LIVE_FOLDER = ".live"


def live_dir(out_dir: Path) -> Path:
    return out_dir.parent / LIVE_FOLDER / out_dir.name


def start_live(out_dir: Path, session: str, source: str | Path, build: str | None, sample_fps: float) -> LiveSession:
    """The live files of the session that will be written to ``out_dir``."""
    return LiveSession(live_dir(out_dir), {"session": session, "source": str(source), "build": build,
                                           "sample_fps": sample_fps, "circumplex": CIRCUMPLEX})


class LiveSession:
    """Appends rows to ``<folder>/frames.csv`` as they come; ``close()`` removes the folder."""

    def __init__(self, folder: Path, description: dict):
        shutil.rmtree(folder, ignore_errors=True)  # left by a run that was killed
        folder.mkdir(parents=True)
        self.folder = folder
        self.columns = FRAME_COLUMNS
        self._file = open(folder / "frames.csv", "w", newline="")
        self._writer = csv.DictWriter(self._file, self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._file.flush()
        (folder / "live.json").write_text(json.dumps(description, indent=2) + "\n")

    def append(self, row: dict) -> None:
        self._writer.writerow({k: (f"{v:.5f}" if isinstance(v, float) else v) for k, v in row.items()})
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        shutil.rmtree(self.folder, ignore_errors=True)
