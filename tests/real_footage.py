"""A made-up playtest study of the real clips in ../shared/videos: three builds (41, 42, 43) of a game with an
intro, a boss fight and an outro, one participant per clip, and a participants table. The clips are linked into
the study's folders, never copied (their licence does not cover redistribution), and nothing here is ground
truth: the builds, events and participants are invented so that the analysis runs on real faces.

    python -m tests.real_footage STUDY    # writes STUDY/build41/p01.mp4 -> ../shared/videos/..., events, table
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"
BUILDS = {"41": ["liveportrait_d0", "liveportrait_d6", "liveportrait_d9", "liveportrait_d11"],
          "42": ["liveportrait_d12", "liveportrait_d13", "liveportrait_d14", "liveportrait_d18"],
          "43": ["liveportrait_d19", "liveportrait_d20", "fer_woman2"]}
SKILLS = ("novice", "veteran")
PLATFORMS = ("pc", "console")


def duration_s(video: Path) -> float:
    capture = cv2.VideoCapture(str(video))
    try:
        return capture.get(cv2.CAP_PROP_FRAME_COUNT) / (capture.get(cv2.CAP_PROP_FPS) or 25.0)
    finally:
        capture.release()


def events_csv(duration: float) -> str:
    """An intro, a boss fight and an outro, a third of the clip each, and a death two thirds into the fight."""
    third = duration / 3
    return (f"time,event,end,level\n0,intro,{third:.2f},1\n{third:.2f},boss,{2 * third:.2f},3\n"
            f"{third * 1.67:.2f},death,,3\n{2 * third:.2f},outro,{duration:.2f},4\n")


def make_study(study: Path, videos: Path = VIDEOS) -> Path:
    """The study's folders (build<n>/p<k>.mp4 linked to the clips, with p<k>.events.csv) and participants.csv."""
    rows, number = ["participant,skill,platform,clip"], 0
    for build, clips in BUILDS.items():
        folder = study / f"build{build}"
        folder.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            number += 1
            participant = f"p{number:02d}"
            video = videos / f"{clip}.mp4"
            link = folder / f"{participant}.mp4"
            if not link.exists():
                link.symlink_to(video)
            (folder / f"{participant}.events.csv").write_text(events_csv(duration_s(video)))
            rows.append(f"{participant},{SKILLS[number % 2]},{PLATFORMS[(number // 2) % 2]},{clip}")
    (study / "participants.csv").write_text("\n".join(rows) + "\n")
    return study


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(make_study(Path(sys.argv[1])))
