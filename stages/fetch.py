"""fetch: copy or download every dataset named in params.yaml into data/raw."""
import json
from pathlib import Path

from fer.datasets import get_dataset
from fer.fetch import fetch_dataset
from fer.params import load_params

params = load_params()["fetch"]
out_dir = Path("data/raw")
mirror = Path(params["mirror"]) if params.get("mirror") else None
report = {}
versions = params.get("kaggle_versions") or {}
for name in params["datasets"]:
    report[name] = fetch_dataset(get_dataset(name), out_dir, mirror, versions.get(name))
    print(f"fetched {name}: {report[name]['bytes']} bytes from {report[name]['source']}")
(out_dir / "fetch_report.json").write_text(json.dumps(report, indent=2) + "\n")
