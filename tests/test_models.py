import keras
import numpy as np
import pytest

from fer.models import MODELS, Shift, build_model, inference_model
from tests.conftest import face_image


def test_seed_baseline_is_exactly_the_seed_network():
    model = build_model("seed_baseline")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.activation.__name__) for c in convs] == [(11, (3, 3), "relu")] * 5
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Rescaling", "Conv2D", "Conv2D", "BatchNormalization", "Conv2D", "Conv2D",
                     "Conv2D", "Flatten", "Dense"]
    assert model.layers[-1].units == 7 and model.layers[-1].activation.__name__ == "softmax"
    assert model.count_params() == 115_749


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_maps_raw_pixels_to_seven_probabilities(name):
    options = {"widths": (8, 16), "dropout": 0.1} if name == "vgg_small" else {}
    model = build_model(name, {"flip": True, "shift": 0.1, "rotation": 0.05, "zoom": 0.1}, **options)
    probabilities = model.predict(np.full((3, 48, 48, 1), 128.0, np.float32), verbose=0)
    assert probabilities.shape == (3, 7)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(ValueError, match="seed_baseline"):
        build_model("resnet1000")


def test_flip_tta_model_gives_mirror_images_the_same_prediction():
    model = inference_model(build_model("vgg_small", widths=(8, 16), dropout=0.0), tta_flip=True)
    image = face_image(2, 5).astype(np.float32)
    image[:, :10] = 255  # make the face asymmetric
    pair = np.stack([image, image[:, ::-1]])[..., None]
    first, mirrored = model.predict(pair, verbose=0)
    assert np.allclose(first, mirrored, atol=1e-6)


def test_shift_moves_pixels_and_repeats_the_edge():
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    down_left = np.asarray(Shift(2, -1)(image))[0, ..., 0]
    rows = np.array([0, 0, 0, 1])  # two rows down: the top row fills the gap
    columns = np.array([1, 2, 3, 3])  # one column left: the right column fills the gap
    assert np.array_equal(down_left, image[0, ..., 0][rows][:, columns])


def test_shift_tta_averages_ten_views_of_each_face():
    base = build_model("vgg_small", widths=(8, 16), dropout=0.0)
    model = inference_model(base, tta_flip=True, tta_shift=2)
    image = face_image(3, 7).astype(np.float32)[None, ..., None]
    views = [image] + [np.asarray(Shift(dy, dx)(image)) for dy, dx in ((-2, 0), (2, 0), (0, -2), (0, 2))]
    views += [view[:, :, ::-1] for view in views]
    expected = np.mean([base.predict(view, verbose=0) for view in views], axis=0)
    assert np.allclose(model.predict(image, verbose=0), expected, atol=1e-6)


def test_mini_xception_trains_on_a_batch_of_odd_size():
    """The last batch of an epoch is rarely full; a strided 1x1 convolution crashed oneDNN on such sizes."""
    model = build_model("mini_xception", widths=(16, 32), l2=0.01)
    model.compile("adam", "categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 256, (37, 48, 48, 1)).astype(np.float32)
    history = model.fit(images, np.eye(7, dtype=np.float32)[np.arange(37) % 7], batch_size=128, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
