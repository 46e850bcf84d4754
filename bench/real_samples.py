"""Every model on the real clips' 280 labelled samples (bench/real_video_samples.csv), with standard errors.

Each clip of ../shared/videos is analysed as `fer analyze` does (YuNet, players, quality gate), at 4 frames a
second so that a frame falls on every labelled time (0.25, 0.75, ... s); a sample scores when it carries an
emotion, and the frame's most probable emotion (of player 1, unsmoothed, from frames.csv) is right when it is in
the sample's label set. A sample whose face was not classified (none found, or refused by the quality gate) counts
as wrong. Two standard errors: the binomial one over samples, and one from a bootstrap over clips (samples of one
clip are not independent: the clip's person, light and camera are shared), the larger the one to trust.

fer_fast is scored as a SavedModel in float32 and as its int8 model (`fer analyze --precision auto` on CPUs
without AMX), each model's own 4-a-second analysis.

Usage: python bench/real_samples.py [--model NAME=PATH ...] [--align both|on|off]
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
from fer.contract import CLASS_NAMES  # noqa: E402
from fer.playtest.sessions import analyze_session  # noqa: E402
from fer.playtest.settings import AnalysisSettings  # noqa: E402
from fer.serving.client import LocalModel  # noqa: E402

VIDEOS = REPO.parent / "shared" / "videos"
SAMPLES = REPO / "bench" / "real_video_samples.csv"
MODELS = {"fer_model": (REPO / "serving/models/fer_model", "float32"),
          "fer_fast": (REPO / "serving/models/fer_fast", "float32"),
          "fer_fast int8 (analysis default)": (REPO / "serving/models/fer_fast", "int8")}
BOOTSTRAP_RESAMPLES = 2000


def samples() -> dict[str, dict[float, set[str]]]:
    """clip -> time -> label set (empty for none)."""
    table: dict[str, dict[float, set[str]]] = defaultdict(dict)
    with open(SAMPLES, newline="") as f:
        for row in csv.DictReader(f):
            labels = set(row["labels"].split("|")) - {"none"}
            table[row["clip"]][float(row["time_s"])] = labels
    return dict(table)


def hits(frames: pd.DataFrame, truth: dict[float, set[str]], tolerance_s: float = 0.125) -> list[bool]:
    """Per scored sample, whether player 1's frame nearest its time (within ``tolerance_s``, half the 4-a-second
    step) is classified as one of its labels."""
    columns = [f"p_{name}" for name in CLASS_NAMES]
    player = frames[(frames.player == 1) & frames[columns[0]].notna()]
    times, predicted = player.time_s.to_numpy(), player[columns].to_numpy().argmax(axis=1)
    result = []
    for time, labels in sorted(truth.items()):
        if not labels:
            continue
        nearest = int(np.abs(times - time).argmin()) if len(times) else None
        result.append(nearest is not None and abs(times[nearest] - time) <= tolerance_s
                      and CLASS_NAMES[predicted[nearest]] in labels)
    return result


def errors(per_clip: dict[str, list[bool]], seed: int = 0) -> tuple[float, float, float, int]:
    """(accuracy, binomial standard error, clip-bootstrap standard error, scored samples)."""
    every = [hit for clip_hits in per_clip.values() for hit in clip_hits]
    n, accuracy = len(every), float(np.mean(every))
    clips = [np.array(clip_hits, float) for clip_hits in per_clip.values() if clip_hits]
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        chosen = rng.integers(0, len(clips), len(clips))
        resampled.append(np.concatenate([clips[i] for i in chosen]).mean())
    return accuracy, float(np.sqrt(accuracy * (1 - accuracy) / n)), float(np.std(resampled)), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="a SavedModel to score besides fer_model and fer_fast (repeatable)")
    parser.add_argument("--align", choices=("both", "on", "off"), default="both")
    args = parser.parse_args()
    if not VIDEOS.is_dir():
        print(f"bench/real_samples.py: skipped, the real videos are not here ({VIDEOS} is absent)")
        return
    models = dict(MODELS, **{name: (path, "float32") for name, path in (item.split("=", 1) for item in args.model)})
    aligns = {"both": (False, True), "on": (True,), "off": (False,)}[args.align]
    truth = samples()
    print(f"{sum(len(t) for t in truth.values())} samples of {len(truth)} clips ({SAMPLES.name}),"
          f" {sum(bool(l) for t in truth.values() for l in t.values())} with an emotion")
    print(f"{'model':34} {'align':>5} {'right':>9} {'accuracy':>8} {'SE samples':>10} {'SE clips':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for name, (path, precision) in models.items():
            model = LocalModel(Path(path), precision)
            for align in aligns:
                settings = replace(AnalysisSettings(), sample_fps=4.0, align=align)
                per_clip = {}
                for clip, clip_truth in sorted(truth.items()):
                    out = Path(folder) / f"{name}-{precision}-{align}" / Path(clip).stem
                    analyze_session(VIDEOS / clip, out, model, settings, progress=False)
                    per_clip[clip] = hits(pd.read_csv(out / "frames.csv"), clip_truth)
                accuracy, se_samples, se_clips, n = errors(per_clip)
                right = sum(sum(h) for h in per_clip.values())
                print(f"{name:34} {'on' if align else 'off':>5} {right:>4}/{n:<4} {accuracy:8.1%}"
                      f" {se_samples:10.1%} {se_clips:8.1%}", flush=True)


if __name__ == "__main__":
    main()
