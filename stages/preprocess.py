"""preprocess: every image of data/interim as 48x48 grayscale in data/processed/faces.npz."""
import json
from pathlib import Path

from fer.params import load_params
from fer.preprocess import preprocess, save_arrays
from fer.unzip import read_manifest

all_params = load_params()
params = all_params["preprocess"]
interim_dir = Path("data/interim")
arrays, report, skipped_files = preprocess(read_manifest(interim_dir / "manifest.csv"), interim_dir, params["size"],
                                           params["detect_faces"], params["dedup_distance"],
                                           all_params["fetch"]["datasets"])
save_arrays(arrays, Path("data/processed/faces.npz"))
Path("data/processed/skipped.txt").write_text("".join(f"{line}\n" for line in skipped_files))
Path("metrics").mkdir(exist_ok=True)
Path("metrics/preprocess.json").write_text(json.dumps(report, indent=2) + "\n")
print(f"preprocessed {report['images']} images, skipped {report['skipped']} (listed in data/processed/skipped.txt)")
