"""ensemble: train's model (MODEL) and each member of ensemble.members (MEMBERS_DIR/<name>/fer.keras, as the
member stages write them) averaged into one model (ENSEMBLE), which evaluate and export take."""
import sys

import keras

from fer.learn.ensemble import averaged
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "model", "members_dir", "ensemble")
    names = list(load_params()["ensemble"]["members"] or {})
    members = {"train": keras.models.load_model(paths.model)}
    members |= {name: keras.models.load_model(paths.members_dir / name / "fer.keras") for name in names}
    paths.ensemble.parent.mkdir(parents=True, exist_ok=True)
    averaged(members).save(paths.ensemble)
    print(f"ensemble of {', '.join(members)} -> {paths.ensemble}")


if __name__ == "__main__":
    main(sys.argv[1:])
