"""Test-time augmentation: the trained model as evaluated and served, averaging its predictions over
several views of each face."""
from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
from keras import layers

from fer.contract import INPUT_SHAPE
from fer.learn.ensemble import load_networks


class HorizontalFlip(layers.Layer):
    """Mirrors images left to right (the width axis of [N, H, W, C])."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)


class Rotate(layers.Layer):
    """Turns images ``degrees`` counterclockwise about their centre with bilinear interpolation, repeating
    the edge pixels into the corners (as the training augmentation's ``fill_mode="nearest"`` does).

    The same sampling as ``keras.ops.image.affine_transform`` (within float32 rounding), written as four
    gathers of fixed pixels with fixed weights: operations that TensorFlow Lite's int8 converter takes."""

    def __init__(self, degrees: float, **kwargs):
        super().__init__(**kwargs)
        self.degrees = degrees

    def call(self, images):
        height, width, channels = images.shape[1:]
        sources, weights = rotation_sampling(self.degrees, height, width)
        flat = keras.ops.reshape(images, (-1, height * width, channels))
        turned = sum(keras.ops.take(flat, source, axis=1) * keras.ops.cast(weight[None, :, None], images.dtype)
                     for source, weight in zip(sources, weights))
        return keras.ops.reshape(turned, (-1, height, width, channels))

    def get_config(self) -> dict:
        return {**super().get_config(), "degrees": self.degrees}


def rotation_sampling(degrees: float, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """For each output pixel of an image turned ``degrees`` about its centre, the four input pixels (flat
    indices, [4, height * width]) that bilinear interpolation blends and their weights; the point sampled
    is clamped to the image first, which repeats the edge pixels."""
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    x = np.clip(cos * columns - sin * rows + cx - cos * cx + sin * cy, 0, width - 1)
    y = np.clip(sin * columns + cos * rows + cy - sin * cx - cos * cy, 0, height - 1)
    x0, y0 = np.floor(x), np.floor(y)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    wx, wy = x - x0, y - y0
    sources = np.stack([y0 * width + x0, y0 * width + x1, y1 * width + x0, y1 * width + x1]).astype(np.int32)
    weights = np.stack([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx]).astype(np.float32)
    return sources.reshape(4, -1), weights.reshape(4, -1)


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
