"""Export: a SavedModel in TensorFlow Serving's layout, checked against the Keras model it came from.

serving/models/<name>/<version>/ holds the SavedModel; its ``serving_default`` signature takes
float32 ``pixels`` [N, 48, 48, 1] (raw grey levels 0..255) and returns ``probabilities`` [N, 7]
in the order of CLASS_NAMES, which is written to assets.extra/class_names.txt beside it.

The SavedModel computes what the Keras model computes with each BatchNormalization folded into the
convolution before it (fold_batch_norms): the same function in fewer operations. With ``int8``, the version
folder also holds ``model.tflite``: TensorFlow Lite's int8 post-training quantization of the SavedModel
(weights in int8, activations quantized per batch as it runs; float32 pixels in, probabilities out),
which LocalModel runs with XNNPACK for `fer analyze --precision int8`; TensorFlow Serving ignores it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fer.contract import CLASS_NAMES, INPUT_NAME, INPUT_SHAPE, OUTPUT_NAME, SIGNATURE
from fer.learn.models import AUGMENTATION
from fer.serving.int8 import INT8_FILE, Int8Model


class ExportMismatch(RuntimeError):
    pass


class PassThrough(layers.Layer):
    """Where a layer that does nothing at inference was (a BatchNormalization folded into the convolution that
    feeds it, the training augmentation): passes its input on (TensorFlow drops it from the graph)."""

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
    (kernel times gamma / sqrt(variance + epsilon), bias beta - mean times that), in nested models too, and
    without the training augmentation, which passes faces on unchanged at inference (its random ops would
    stay in the graph, where TensorFlow Lite's converter has no kernels for them).

    At inference a BatchNormalization is a multiplication and an addition over the whole activation,
    which TensorFlow's oneDNN cannot fuse into the convolution; folded, convolution, bias and ReLU run
    as one fused kernel: about twice the faces per second in bfloat16 here (README: Results)."""
    pairs = foldable_batch_norms(model)
    folded_norms = {id(norm) for _, norm in pairs.values()}
    clones: dict[int, layers.Layer] = {}

    def clone(layer: layers.Layer) -> layers.Layer:
        if id(layer) not in clones:  # a layer called several times (a nested model, one per view) stays one
            if isinstance(layer, keras.Sequential) and layer.name == AUGMENTATION:
                clones[id(layer)] = PassThrough(name=layer.name)
            elif isinstance(layer, keras.Model):
                clones[id(layer)] = fold_batch_norms(layer)
            elif id(layer) in pairs:
                clones[id(layer)] = layers.Conv2D.from_config({**layer.get_config(), "use_bias": True})
            elif id(layer) in folded_norms:
                clones[id(layer)] = PassThrough(name=layer.name)
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


def write_int8_tflite(version_dir: Path) -> Path:
    """The SavedModel in ``version_dir`` quantized to int8 by TensorFlow Lite's converter, written as
    ``version_dir/model.tflite``: weights in int8, activations quantized per batch as it runs (dynamic range;
    XNNPACK's int8 kernels). Activation ranges calibrated once on FER-2013 faces instead cost 9 of the 201 real
    webcam samples (docs/training.md#the-int8-model); set per batch they cost none, for about a tenth of the speed."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(version_dir), signature_keys=[SIGNATURE])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # without a representative dataset: dynamic range
    path = version_dir / INT8_FILE
    path.write_bytes(converter.convert())
    return path


def check_int8_tflite(version_dir: Path, images: np.ndarray, min_agreement: float = 0.95) -> dict:
    """How often the int8 model picks the SavedModel's class on ``images``, and its largest probability
    difference; raises ExportMismatch below ``min_agreement`` (quantization rounds, so they never match
    exactly; measured: docs/training.md#the-int8-model)."""
    pixels = images.reshape(-1, *INPUT_SHAPE).astype(np.float32)
    exact = load_signature(version_dir)(**{INPUT_NAME: tf.constant(pixels)})[OUTPUT_NAME].numpy()
    rounded = Int8Model(version_dir).predict(pixels)
    agreement = float((exact.argmax(1) == rounded.argmax(1)).mean())
    if agreement < min_agreement:
        raise ExportMismatch(f"{version_dir / INT8_FILE}: picks the SavedModel's class on {agreement:.1%} of"
                             f" {len(pixels)} faces (at least {min_agreement:.0%} expected)")
    return {"class_agreement": agreement, "max_abs_difference": float(np.abs(exact - rounded).max())}


def export_model(model: keras.Model, version_dir: Path, check_images: np.ndarray, int8: bool = False) -> dict:
    """Writes the model, its batch normalisations folded, as the SavedModel in ``version_dir`` (replacing one
    there) and checks it against the model as it is; with ``int8``, also its int8 TensorFlow Lite model, checked
    against the SavedModel. Returns the checks."""
    write_savedmodel(fold_batch_norms(model), version_dir)
    difference = check_savedmodel(model, version_dir, check_images)
    report = {"max_abs_difference": difference, "checked_images": int(len(check_images))}
    if int8:
        write_int8_tflite(version_dir)
        report["int8"] = check_int8_tflite(version_dir, check_images)
    return report
