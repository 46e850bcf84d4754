"""An ensemble: networks trained alike but apart (each its own seed, some their own augmentation) whose
averaged probabilities read faces better than any one of them (docs/training.md)."""
from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from fer.contract import INPUT_SHAPE


def member_params(train: dict, overrides: dict) -> dict:
    """train's params with a member's ``overrides`` laid over them, nested sections key by key."""
    unknown = set(overrides) - set(train)
    if unknown:
        raise ValueError(f"ensemble member overrides {sorted(unknown)}, which train's params do not have")
    merged = dict(train)
    for key, value in overrides.items():
        merged[key] = member_params(train[key], value) if isinstance(value, dict) else value
    return merged


def averaged(members: dict[str, keras.Model]) -> keras.Model:
    """One model whose probabilities are the mean of the members' (raw pixels in, as each member takes);
    a single member is returned as it is."""
    if len(members) == 1:
        return next(iter(members.values()))
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    # each member in a container of its own name: the members' networks share names inside
    outputs = [keras.Sequential([model], name=f"member_{name}")(inputs) for name, model in members.items()]
    return keras.Model(inputs, layers.Average(name="probabilities")(outputs), name="ensemble")


def load_networks(model: Path, members_dir: Path, names: list[str]) -> keras.Model:
    """The average of the networks ``names``: ``train`` (train's network, at ``model``) and members of
    ensemble.members (``members_dir/NAME/fer.keras``, as the member stages write them)."""
    paths = {name: model if name == "train" else members_dir / name / "fer.keras" for name in names}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing or not names:
        raise ValueError(f"networks {missing or names}: each must be train or a trained member of ensemble.members"
                         f" (in {members_dir})")
    return averaged({name: keras.models.load_model(path) for name, path in paths.items()})
