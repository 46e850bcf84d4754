"""Statistics over participants: numbers in, results out, no I/O (as scipy.stats' functions are).

Every value is one participant's (a session's player's) mean over a segment, never a frame. Intervals are
percentile bootstraps over participants: each resampled mean lies between the smallest and largest value, so an
interval never leaves its measure's range (valence in [-1, 1], shares in [0, 1]). Effect sizes are Hedges' g
(independent groups) or g_z (paired: the mean difference over the differences' standard deviation), both with
the small-sample correction J and a normal-approximation 95% interval. p-values come from Welch's t-test or the
paired t-test; fer.insight.compare adjusts them with Benjamini-Hochberg. Groups of fewer than MIN_PARTICIPANTS
get no interval and no test, and say so.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_PARTICIPANTS = 3  # fewer: no interval and no test ("n = 2: too few to test")
SMALL_SAMPLE = 10  # fewer: results are marked as from a small sample
LEVEL = 0.95
RESAMPLES = 10_000
SEED = 0


def too_few(n: int) -> str:
    return f"n = {n}: too few to test (at least {MIN_PARTICIPANTS} participants)"


@dataclass(frozen=True)
class Estimate:
    """A group's mean with its bootstrap interval; ``low``/``high`` are None where ``note`` says why."""
    n: int
    mean: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class Difference:
    """B minus A: means, the difference with its bootstrap interval, Hedges' g with its interval, the test's p."""
    design: str  # "independent" or "paired"
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None
    low: float | None = None
    high: float | None = None
    g: float | None = None
    g_low: float | None = None
    g_high: float | None = None
    p: float | None = None
    note: str | None = None


def _clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _resampled_means(values: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    return values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(values, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """The mean of ``values`` (one per participant; NaN left out) with its percentile bootstrap interval."""
    values = _clean(values)
    n = len(values)
    if n == 0:
        return Estimate(0, None, note="no participant")
    mean = float(values.mean())
    if n < MIN_PARTICIPANTS:
        return Estimate(n, mean, note=too_few(n))
    low, high = _percentiles(_resampled_means(values, np.random.default_rng(seed), resamples), level)
    return Estimate(n, mean, low, high)


def _correction(degrees_of_freedom: float) -> float:
    """Hedges' J: removes the small-sample bias of Cohen's d."""
    return 1 - 3 / (4 * degrees_of_freedom - 1)


def hedges_g(a, b, level: float = LEVEL) -> tuple[float | None, float | None, float | None]:
    """Hedges' g of B minus A over the pooled standard deviation, with its normal-approximation interval
    (Hedges & Olkin 1985: var(g) = (n_a + n_b) / (n_a n_b) + g^2 / (2 (n_a + n_b))). None where undefined."""
    a, b = _clean(a), _clean(b)
    n_a, n_b = len(a), len(b)
    if n_a < 2 or n_b < 2:
        return None, None, None
    pooled = math.sqrt(((n_a - 1) * a.var(ddof=1) + (n_b - 1) * b.var(ddof=1)) / (n_a + n_b - 2))
    if pooled == 0:
        return None, None, None
    g = _correction(n_a + n_b - 2) * (b.mean() - a.mean()) / pooled
    half = stats.norm.ppf(0.5 + level / 2) * math.sqrt((n_a + n_b) / (n_a * n_b) + g * g / (2 * (n_a + n_b)))
    return float(g), float(g - half), float(g + half)


def hedges_g_paired(differences, level: float = LEVEL) -> tuple[float | None, float | None, float | None]:
    """g_z of paired differences (their mean over their standard deviation, J-corrected), with its interval
    (var(g_z) = 1/n + g_z^2 / (2n))."""
    differences = _clean(differences)
    n = len(differences)
    if n < 2 or differences.std(ddof=1) == 0:
        return None, None, None
    g = _correction(n - 1) * differences.mean() / differences.std(ddof=1)
    half = stats.norm.ppf(0.5 + level / 2) * math.sqrt(1 / n + g * g / (2 * n))
    return float(g), float(g - half), float(g + half)


def _varies(*groups: np.ndarray) -> bool:
    """Some group's values differ from each other by more than rounding (constant data make t-tests meaningless
    and scipy warn of catastrophic cancellation)."""
    scale = max(1.0, *(float(np.abs(g).max()) for g in groups if len(g)))
    return any(len(g) > 1 and float(np.ptp(g)) > 1e-9 * scale for g in groups)


def _p_value(test, *samples: np.ndarray) -> float | None:
    if not _varies(*samples):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(test(*samples).pvalue)
    return p if math.isfinite(p) else None


def compare_independent(a, b, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> Difference:
    """B minus A for two groups of different participants: Welch's t-test, a bootstrap interval resampling each
    group's participants, Hedges' g."""
    a, b = _clean(a), _clean(b)
    means = (float(a.mean()) if len(a) else None, float(b.mean()) if len(b) else None)
    difference = None if None in means else means[1] - means[0]
    base = dict(design="independent", n_a=len(a), n_b=len(b), mean_a=means[0], mean_b=means[1], difference=difference)
    smallest = min(len(a), len(b))
    if smallest < MIN_PARTICIPANTS:
        return Difference(**base, note=too_few(smallest))
    rng = np.random.default_rng(seed)
    low, high = _percentiles(_resampled_means(b, rng, resamples) - _resampled_means(a, rng, resamples), level)
    p = _p_value(lambda x, y: stats.ttest_ind(y, x, equal_var=False), a, b)
    g, g_low, g_high = hedges_g(a, b, level)
    return Difference(**base, low=low, high=high, g=g, g_low=g_low, g_high=g_high, p=p,
                      note=None if p is not None else "no variation: nothing to test")


def compare_paired(a, b, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = SEED) -> Difference:
    """B minus A for the same participants in both (a[i] and b[i] are one participant's; pairs with a NaN are
    left out): the paired t-test, a bootstrap interval resampling participants' differences, g_z."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    kept = np.isfinite(a) & np.isfinite(b)
    a, b = a[kept], b[kept]
    n = len(a)
    differences = b - a
    base = dict(design="paired", n_a=n, n_b=n, mean_a=float(a.mean()) if n else None,
                mean_b=float(b.mean()) if n else None, difference=float(differences.mean()) if n else None)
    if n < MIN_PARTICIPANTS:
        return Difference(**base, note=too_few(n))
    low, high = _percentiles(_resampled_means(differences, np.random.default_rng(seed), resamples), level)
    p = _p_value(lambda d: stats.ttest_1samp(d, 0.0), differences)
    g, g_low, g_high = hedges_g_paired(differences, level)
    return Difference(**base, low=low, high=high, g=g, g_low=g_low, g_high=g_high, p=p,
                      note=None if p is not None else "no variation: nothing to test")


def benjamini_hochberg(p_values) -> np.ndarray:
    """q-values (Benjamini-Hochberg adjusted p-values); NaN where a p-value is NaN, which does not count."""
    p_values = np.asarray(p_values, dtype=float)
    q = np.full(len(p_values), np.nan)
    tested = np.isfinite(p_values)
    if tested.any():
        q[tested] = stats.false_discovery_control(p_values[tested])
    return q
