"""`fer analyze --ray` speed-up from 1 to 2 workers on a local Ray cluster.

Writes a batch of the 30 fps MPEG-4 face-cam recordings that bench/playtest.py writes (FER-2013 faces from
the Kaggle mirror ../shared/datasets/fer2013.zip),
analyses the batch at the default settings with the committed model on a local Ray of 2 CPUs, once with
1 worker and once with 2, and prints the seconds each took in all (start-up of the workers included: each
imports TensorFlow and loads the model) and from the first recording's start to the last one's end, the
multiples of real time, and the speed-ups. Measure on a quiet machine, with a batch long enough (the
default: 4 minutes of recording) for the start-up not to dominate.
Usage: python bench/ray_speedup.py [--recordings 4] [--seconds 60] [--size 1280x720]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from fer.tf import quiet_tensorflow  # noqa: E402

quiet_tensorflow(verbose=False)  # for the workers too; TF_CPP_MIN_LOG_LEVEL=0 shows TensorFlow's start-up lines
from bench.playtest import faces, write_recording  # noqa: E402 (the recordings bench/playtest.py writes)
from fer.playtest.settings import AnalysisSettings  # noqa: E402

MODEL = REPO / "serving/models/fer_model"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=4, help="recordings in the batch (default: 4)")
    parser.add_argument("--seconds", type=int, default=60, help="length of each recording (default: 60)")
    parser.add_argument("--size", default="1280x720", help="width x height (default: 1280x720)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    import ray

    from fer.playtest.distributed import analyze_on_ray
    settings, shown = AnalysisSettings(), faces()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sources = []
        for index in range(args.recordings):
            sources.append(folder / "recordings" / f"session{index}.mp4")
            sources[-1].parent.mkdir(parents=True, exist_ok=True)
            write_recording(sources[-1], size, args.seconds, shown)
        total_s = args.recordings * args.seconds
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            seconds, analysing = {}, {}
            for workers in (1, 2):
                out, starts = folder / f"out{workers}", folder / f"starts{workers}"
                starts.mkdir()
                started = time.perf_counter()
                result = analyze_on_ray(sources, out, MODEL, settings, workers=workers, progress=False,
                                        before_each=lambda source, _, starts=starts: (
                                            starts / Path(source).stem).write_text(repr(time.time())))
                seconds[workers] = time.perf_counter() - started
                assert len(result["done"]) == len(sources), result
                first = min(float(p.read_text()) for p in starts.iterdir())
                analysing[workers] = max(p.stat().st_mtime for p in out.glob("*/summary.json")) - first
        finally:
            ray.shutdown()
    print(f"{args.recordings} recordings of {args.seconds:g} s at {size[0]}x{size[1]} 30 fps (FER-2013 faces),"
          " default settings, local Ray of 2 CPUs")
    print("             in all s  x real time   analysing s  x real time")
    for workers in (1, 2):
        label = f"{workers} worker{'s' if workers > 1 else ' '}"
        print(f"  {label}  {seconds[workers]:9.1f}  {total_s / seconds[workers]:11.1f}"
              f"  {analysing[workers]:12.1f}  {total_s / analysing[workers]:11.1f}")
    print(f"  speed-up from 1 to 2 workers: {seconds[1] / seconds[2]:.2f}x in all,"
          f" {analysing[1] / analysing[2]:.2f}x analysing")


if __name__ == "__main__":
    main()
