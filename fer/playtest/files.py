"""Files shared by runs and users: written whole or not at all (a crash or Ctrl-C mid-write leaves the previous
version in place), with the modes the umask gives, under locks that a crashed holder never keeps."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()  # read once: os.umask can only be read by setting it


def with_umask(path: Path, directory: bool = False) -> Path:
    """Gives ``path`` the mode a plain mkdir or open would have (0777 or 0666 less the umask), where tempfile
    made it private (0700, 0600): results are shared as the user's other files are."""
    os.chmod(path, (0o777 if directory else 0o666) & ~UMASK)
    return path


def write_json(path: Path, content: dict) -> None:
    """Writes ``content`` as indented JSON to ``path`` through a temporary file beside it and ``os.replace``."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with_umask(Path(temporary))
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(content, indent=2) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path, waiting: str | None = None) -> Iterator[None]:
    """Holds an exclusive flock on ``path`` (created if need be); the kernel releases it when the holder ends,
    however it ends, so a crashed run never holds it. ``waiting``: said once if another holder makes us wait."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                log.warning(waiting)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


SEPARATORS = ",;\t"


def spreadsheet_text(path: Path) -> str:
    """A text file as spreadsheets save it: UTF-8 (with or without a byte-order mark) or UTF-16 ("Unicode text",
    with its byte-order mark). UnicodeError naming the file where it is neither."""
    raw = Path(path).read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnicodeError(f"{path}: not text in UTF-8 or UTF-16 (byte {error.start} is {raw[error.start]:#04x})") from None


def separator_of(header: str) -> str:
    """The column separator a spreadsheet used: whichever of comma, semicolon and tab the header has most of."""
    return max(SEPARATORS, key=header.count)
