"""The measures compared across sessions, the range each lives in, and which way reads as more positive."""
from __future__ import annotations

from fer.contract import CLASS_NAMES

# Raw measures: valence, arousal, face visible, attention and each emotion's share of time. Calibrated ones
# (fer.playtest.calibration): valence and arousal minus the player's baseline, and each emotion's shift
# (its mean probability minus the baseline's); face visible and attention have no baseline.
RAW = ["valence", "arousal", "face_visible_ratio", "attention", *CLASS_NAMES]
CALIBRATED = ["valence_calibrated", "arousal_calibrated", "face_visible_ratio", "attention",
              *(f"{e}_shift" for e in CLASS_NAMES)]
EVERY = list(dict.fromkeys(RAW + CALIBRATED))
EMOTIONS = list(CLASS_NAMES)

# Where a participant's mean of each measure can lie (the circumplex places every emotion in [-1, 1]; a
# calibrated value is a difference of two of those; shares and probabilities are in [0, 1]).
RANGES = {"valence": (-1.0, 1.0), "arousal": (-1.0, 1.0), "face_visible_ratio": (0.0, 1.0), "attention": (0.0, 1.0),
          **{e: (0.0, 1.0) for e in CLASS_NAMES},
          "valence_calibrated": (-2.0, 2.0), "arousal_calibrated": (-2.0, 2.0),
          **{f"{e}_shift": (-1.0, 1.0) for e in CLASS_NAMES}}

# +1: higher reads as a more positive experience, -1: as a more negative one, 0: neither (arousal, surprise,
# neutral, attention: whether more is wanted depends on what the designer meant the moment to do).
_POSITIVE, _NEGATIVE = {"happy"}, {"angry", "disgust", "fear", "sad"}


def polarity(measure: str) -> int:
    base = measure.removesuffix("_shift").removesuffix("_calibrated")
    if base == "valence" or base in _POSITIVE:
        return 1
    return -1 if base in _NEGATIVE else 0


def direction(measure: str, difference: float | None) -> str | None:
    """How B reads against A on this measure: "more positive", "more negative", "higher" or "lower"."""
    if difference is None or difference == 0:
        return None
    sign = polarity(measure)
    if sign == 0:
        return "higher" if difference > 0 else "lower"
    return "more positive" if sign * difference > 0 else "more negative"


def measures(calibrated: bool) -> list[str]:
    return CALIBRATED if calibrated else RAW
