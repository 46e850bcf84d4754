"""Named sets of params overrides (profiles/<name>.yaml), turned into `dvc exp run -S` flags.

    dvc exp run -n gpu $(python -m fer.learn.profiles gpu)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def load_profile(name: str) -> dict:
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise SystemExit(f"no profile {name!r} in {PROFILES}; known profiles: {known}")
    return yaml.safe_load(path.read_text())


def flatten(overrides: dict, prefix: str = "") -> dict[str, object]:
    """{"train": {"epochs": 200}} -> {"train.epochs": 200}; lists stay whole."""
    flat = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def apply_profile(params: dict, overrides: dict) -> dict:
    """params.yaml with the profile's values set, as `dvc exp run -S` would set them."""
    merged = json.loads(json.dumps(params))
    for dotted, value in flatten(overrides).items():
        *parents, leaf = dotted.split(".")
        target = merged
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    return merged


def set_flags(overrides: dict) -> list[str]:
    """`-S key=value` pairs without spaces, so that a shell's $(...) passes them through intact."""
    flags = []
    for key, value in flatten(overrides).items():
        flags += ["-S", f"{key}={json.dumps(value, separators=(',', ':'))}"]
    return flags


if __name__ == "__main__":
    print(" ".join(set_flags(load_profile(sys.argv[1] if len(sys.argv) > 1 else "gpu"))))
