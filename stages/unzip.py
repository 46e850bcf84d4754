"""unzip: unpack RAW_DIR's archives into INTERIM_DIR/<dataset>/<split>/<label>/ with a manifest."""
import json
import shutil
import sys

from fer.data.datasets import get_dataset
from fer.data.unzip import unpack_archive, write_manifest
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "raw_dir", "interim_dir")
    contempt = load_params()["unzip"]["contempt"]
    shutil.rmtree(paths.interim_dir, ignore_errors=True)
    fetched = json.loads((paths.raw_dir / "fetch_report.json").read_text())
    rows, report = [], {}
    for name, record in fetched.items():
        dataset_rows, skipped = unpack_archive(paths.raw_dir / record["archive"], get_dataset(name), paths.interim_dir,
                                               None if contempt in (None, "drop") else contempt)
        rows += dataset_rows
        report[name] = {"images": len(dataset_rows), "skipped": dict(skipped)}
        print(f"unpacked {name}: {len(dataset_rows)} images, skipped {dict(skipped)}")
    write_manifest(rows, paths.interim_dir / "manifest.csv")
    (paths.interim_dir / "unzip_report.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
