"""Reading params.yaml, the one place where every knob of the pipeline lives."""
from __future__ import annotations

from pathlib import Path

import yaml


def load_params(path: str | Path = "params.yaml") -> dict:
    with open(path) as f:
        return yaml.safe_load(f)
