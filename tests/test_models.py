import keras
import numpy as np
import pytest

from fer.learn.models import MODELS, build_model


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
    options = {"widths": (8, 16), "dropout": 0.1} if name in ("vgg_small", "resnet_small") else {}
    model = build_model(name, {"flip": True, "shift": 0.1, "rotation": 0.05, "zoom": 0.1}, **options)
    probabilities = model.predict(np.full((3, 48, 48, 1), 128.0, np.float32), verbose=0)
    assert probabilities.shape == (3, 7)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_unknown_model_names_the_registered_ones():
    with pytest.raises(ValueError, match="seed_baseline"):
        build_model("resnet1000")


def test_resnet_small_adds_each_blocks_input_back():
    model = build_model("resnet_small", widths=(8, 16, 32), blocks=(0, 1, 2))
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 3
    projections = [layer for layer in model.layers
                   if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1)]
    assert [layer.filters for layer in projections] == [16, 32]  # where the width changes, not within a width
    with pytest.raises(ValueError, match="2 block counts"):
        build_model("resnet_small", widths=(8, 16, 32), blocks=(1, 1))


def test_mini_xception_trains_on_a_batch_of_odd_size():
    """The last batch of an epoch is rarely full; a strided 1x1 convolution crashed oneDNN on such sizes."""
    model = build_model("mini_xception", widths=(16, 32), l2=0.01)
    model.compile("adam", "categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 256, (37, 48, 48, 1)).astype(np.float32)
    history = model.fit(images, np.eye(7, dtype=np.float32)[np.arange(37) % 7], batch_size=128, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("degradation", [{"blur": 1.0}, {"noise": 0.05}, {"brightness": 0.3}, {"contrast": 0.5}])
def test_each_video_degradation_changes_training_faces_only(degradation):
    from fer.learn.models import augmentation_layers
    steps = augmentation_layers(flip=False, shift=0.0, rotation=0.0, zoom=0.0, **degradation)
    faces = np.random.default_rng(0).uniform(0.2, 0.8, (16, 48, 48, 1)).astype(np.float32)
    trained_on = keras.ops.convert_to_numpy(steps(faces, training=True))
    assert trained_on.shape == faces.shape and np.abs(trained_on - faces).mean() > 1e-3
    assert np.array_equal(keras.ops.convert_to_numpy(steps(faces, training=False)), faces)
    if "blur" in degradation:  # every face blurred: neighbouring pixels closer than in the noise it was
        assert np.abs(np.diff(trained_on, axis=2)).mean() < 0.5 * np.abs(np.diff(faces, axis=2)).mean()
