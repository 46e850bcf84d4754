"""split: data/split/{train,validation,test}.npz by the configured strategy, training split balanced."""
import json
from pathlib import Path

from fer.params import load_params
from fer.preprocess import load_arrays, save_arrays
from fer.split import split_dataset, split_report

params = load_params()
options = params["split"]
parts = split_dataset(load_arrays(Path("data/processed/faces.npz")), options["strategy"], options["ratios"],
                      options["balance"], params["seed"])
for name, part in parts.items():
    save_arrays(part, Path("data/split") / f"{name}.npz")
report = split_report(parts)
Path("metrics/split.json").write_text(json.dumps(report, indent=2) + "\n")
print({name: part["images"] for name, part in report.items()})
