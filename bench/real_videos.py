"""The playtest analysis on real recordings: the Haar pipeline it had beside today's, per clip.

Analyses each of the single-person clips in ../shared/videos/ with the committed model: with the code as
it was before the real-recordings work (commit BEFORE, checked out in a temporary git worktree: Haar
cascade, unaligned crops, every new box a player at once, no quality gate), with today's code at its
default settings (YuNet, unaligned crops as the committed model was trained on, players that persist,
duplicates merged, quality gate), and with today's code aligning the faces (--align), all three with
fer_model; and today's defaults with the model fer analyze runs by default, fer_fast. Per clip and
pipeline it prints the face-visible ratio, the players found (truth: one in each clip, so any more are
phantoms), milliseconds per sampled frame spent decoding, detecting and classifying, and agreement
with the per-second labels in bench/real_video_labels.csv (written by hand from the frames before any
model output was seen; bench/real_video_labels.md): for each second labelled with an emotion, the most
frequent smoothed emotion of player 1's timeline rows in that second, a second without rows counting as
a miss. Writes the table to bench/results/real_videos.json.

Usage: python bench/real_videos.py   (needs ../shared/videos and this repository's git history; a few
minutes on 2 cores)
"""
from __future__ import annotations

import csv
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.cli.analyze import MODEL_IN_REPOSITORY  # noqa: E402
from fer.playtest.sessions import analyze_session  # noqa: E402
from fer.playtest.settings import AnalysisSettings  # noqa: E402
from fer.serving.client import LocalModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO.parent / "shared" / "videos"
LABELS = REPO / "bench" / "real_video_labels.csv"
MODEL = REPO / "serving" / "models" / "fer_model"
FAST_MODEL = REPO / MODEL_IN_REPOSITORY
RESULTS = REPO / "bench" / "results" / "real_videos.json"
BEFORE = "b51ca38"  # the last commit before the real-recordings work (issue 23)
PIPELINES = (f"before ({BEFORE}, Haar)", "now (default)", "now, --align", "now, fer_fast")
NOW = {"now (default)": (AnalysisSettings(), MODEL), "now, --align": (AnalysisSettings(align=True), MODEL),
       "now, fer_fast": (AnalysisSettings(), FAST_MODEL)}
# Run by the interpreter inside the worktree of BEFORE, whose fer package it imports: analyses each clip
# with that code's default settings into OUT/<stem>/.
BEFORE_RUNNER = """
import sys
from pathlib import Path
from fer.playtest.analytics import AnalysisSettings
from fer.playtest.sessions import analyze_session
from fer.serving.client import LocalModel
model, out = LocalModel(sys.argv[1]), Path(sys.argv[2])
for clip in sys.argv[3:]:
    analyze_session(Path(clip), out / Path(clip).stem, model, AnalysisSettings(), progress=False)
"""
PARTS = ("decode", "detect", "classify")


def labels() -> dict[str, dict[int, str]]:
    """clip -> second -> label, from bench/real_video_labels.csv."""
    table: dict[str, dict[int, str]] = defaultdict(dict)
    with open(LABELS, newline="") as f:
        for row in csv.DictReader(f):
            table[row["clip"]][int(row["second"])] = row["label"]
    return dict(table)


def agreement(timeline: pd.DataFrame, truth: dict[int, str]) -> tuple[int, int]:
    """(matches, labelled seconds): per second labelled with an emotion, player 1's most frequent emotion."""
    rows = timeline[timeline.player == 1]
    per_second = rows.groupby(rows.time_s.floordiv(1).astype(int)).emotion.agg(
        lambda emotions: Counter(emotions).most_common(1)[0][0])
    scored = {second: label for second, label in truth.items() if label != "none"}
    return sum(per_second.get(second) == label for second, label in scored.items()), len(scored)


def cpu_note() -> dict:
    try:
        flags = set(re.findall(r"\b(avx512_bf16|amx_bf16)\b", Path("/proc/cpuinfo").read_text()))
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    except OSError:
        flags, model = set(), platform.processor()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model, "cores": cores, "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags}


def measured(clip: Path, out: Path, truth: dict[int, str]) -> dict:
    """The figures of one clip's analysis in ``out`` (summary.json and timeline.csv)."""
    summary = json.loads((out / "summary.json").read_text())
    frames = max(summary["sampled_frames"], 1)
    matches, scored = agreement(pd.read_csv(out / "timeline.csv"), truth)
    return {"face_visible_ratio": summary["face_visible_ratio"], "players": summary["players"],
            "sampled_frames": summary["sampled_frames"],
            **{f"{part}_ms": round(1000 * summary["timing"][f"{part}_s"] / frames, 2) for part in PARTS},
            "seconds": summary["timing"]["seconds"], "matches": int(matches), "labelled_seconds": scored,
            "agreement": round(matches / scored, 4) if scored else None}


def analyse_before(clips: list[Path], folder: Path) -> None:
    """The clips analysed by the code of commit BEFORE, in a temporary worktree, into folder/<stem>/."""
    worktree = folder / "worktree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(worktree), BEFORE],
                   check=True)
    try:
        subprocess.run([sys.executable, "-c", BEFORE_RUNNER, str(MODEL), str(folder), *map(str, clips)],
                       cwd=worktree, env={**os.environ, "PYTHONPATH": str(worktree)}, check=True)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)], check=True)


def cell(result: dict) -> str:
    agree = f"{result['matches']:>2}/{result['labelled_seconds']:<2} {result['agreement']:4.0%}" \
        if result["labelled_seconds"] else f"{'-':>10}"
    return (f"{result['face_visible_ratio']:5.0%} {result['players']:>3} {result['decode_ms']:6.1f}"
            f" {result['detect_ms']:6.1f} {result['classify_ms']:6.1f} {agree}")


def total(results: list[dict]) -> dict:
    frames = sum(r["sampled_frames"] for r in results)
    matches, scored = sum(r["matches"] for r in results), sum(r["labelled_seconds"] for r in results)
    return {"face_visible_ratio": round(sum(r["face_visible_ratio"] for r in results) / len(results), 4),
            "players": sum(r["players"] for r in results),
            "phantom_players": sum(max(r["players"] - 1, 0) for r in results),
            "clips_with_phantoms": sum(r["players"] > 1 for r in results),
            "clips_without_player": sum(r["players"] == 0 for r in results),
            "sampled_frames": frames,
            **{f"{part}_ms": round(sum(r[f"{part}_ms"] for r in results) / len(results), 2) for part in PARTS},
            "matches": matches, "labelled_seconds": scored, "agreement": round(matches / scored, 4) if scored else None}


def main() -> None:
    if not VIDEOS.is_dir():
        print(f"bench/real_videos.py: skipped, the real videos are not here ({VIDEOS} is absent)")
        return
    truth = labels()
    clips = sorted((VIDEOS / name for name in truth if (VIDEOS / name).is_file()),
                   key=lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)])
    missing = sorted(set(truth) - {c.name for c in clips})
    if missing:
        print(f"note: labelled clips not found in {VIDEOS}: {', '.join(missing)}")
    models = {path: LocalModel(path) for path in (MODEL, FAST_MODEL)}
    header = f"{'face':>5} {'pl':>3} {'dec ms':>6} {'det ms':>6} {'cls ms':>6} {'agreement':>10}"
    names = PIPELINES
    rows: dict[str, dict[str, dict]] = {clip.name: {} for clip in clips}
    with tempfile.TemporaryDirectory() as folder:
        before, now = Path(folder) / "before", Path(folder) / "now"
        analyse_before(clips, before)
        for clip in clips:
            rows[clip.name] = {names[0]: measured(clip, before / clip.stem, truth[clip.name])}
            for name, (settings, model) in NOW.items():
                out = now / re.sub(r"\W", "_", name) / clip.stem
                analyze_session(clip, out, models[model], settings, progress=False)
                rows[clip.name][name] = measured(clip, out, truth[clip.name])
    print(f"{len(clips)} clips in {VIDEOS}, one person each; agreement with {LABELS.name} (seconds labelled with"
          f" an emotion); ms per sampled frame")
    print(f"{'':22} | " + " | ".join(f"{name:^42}" for name in names))
    print(f"{'clip':22} | " + " | ".join([header] * len(names)))
    for clip in clips:
        print(f"{clip.name:22} | " + " | ".join(cell(rows[clip.name][name]) for name in names))
    totals = {name: total([rows[c][name] for c in rows]) for name in names}
    phantoms = {name: {**totals[name], "players": totals[name]["phantom_players"]} for name in names}
    print(f"{'total (pl: phantoms)':22} | " + " | ".join(cell(phantoms[name]) for name in names))
    for name in names:
        t = totals[name]
        print(f"{name}: {t['phantom_players']} phantom players in {t['clips_with_phantoms']} clips,"
              f" {t['clips_without_player']} clips without a player;"
              f" mean face-visible ratio {t['face_visible_ratio']:.0%};"
              f" mean ms per frame decode {t['decode_ms']:.1f}, detect {t['detect_ms']:.1f},"
              f" classify {t['classify_ms']:.1f}; pooled agreement {t['matches']}/{t['labelled_seconds']}"
              f" = {t['agreement']:.0%}")
    note = cpu_note()
    print(f"machine: {note['cpu']}, {note['cores']} cores; avx512_bf16 {'yes' if note['avx512_bf16'] else 'no'},"
          f" amx_bf16 {'yes' if note['amx_bf16'] else 'no'} (speeds depend on these and on other load)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "videos": str(VIDEOS.relative_to(REPO.parent)), "labels": str(LABELS.relative_to(REPO)),
        "machine": note,
        "pipelines": {names[0]: {"code": f"commit {BEFORE} at its default settings", "model": str(MODEL.relative_to(REPO))},
                      **{name: {**asdict(settings), "model": str(model.relative_to(REPO))}
                         for name, (settings, model) in NOW.items()}},
        "clips": rows, "totals": totals}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
