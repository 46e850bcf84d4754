"""Test-time augmentation: the trained model as evaluated and served, averaging its predictions over
several views of each face."""
from __future__ import annotations

import math
from pathlib import Path

import keras
from keras import layers

from fer.contract import INPUT_SHAPE
from fer.learn.ensemble import load_networks


class HorizontalFlip(layers.Layer):
    """Mirrors images left to right (the width axis of [N, H, W, C])."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)


class Rotate(layers.Layer):
    """Turns images ``degrees`` counterclockwise about their centre with bilinear interpolation, repeating
    the edge pixels into the corners (as the training augmentation's ``fill_mode="nearest"`` does)."""

    def __init__(self, degrees: float, **kwargs):
        super().__init__(**kwargs)
        self.degrees = degrees

    def call(self, images):
        angle = math.radians(self.degrees)
        cos, sin = math.cos(angle), math.sin(angle)
        cy, cx = (images.shape[1] - 1) / 2, (images.shape[2] - 1) / 2
        # for each output pixel (x, y), the input point it samples
        transform = [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0]
        return keras.ops.image.affine_transform(images, keras.ops.convert_to_tensor(transform, images.dtype),
                                                interpolation="bilinear", fill_mode="nearest")

    def get_config(self) -> dict:
        return {**super().get_config(), "degrees": self.degrees}


def inference_model(model: keras.Model, tta_flip: bool, tta_rotation: float = 0) -> keras.Model:
    """The model as evaluated and served: optionally the average over views of each face, namely its
    mirror image (``tta_flip``) and, instead of the face itself, copies turned ``tta_rotation`` degrees
    either way. Resampled copies look like training faces, which the augmentation always resamples:
    the face as it comes is sharper than any of them."""
    if not (tta_flip or tta_rotation):
        return model
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    views = []
    for degrees in ([tta_rotation, -tta_rotation] if tta_rotation else [0]):
        turned = Rotate(degrees)(inputs) if degrees else inputs
        views.append(model(turned))
        if tta_flip:
            views.append(model(HorizontalFlip()(turned)))
    outputs = layers.Average(name="probabilities")(views)
    return keras.Model(inputs, outputs, name=f"{model.name}_tta")


def load_views_model(model: Path, members_dir: Path, views: dict) -> keras.Model:
    """The model a views section of params describes (``evaluate``: fer_model; ``fast``: fer_fast): the
    average of its ``networks`` (train's, at ``model``, and members in ``members_dir``) over its test-time
    views."""
    networks = load_networks(model, members_dir, views["networks"])
    return inference_model(networks, views["tta_flip"], views["tta_rotation"])
