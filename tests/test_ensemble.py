"""fer.learn.ensemble: members' params."""
import pytest

from fer.learn.ensemble import member_params
from fer.params import load_params


def test_a_member_lays_its_params_over_trains_key_by_key():
    train = dict(load_params()["train"], seed=42)
    member = member_params(train, {"seed": 1, "augment": {"erasing": 0.25}})
    assert member["seed"] == 1 and member["augment"] == dict(train["augment"], erasing=0.25)
    assert {k: v for k, v in member.items() if k not in ("seed", "augment")} == \
           {k: v for k, v in train.items() if k not in ("seed", "augment")}
    assert train["augment"]["erasing"] == 0.0  # train's own params are left as they were


def test_a_member_overriding_what_train_lacks_is_refused_by_name():
    with pytest.raises(ValueError, match="erasng"):
        member_params({"augment": {"erasing": 0.0}}, {"augment": {"erasng": 0.5}})


def test_an_ensemble_averages_its_members_and_survives_saving(tmp_path):
    import keras
    import numpy as np

    from fer.learn.ensemble import averaged
    from tests.conftest import fit_tiny_model
    keras.utils.set_random_seed(1)
    first, images, _ = fit_tiny_model(epochs=1)
    keras.utils.set_random_seed(2)
    second, _, _ = fit_tiny_model(epochs=1)
    pixels = images[:16, ..., None].astype("float32")
    expected = (first.predict(pixels, verbose=0) + second.predict(pixels, verbose=0)) / 2
    ensemble = averaged({"train": first, "b": second})
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.models.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0), expected, atol=1e-6)
    assert not np.allclose(first.predict(pixels, verbose=0), expected, atol=1e-3)
    assert averaged({"train": first}) is first


def test_networks_are_loaded_by_name_and_an_unknown_one_is_refused_naming_it(tmp_path):
    import keras
    import numpy as np

    from fer.learn.ensemble import load_networks
    from tests.conftest import fit_tiny_model
    keras.utils.set_random_seed(1)
    first, images, _ = fit_tiny_model(epochs=1)
    first.save(tmp_path / "fer.keras")
    (tmp_path / "members" / "b").mkdir(parents=True)
    keras.utils.set_random_seed(2)
    second, _, _ = fit_tiny_model(epochs=1)
    second.save(tmp_path / "members" / "b" / "fer.keras")
    pixels = images[:8, ..., None].astype("float32")
    both = load_networks(tmp_path / "fer.keras", tmp_path / "members", ["train", "b"])
    np.testing.assert_allclose(both.predict(pixels, verbose=0),
                               (first.predict(pixels, verbose=0) + second.predict(pixels, verbose=0)) / 2, atol=1e-6)
    with pytest.raises(ValueError, match=r"\['c'\]"):
        load_networks(tmp_path / "fer.keras", tmp_path / "members", ["train", "c"])


def test_a_views_section_loads_its_networks_over_its_views(tmp_path):
    import keras
    import numpy as np

    from fer.learn.tta import inference_model, load_views_model
    from tests.conftest import fit_tiny_model
    keras.utils.set_random_seed(1)
    network, images, _ = fit_tiny_model(epochs=1)
    network.save(tmp_path / "fer.keras")
    pixels = images[:8, ..., None].astype("float32")
    views = {"networks": ["train"], "tta_flip": True, "tta_rotation": 12}
    loaded = load_views_model(tmp_path / "fer.keras", tmp_path / "members", views)
    np.testing.assert_allclose(loaded.predict(pixels, verbose=0),
                               inference_model(network, True, 12).predict(pixels, verbose=0), atol=1e-6)
