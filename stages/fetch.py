"""fetch: copy or download every dataset named in params.yaml into RAW_DIR, with a fetch report."""
import json
import sys
from pathlib import Path

from fer.data.datasets import get_dataset
from fer.data.fetch import fetch_dataset, repository_root
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "raw_dir")
    params = load_params()["fetch"]
    mirror = params["mirror"]
    versions = params["kaggle_versions"] or {}
    report = {}
    for name in params["datasets"]:
        report[name] = fetch_dataset(get_dataset(name), paths.raw_dir, mirror and Path(mirror), versions.get(name),
                                     root=repository_root())
        print(f"fetched {name}: {report[name]['bytes']} bytes from {report[name]['source']}")
    (paths.raw_dir / "fetch_report.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
