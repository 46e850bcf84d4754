"""`fer ...` as a new process that, at exit, writes which heavy packages it imported: for the tests that commands
needing no network never import TensorFlow, and for bench/startup.py."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HEAVY = ("tensorflow", "keras", "ray")
RUNNER = f"""
import atexit, json, os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C ends it even when started in the background
atexit.register(lambda: open(os.environ["FER_MODULES"], "w").write(json.dumps(
    sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r})))))
sys.argv = ["fer", *sys.argv[1:]]
runpy.run_module("fer.cli", run_name="__main__")
"""


def probed(arguments: list, modules: Path) -> tuple[list[str], dict]:
    """The command line and environment of `fer <arguments>` that writes its heavy imports to ``modules``."""
    return [sys.executable, "-c", RUNNER, *map(str, arguments)], {**os.environ, "FER_MODULES": str(modules)}


def imported(modules: Path) -> list[str]:
    """The heavy packages the probed command imported (written when it exited)."""
    return json.loads(modules.read_text())
