import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from fer.learn.export import (ExportMismatch, check_int8_tflite, check_savedmodel, export_model, fold_batch_norms,
                              load_signature)
from fer.learn.models import build_model
from fer.learn.tta import inference_model
from fer.serving.int8 import INT8_FILE
from tests.conftest import REPO, fit_tiny_model, train_tiny_model


@pytest.fixture(scope="module")
def trained_model():
    return train_tiny_model()


def test_export_writes_tf_serving_layout_that_matches_keras(trained_model, tmp_path):
    model, images = trained_model
    report = export_model(model, tmp_path / "fer_model" / "3", images[:32])
    version_dir = tmp_path / "fer_model" / "3"
    assert (version_dir / "saved_model.pb").is_file() and (version_dir / "variables").is_dir()
    assert (version_dir / "assets.extra" / "class_names.txt").read_text().split() == [
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert report["max_abs_difference"] <= 1e-5

    signature = load_signature(version_dir)
    (name, spec), = signature.structured_input_signature[1].items()
    assert name == "pixels" and spec.dtype == tf.float32 and spec.shape.as_list() == [None, 48, 48, 1]
    assert {k: v.shape.as_list() for k, v in signature.structured_outputs.items()} == {"probabilities": [None, 7]}

    raw_pixels = tf.constant(images[:5, ..., None].astype(np.float32))  # 0..255: the model scales itself
    served = signature(pixels=raw_pixels)["probabilities"].numpy()
    assert np.allclose(served, model.predict(raw_pixels.numpy(), verbose=0), atol=1e-5)
    assert np.allclose(served.sum(axis=1), 1.0, atol=1e-5)


def test_saved_model_cli_shows_the_serving_signature(trained_model, tmp_path):
    model, images = trained_model
    export_model(model, tmp_path / "fer_model" / "1", images[:8])
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(tmp_path / "fer_model" / "1")],
                           capture_output=True, text=True, check=True).stdout
    assert "signature_def['serving_default']" in shown
    assert "inputs['pixels'] tensor_info:" in shown and "shape: (-1, 48, 48, 1)" in shown
    assert "outputs['probabilities'] tensor_info:" in shown and "shape: (-1, 7)" in shown


def test_export_check_catches_a_model_that_does_not_match(trained_model, tmp_path):
    model, images = trained_model
    export_model(model, tmp_path / "fer_model" / "1", images[:8])
    other = build_model("seed_baseline")
    with pytest.raises(ExportMismatch, match="fer_model/1"):
        check_savedmodel(other, tmp_path / "fer_model" / "1", images[:8])


def graph_operations(version_dir: Path) -> set[str]:
    """The operation types of the serving signature's graph and the functions it calls."""
    graph = load_signature(version_dir).graph.as_graph_def()
    return {node.op for node in graph.node} | {node.op for function in graph.library.function
                                                 for node in function.node_def}


def test_export_folds_batch_norms_into_the_convolutions_and_computes_the_same(tmp_path):
    model, images = train_tiny_model()
    network = model.get_layer("vgg_small")
    rng = np.random.default_rng(3)
    for layer in network.layers:  # statistics far from the initial ones, so that a wrong fold shows
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 2, shape), rng.normal(0, 1, shape), rng.normal(0, 1, shape),
                               rng.uniform(0.2, 3, shape)])
    folded = fold_batch_norms(model)
    assert not [layer for layer in folded.get_layer("vgg_small").layers
                if isinstance(layer, keras.layers.BatchNormalization)]
    pixels = images[:16, ..., None].astype(np.float32)
    assert np.abs(folded.predict(pixels, verbose=0) - model.predict(pixels, verbose=0)).max() <= 1e-5

    report = export_model(model, tmp_path / "fer_model" / "1", images[:32])  # checked against the unfolded model
    assert report["max_abs_difference"] <= 1e-5
    assert "Rsqrt" not in graph_operations(tmp_path / "fer_model" / "1")  # what a batch norm computes at inference


def test_a_savedmodel_stores_each_weight_once(tmp_path):
    model, images = train_tiny_model()
    export_model(model, tmp_path / "fer_model" / "1", images[:8])
    checkpoint = tf.train.load_checkpoint(str(tmp_path / "fer_model" / "1" / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in checkpoint.get_variable_to_shape_map().items()
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    # the folded network's weights, once (Keras alone would store each twice: keras-team/keras#23553)
    assert 0 < stored <= fold_batch_norms(model).count_params()


def test_the_int8_model_picks_the_savedmodels_classes_and_runs_without_tensorflow(tmp_path):
    model, images, _ = fit_tiny_model(epochs=15)  # confident: int8 rounding cannot flip near-ties
    augmented = build_model("vgg_small", {"flip": True, "rotation": 0.05, "shift": 0.1, "zoom": 0.1},
                            widths=(8, 16), dropout=0.0)
    augmented.set_weights(model.get_weights())  # augmentation holds no weights: the same network
    version_dir = tmp_path / "fer_fast" / "1"
    report = export_model(inference_model(augmented, tta_flip=True, tta_rotation=12), version_dir, images[:64],
                          int8=True)
    assert not {"StatelessRandomUniformV2", "ImageProjectiveTransformV3"} & graph_operations(version_dir)
    assert (version_dir / INT8_FILE).is_file() and report["int8"]["class_agreement"] >= 0.95

    with pytest.raises(ExportMismatch, match="picks the SavedModel's class"):
        check_int8_tflite(version_dir, images[:64], min_agreement=1.01)

    run = subprocess.run([sys.executable, "-c", INT8_RUN, str(version_dir)], capture_output=True, text=True,
                         check=True, cwd=REPO)
    loaded, probabilities = json.loads(run.stdout.strip().splitlines()[-1])
    assert not loaded, f"running the int8 model imported {loaded}"
    expected = load_signature(version_dir)(pixels=tf.constant(images[:4, ..., None].astype(np.float32)))
    assert np.abs(np.array(probabilities) - expected["probabilities"].numpy()).max() < 0.05  # int8 rounding


INT8_RUN = """
import json, sys
import numpy as np
from fer.serving.client import LocalModel
from tests.conftest import face_image
model = LocalModel(sys.argv[1], precision="int8")
pixels = np.stack([face_image(i % 7, i) for i in range(4)])[..., None].astype(np.float32)
probabilities = model.predict(pixels)
print(json.dumps([[name for name in ("tensorflow", "keras") if name in sys.modules], probabilities.tolist()]))
"""
