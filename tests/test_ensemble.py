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
