import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from fer.learn.export import ExportMismatch, check_savedmodel, export_model, load_signature
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
