"""An ensemble: networks trained alike but apart (each its own seed, some their own augmentation) whose
averaged probabilities read faces better than any one of them (docs/training.md)."""
from __future__ import annotations


def member_params(train: dict, overrides: dict) -> dict:
    """train's params with a member's ``overrides`` laid over them, nested sections key by key."""
    unknown = set(overrides) - set(train)
    if unknown:
        raise ValueError(f"ensemble member overrides {sorted(unknown)}, which train's params do not have")
    merged = dict(train)
    for key, value in overrides.items():
        merged[key] = member_params(train[key], value) if isinstance(value, dict) else value
    return merged
