"""Self-contained HTML reports: plots drawn with matplotlib and embedded as PNG data, tables as HTML."""
from __future__ import annotations

import base64
import functools
import html
import io
import urllib.parse
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer.contract import CLASS_NAMES
from fer.dashboard.address import DEFAULT_HOST, DEFAULT_PORT
from fer.playtest.analytics import PROBABILITY_COLUMNS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLORS = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#2ca02c", "sad": "#1f77b4",
          "surprise": "#ff7f0e", "neutral": "#bdbdbd"}
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
         "th{background:#f4f4f4}img{max-width:100%}.warn{color:#a60}.sig{background:#ffe9a8}")


@functools.cache
def pyplot():
    """matplotlib.pyplot on the Agg backend, imported when the first figure is drawn: half a second that a command
    drawing nothing (a re-run with nothing left) should not pay before its first line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
    return matplotlib.pyplot


def figure_html(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    pyplot().close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(frame: pd.DataFrame, highlight: pd.Series | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for index, row in enumerate(frame.itertuples(index=False)):
        cells = "".join(f"<td>{html.escape(_format(v))}</td>" for v in row)
        marked = highlight is not None and bool(highlight.iloc[index])
        rows.append(f'<tr class="sig">{cells}</tr>' if marked else f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _format(value) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.3f}"
    return "" if value is None else str(value)


DASHBOARD_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"  # where `fer dashboard RESULTS` listens by default


def dashboard_link(session: str) -> str:
    """A link to the session's page in `fer dashboard`, which works while one runs on its results folder."""
    url = f"{DASHBOARD_URL}/session/{urllib.parse.quote(session)}"
    return (f'<p><a class="dashboard" href="{html.escape(url)}">{html.escape(url)}</a>: the video with these'
            " emotions, seekable, with annotations; it opens while <code>fer dashboard RESULTS</code> runs on"
            " this session's results folder (on its default host and port).</p>")


def page(title: str, sections: list[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(heading)}</h2>{content}" for heading, content in sections)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def timeline_figure(timeline: pd.DataFrame, frames: pd.DataFrame, segments: list[dict], player: int) -> Figure:
    """Stacked smoothed probabilities over time, no-face gaps in grey, event segments and moments marked."""
    rows = timeline[timeline.player == player]
    figure, (top, bottom) = pyplot().subplots(2, 1, figsize=(11, 5), sharex=True, height_ratios=[3, 1.4])
    top.stackplot(rows.time_s, rows[PROBABILITY_COLUMNS].to_numpy().T, labels=CLASS_NAMES,
                  colors=[COLORS[e] for e in CLASS_NAMES], alpha=0.9)
    seen = set(rows.time_s)
    step = np.median(np.diff(np.sort(frames.time_s.unique()))) if frames.time_s.nunique() > 1 else 1.0
    for t in sorted(set(frames.time_s) - seen):
        top.axvspan(t - step / 2, t + step / 2, color="#000", alpha=0.12, lw=0)
    for span in segments:
        for axis in (top, bottom):
            if span["moment"]:
                axis.axvline(span["start_s"], color="k", lw=1, ls="--")
            else:
                axis.axvspan(span["start_s"], span["end_s"], color="#4a90d9", alpha=0.08)
        top.text(span["start_s"], 1.01, span["segment"], rotation=30, fontsize=7, va="bottom")
    top.set_ylim(0, 1)
    top.set_ylabel("probability")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    bottom.plot(rows.time_s, rows.valence, label="valence", color="#2ca02c")
    bottom.plot(rows.time_s, rows.arousal, label="arousal", color="#d62728")
    if "valence_calibrated" in rows:
        bottom.plot(rows.time_s, rows.valence_calibrated, label="valence, calibrated", color="#2ca02c", ls=":")
        bottom.plot(rows.time_s, rows.arousal_calibrated, label="arousal, calibrated", color="#d62728", ls=":")
    bottom.axhline(0, color="#999", lw=0.5)
    bottom.set_ylim(-1, 1)
    bottom.set_xlabel("time in the recording (s)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    top.set_title(f"player {player}: emotions over time (grey: no face)", loc="left", pad=28)
    return figure


def share_bars_figure(shares: pd.DataFrame, title: str) -> Figure:
    """Stacked horizontal bars: the share of time in each emotion per row of ``shares``."""
    figure, axis = pyplot().subplots(figsize=(10, 0.45 * len(shares) + 1.2))
    left = np.zeros(len(shares))
    for emotion in CLASS_NAMES:
        values = shares[emotion].fillna(0).to_numpy()
        axis.barh(shares.index.astype(str), values, left=left, color=COLORS[emotion], label=emotion)
        left += values
    axis.set_xlim(0, 1)
    axis.invert_yaxis()
    axis.set_xlabel("share of time with a visible face")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axis.set_title(title, loc="left")
    return figure
