"""Importing TensorFlow quietly, once: its C++ start-up lines (oneDNN, CUDA, cuInit) and Python warnings are left
out unless asked for. Used by the CLI and by the Ray workers of fer.playtest.distributed; imports nothing heavy
itself, so that commands which need no network never load TensorFlow.
"""
from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile

log = logging.getLogger(__name__)

QUIET_TF_LOG_LEVEL = "3"  # TensorFlow's C++ logging: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR
_ABSL_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+\s+\d+ [^\]\s]+:\d+\] ")  # I0000 00:00:1796.5  42 port.cc:153]
_ABSL_PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def quiet_tensorflow(verbose: bool) -> None:
    """Unless ``verbose``, TensorFlow's C++ logging down to fatal errors (if TF_CPP_MIN_LOG_LEVEL is not set
    already) and its Python and absl loggers down to errors. Must run before TensorFlow is imported."""
    if verbose:
        return
    if "tensorflow" in sys.modules:
        log.debug("TensorFlow was imported before its logging could be lowered")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_startup_lines(text: str, min_level: int) -> str:
    """``text`` without the C++ log lines below ``min_level`` (0 INFO .. 3 FATAL) and their continuation
    lines: TensorFlow writes some (oneDNN, cudart_stub) while loading, before it applies TF_CPP_MIN_LOG_LEVEL."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        header = _ABSL_LINE.match(line)
        if header:
            dropping = "IWEF".index(header.group(1)) < min_level
        elif line.startswith(_ABSL_PRE_INIT):  # absl's own notice, a line of its own
            dropping = False
            if min_level > 0:
                continue
        if not dropping:
            kept.append(line)
    return "".join(kept)


def import_tensorflow(verbose: bool) -> None:
    """Imports TensorFlow; unless ``verbose``, quietly (``quiet_tensorflow``), and the messages it writes to
    stderr while loading are filtered as TF_CPP_MIN_LOG_LEVEL says (anything else it writes, and everything if
    the import fails, is kept)."""
    if verbose:
        importlib.import_module("tensorflow")
        return
    if "tensorflow" in sys.modules:
        _lower_absl_logging()
        return
    quiet_tensorflow(verbose)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            importlib.import_module("tensorflow")
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            sys.stderr.write(text if failed else filter_startup_lines(text, _min_log_level()))
            sys.stderr.flush()
    _lower_absl_logging()


def _lower_absl_logging() -> None:
    import absl.logging  # TensorFlow's and Keras's Python warnings go through absl
    absl.logging.set_verbosity(absl.logging.ERROR)
