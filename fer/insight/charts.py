"""The charts a studio decides from, drawn with matplotlib from comparison.json's content: a forest plot of
B - A per segment, the emotion mix per segment for each group, a heat strip of every participant, a trend over
groups. The dashboard draws the same four in the browser (fer/dashboard/static/charts.js)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer.insight.measures import EMOTIONS, RANGES, polarity
from fer.playtest.report import COLORS, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MORE_POSITIVE, MORE_NEGATIVE, CHANGED, UNCHANGED = "#2e8b57", "#c0392b", "#2f6db5", "#a0a7ad"


def colour(row: dict) -> str:
    """Green or red where a significant difference reads as more positive or negative, blue where the measure
    has no such reading, grey where nothing significant was found."""
    if not row.get("significant"):
        return UNCHANGED
    sign = polarity(row["measure"]) * np.sign(row["difference"])
    return MORE_POSITIVE if sign > 0 else MORE_NEGATIVE if sign < 0 else CHANGED


def tested(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with an interval (zeros and untested rows are folded away)."""
    return rows[rows.ci_low.notna()]


def forest_figure(rows: pd.DataFrame, measure: str, a: str, b: str) -> Figure:
    """B - A of ``measure`` per segment with its 95% interval; a dashed line at no difference."""
    shown = tested(rows[(rows.measure == measure) & (rows.a == a) & (rows.b == b)])
    figure, axis = pyplot().subplots(figsize=(8, 0.42 * max(len(shown), 1) + 1.3))
    for position, row in enumerate(shown.to_dict("records")):
        axis.plot([row["ci_low"], row["ci_high"]], [position, position], color=colour(row), lw=2.5)
        axis.plot(row["difference"], position, "o", color=colour(row), ms=7)
    axis.axvline(0, color="#333", lw=0.8, ls="--")
    axis.set_yticks(range(len(shown)), [f"{s}  (n {na}/{nb})" for s, na, nb in zip(shown.segment, shown.n_a, shown.n_b)])
    axis.set_ylim(len(shown) - 0.5, -0.5)
    low, high = RANGES[measure]
    axis.set_xlim(-(high - low) / 2, (high - low) / 2)
    axis.set_xlabel(f"{measure}: {b} minus {a}, 95% bootstrap interval (green: more positive, red: more negative,"
                    " grey: not significant)", fontsize=8)
    axis.set_title(f"{measure}: {b} vs {a}" + ("" if len(shown) else " (nothing could be tested)"), loc="left")
    return figure


def emotion_mix_figure(estimates: pd.DataFrame, groups: list[str]) -> Figure:
    """Mean share of time in each emotion per segment, one bar per group, side by side."""
    shares = estimates[estimates.measure.isin(EMOTIONS)]
    segments = list(dict.fromkeys(shares.segment))
    labels = [f"{segment} · {group}" for segment in segments for group in groups]
    figure, axis = pyplot().subplots(figsize=(10, 0.3 * len(labels) + 1.3))
    left = np.zeros(len(labels))
    for emotion in EMOTIONS:
        mine = shares[shares.measure == emotion].set_index(["segment", "group"])["mean"]
        values = np.array([mine.get((s, g), np.nan) for s in segments for g in groups], dtype=float)
        values = np.nan_to_num(values)
        axis.barh(range(len(labels)), values, left=left, color=COLORS[emotion], label=emotion)
        left += values
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set_ylim(len(labels) - 0.5, -0.5)
    axis.set_xlim(0, 1)
    axis.set_xlabel("mean share of time with a visible face, over participants")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axis.set_title("emotion mix per segment", loc="left")
    return figure


def heat_strip_figure(values: pd.DataFrame, measure: str, groups: list[str], segments: list[str]) -> Figure:
    """Every participant (a row, grouped) by segment (a column), coloured by ``measure`` over its whole range."""
    order = [(g, p) for g in groups for p in sorted(set(values[values.group == g].participant))]
    grid = np.full((len(order), len(segments)), np.nan)
    lookup = values.set_index(["group", "participant", "segment"])[measure]
    for i, (group, participant) in enumerate(order):
        for j, segment in enumerate(segments):
            grid[i, j] = lookup.get((group, participant, segment), np.nan)
    low, high = RANGES[measure]
    figure, axis = pyplot().subplots(figsize=(max(6, 0.9 * len(segments) + 3), 0.28 * len(order) + 1.6))
    cmap = pyplot().get_cmap("RdYlGn" if polarity(measure) else "viridis").with_extremes(bad="#eee")
    image = axis.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=low, vmax=high, aspect="auto")
    axis.set_xticks(range(len(segments)), segments, rotation=30, ha="right", fontsize=8)
    axis.set_yticks(range(len(order)), [f"{g} · {p}" for g, p in order], fontsize=7)
    figure.colorbar(image, ax=axis, label=measure)
    axis.set_title(f"{measure} of every participant per segment (grey: no face there)", loc="left")
    return figure


def trend_figure(estimates: pd.DataFrame, measure: str, groups: list[str]) -> Figure:
    """Each segment's mean of ``measure`` over the groups in order, with its 95% interval."""
    mine = estimates[estimates.measure == measure]
    figure, axis = pyplot().subplots(figsize=(8, 4))
    positions = np.arange(len(groups))
    for offset, segment in enumerate(dict.fromkeys(mine.segment)):
        rows = mine[mine.segment == segment].set_index("group").reindex(groups)
        x = positions + (offset - 2) * 0.03
        axis.plot(x, rows["mean"], marker="o", label=segment)
        has = rows.ci_low.notna().to_numpy()
        axis.vlines(x[has], rows.ci_low[has], rows.ci_high[has], alpha=0.5)
    axis.set_xticks(positions, groups)
    axis.set_ylim(*RANGES[measure])
    axis.set_ylabel(f"{measure} (mean, 95% interval)")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axis.set_title(f"{measure} over {len(groups)} groups", loc="left")
    return figure
