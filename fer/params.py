"""params.yaml, the one place where every knob of the pipeline lives, and the stages' command lines."""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def load_params(path: str | Path = "params.yaml") -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def stage_paths(argv: list[str] | None, description: str, *names: str,
                options: dict[str, str] | None = None) -> argparse.Namespace:
    """The paths that dvc.yaml's ``cmd`` line gives a stage, by name, each as a Path; and each of
    ``options`` (name: default) as ``--name VALUE``, where one stage's code serves two dvc.yaml stages."""
    parser = argparse.ArgumentParser(description=description)
    for name in names:
        parser.add_argument(name, type=Path)
    for name, default in (options or {}).items():
        parser.add_argument(f"--{name}", default=default)
    return parser.parse_args(argv)
