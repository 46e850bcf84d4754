"""Files written whole or not at all: a crash or Ctrl-C mid-write leaves the previous version in place."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json(path: Path, content: dict) -> None:
    """Writes ``content`` as indented JSON to ``path`` through a temporary file beside it and ``os.replace``."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(content, indent=2) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
