"""split: SPLIT_DIR/{train,validation,test}.npz from FACES by the configured strategy, and a data report."""
import json
import sys

from fer.arrays import load_arrays, save_arrays
from fer.data.split import split_dataset, split_report
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "faces", "split_dir", "report")
    params = load_params()
    options = params["split"]
    parts = split_dataset(load_arrays(paths.faces), options["strategy"], options["ratios"], options["balance"],
                          params["seed"])
    for name, part in parts.items():
        save_arrays(part, paths.split_dir / f"{name}.npz")
    report = split_report(parts)
    paths.report.parent.mkdir(parents=True, exist_ok=True)
    paths.report.write_text(json.dumps(report, indent=2) + "\n")
    print({name: part["images"] for name, part in report.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
