import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from fer.learn.export import ExportMismatch, check_savedmodel, export_model, fold_batch_norms, load_signature
from fer.learn.models import build_model
from tests.conftest import train_tiny_model


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
