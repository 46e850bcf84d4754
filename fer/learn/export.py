"""Export: a SavedModel in TensorFlow Serving's layout, checked against the Keras model it came from.

serving/models/<name>/<version>/ holds the SavedModel; its ``serving_default`` signature takes
float32 ``pixels`` [N, 48, 48, 1] (raw grey levels 0..255) and returns ``probabilities`` [N, 7]
in the order of CLASS_NAMES, which is written to assets.extra/class_names.txt beside it.

The SavedModel computes what the Keras model computes with each BatchNormalization folded into the
convolution before it (fold_batch_norms): the same function in fewer operations.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fer.contract import CLASS_NAMES, INPUT_NAME, INPUT_SHAPE, OUTPUT_NAME, SIGNATURE


class ExportMismatch(RuntimeError):
    pass


class FoldedBatchNorm(layers.Layer):
    """Where a BatchNormalization was before it was folded into the convolution that feeds it: passes its
    input on (TensorFlow drops it from the graph)."""

    def call(self, inputs, **kwargs):
        return inputs


def foldable_batch_norms(model: keras.Model) -> dict[int, tuple[layers.Conv2D, layers.BatchNormalization]]:
    """The model's bias-free convolutions whose one consumer is a BatchNormalization, with it, by the
    convolution's id."""
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        parents = layer._inbound_nodes[0].parent_nodes
        source = parents[0].operation if len(parents) == 1 else None
        if (isinstance(source, layers.Conv2D) and not source.use_bias and source.data_format == "channels_last"
                and layer.axis in (-1, 3) and len(source._inbound_nodes) == 1 and len(source._outbound_nodes) == 1):
            pairs[id(source)] = (source, layer)
    return pairs


def fold_batch_norms(model: keras.Model) -> keras.Model:
    """The same function with every BatchNormalization that follows a bias-free convolution folded into it
    (kernel times gamma / sqrt(variance + epsilon), bias beta - mean times that), in nested models too.

    At inference a BatchNormalization is a multiplication and an addition over the whole activation,
    which TensorFlow's oneDNN cannot fuse into the convolution; folded, convolution, bias and ReLU run
    as one fused kernel: about twice the faces per second in bfloat16 here (README: Results)."""
    pairs = foldable_batch_norms(model)
    folded_norms = {id(norm) for _, norm in pairs.values()}
    clones: dict[int, layers.Layer] = {}

    def clone(layer: layers.Layer) -> layers.Layer:
        if id(layer) not in clones:  # a layer called several times (a nested model, one per view) stays one
            if isinstance(layer, keras.Model):
                clones[id(layer)] = fold_batch_norms(layer)
            elif id(layer) in pairs:
                clones[id(layer)] = layers.Conv2D.from_config({**layer.get_config(), "use_bias": True})
            elif id(layer) in folded_norms:
                clones[id(layer)] = FoldedBatchNorm(name=layer.name)
            else:
                clones[id(layer)] = layer.__class__.from_config(layer.get_config())
        return clones[id(layer)]

    folded = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        target = clones.get(id(layer))
        if id(layer) in pairs:
            norm = pairs[id(layer)][1]
            mean, variance = np.asarray(norm.moving_mean, np.float64), np.asarray(norm.moving_variance, np.float64)
            gamma = np.asarray(norm.gamma, np.float64) if norm.scale else np.ones_like(mean)
            beta = np.asarray(norm.beta, np.float64) if norm.center else np.zeros_like(mean)
            scale = gamma / np.sqrt(variance + norm.epsilon)
            target.set_weights([np.asarray(layer.kernel, np.float64) * scale, beta - mean * scale])
        elif layer.weights and not (id(layer) in folded_norms or isinstance(layer, keras.Model)):
            target.set_weights(layer.get_weights())
    return folded


def write_savedmodel(model: keras.Model, version_dir: Path) -> None:
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE,
        fn=lambda pixels: {OUTPUT_NAME: model(pixels, training=False)},
        input_signature=[tf.TensorSpec((None, *INPUT_SHAPE), tf.float32, name=INPUT_NAME)],
    )
    # Keras would store every weight twice (keras-team/keras#23553): in the collections track() fills, as
    # keras.Variable wrappers, and as the tf.Variables the endpoint captures; the endpoint needs only those.
    for collection in ("variables", "trainable_variables", "non_trainable_variables"):
        setattr(archive._tf_trackable, collection, [])
    if version_dir.exists():
        shutil.rmtree(version_dir)
    archive.write_out(str(version_dir), verbose=False)
    extra = version_dir / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / "class_names.txt").write_text("\n".join(CLASS_NAMES) + "\n")


def load_signature(version_dir: Path):
    return tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]


def check_savedmodel(model: keras.Model, version_dir: Path, images: np.ndarray, tolerance: float = 1e-5) -> float:
    """Reloads the SavedModel with TensorFlow and compares its output with the Keras model's.

    Returns the largest absolute difference; raises ExportMismatch above ``tolerance``.
    """
    pixels = images.reshape(-1, *INPUT_SHAPE).astype(np.float32)
    served = load_signature(version_dir)(pixels=tf.constant(pixels))[OUTPUT_NAME].numpy()
    expected = model.predict(pixels, verbose=0)
    difference = float(np.abs(served - expected).max())
    if difference > tolerance:
        raise ExportMismatch(f"{version_dir}: SavedModel differs from the Keras model by {difference:.2e}"
                             f" (tolerance {tolerance:.0e})")
    return difference


def export_model(model: keras.Model, version_dir: Path, check_images: np.ndarray) -> dict:
    """Writes the model, its batch normalisations folded, as the SavedModel in ``version_dir`` (replacing one
    there) and checks it against the model as it is; returns the check."""
    write_savedmodel(fold_batch_norms(model), version_dir)
    difference = check_savedmodel(model, version_dir, check_images)
    return {"max_abs_difference": difference, "checked_images": int(len(check_images))}
