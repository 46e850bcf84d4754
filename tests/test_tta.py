import math

import keras
import numpy as np
import pytest

from fer.learn.models import build_model
from fer.learn.tta import Rotate, inference_model
from tests.conftest import face_image


def test_flip_tta_model_gives_mirror_images_the_same_prediction():
    model = inference_model(build_model("vgg_small", widths=(8, 16), dropout=0.0), tta_flip=True)
    image = face_image(2, 5).astype(np.float32)
    image[:, :10] = 255  # make the face asymmetric
    pair = np.stack([image, image[:, ::-1]])[..., None]
    first, mirrored = model.predict(pair, verbose=0)
    assert np.allclose(first, mirrored, atol=1e-6)


def test_rotate_turns_counterclockwise_about_the_centre():
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    turned = np.asarray(Rotate(90)(image))[0, ..., 0]
    assert np.allclose(turned, np.rot90(image[0, ..., 0]), atol=1e-4)


def test_rotate_repeats_the_edge_into_the_corners():
    image = np.full((1, 48, 48, 1), 200.0, dtype=np.float32)
    assert np.allclose(np.asarray(Rotate(30)(image)), 200.0, atol=1e-3)


def test_rotation_tta_averages_four_views_of_each_face():
    base = build_model("vgg_small", widths=(8, 16), dropout=0.0)
    model = inference_model(base, tta_flip=True, tta_rotation=6)
    image = face_image(3, 7).astype(np.float32)[None, ..., None]
    views = [np.asarray(Rotate(degrees)(image)) for degrees in (6, -6)]
    views += [view[:, :, ::-1] for view in views]
    expected = np.mean([base.predict(view, verbose=0) for view in views], axis=0)
    assert np.allclose(model.predict(image, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("degrees", [12, -12, 30])
def test_rotation_samples_as_keras_affine_transform_does(degrees):
    images = np.random.default_rng(degrees % 7).integers(0, 256, (4, 48, 48, 1)).astype(np.float32)
    angle = math.radians(degrees)
    cos, sin, centre = math.cos(angle), math.sin(angle), 47 / 2
    transform = [cos, -sin, centre - cos * centre + sin * centre, sin, cos, centre - sin * centre - cos * centre, 0, 0]
    expected = keras.ops.image.affine_transform(images, np.array(transform, np.float32), interpolation="bilinear",
                                                fill_mode="nearest")
    assert np.abs(np.asarray(Rotate(degrees)(images)) - np.asarray(expected)).max() < 5e-3  # float32 rounding
