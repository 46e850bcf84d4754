"""preprocess: every image of INTERIM_DIR as a 48x48 grey face in PROCESSED_DIR/faces.npz, and a data report."""
import json
import sys

from fer.arrays import save_arrays
from fer.data.preprocess import preprocess
from fer.data.unzip import read_manifest
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "interim_dir", "processed_dir", "report")
    all_params = load_params()
    params = all_params["preprocess"]
    arrays, report, skipped_files = preprocess(read_manifest(paths.interim_dir / "manifest.csv"), paths.interim_dir,
                                               params["size"], params["detect_faces"], params["dedup_distance"],
                                               all_params["fetch"]["datasets"], params["face_detector"],
                                               params["align_faces"], params["face_margin"])
    save_arrays(arrays, paths.processed_dir / "faces.npz")
    (paths.processed_dir / "skipped.txt").write_text("".join(f"{line}\n" for line in skipped_files))
    paths.report.parent.mkdir(parents=True, exist_ok=True)
    paths.report.write_text(json.dumps(report, indent=2) + "\n")
    print(f"preprocessed {report['images']} images, skipped {report['skipped']}"
          f" (listed in {paths.processed_dir / 'skipped.txt'})")


if __name__ == "__main__":
    main(sys.argv[1:])
