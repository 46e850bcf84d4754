"""Pages a studio reads: comparison.html beside comparison.json, and the producer's one-file report (headline
findings in plain words, the four charts, the strongest moments with a still of the face and of the gameplay).

Every image is embedded, so the report opens offline from an email attachment; `fer report` also writes each chart
as PNG and SVG beside it.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from fer.insight import charts
from fer.insight.measures import measures
from fer.insight.summaries import WHOLE_SESSION
from fer.playtest import report as pages


def chart_figures(content: dict, measure: str | None = None) -> dict[str, object]:
    """The charts of a comparison, by file stem: forest plots of each contrast, the emotion mix, the heat
    strip and, with three or more groups, the trend."""
    measure = measure or measures(content["calibrated"])[0]
    rows, estimates = pd.DataFrame(content["rows"]), pd.DataFrame(content["estimates"])
    values = pd.DataFrame(content["participant_values"])
    groups = content["groups"]
    figures = {}
    for contrast in content["contrasts"]:
        figures[f"forest_{contrast['a']}_{contrast['b']}"] = charts.forest_figure(rows, measure, contrast["a"],
                                                                                 contrast["b"])
    if not content["calibrated"]:
        figures["emotion_mix"] = charts.emotion_mix_figure(estimates, groups)
    if len(values):
        segments = [s for s in dict.fromkeys(values.segment) if s != WHOLE_SESSION]
        figures["heat_strip"] = charts.heat_strip_figure(values, measure, groups, segments or [WHOLE_SESSION])
    if len(groups) >= 3:
        figures["trend"] = charts.trend_figure(estimates, measure, groups)
    return figures


def _rows_table(content: dict, brief: bool = False) -> pd.DataFrame:
    """The tested rows; ``brief``: only the significant ones and those of the headline measure."""
    rows = pd.DataFrame(content["rows"])
    if rows.empty:
        return rows
    shown = rows[rows.p.notna()]
    if brief:
        shown = shown[shown.significant | (shown.measure == measures(content["calibrated"])[0])]
    return shown.reset_index(drop=True)


TABLE_COLUMNS = ["a", "b", "segment", "measure", "design", "n_a", "n_b", "mean_a", "mean_b", "difference", "ci_low",
                 "ci_high", "hedges_g", "p", "q", "direction", "note"]


def headline_html(content: dict) -> str:
    groups = " → ".join(content["groups"])
    lines = [f"<p>{content['sessions']} sessions, {content['participants']} participants, grouped by "
             f"{html.escape(str(content['by']))}: {html.escape(groups)}. Intervals: {content['interval']['method']},"
             f" {content['interval']['level']:.0%}; q: Benjamini-Hochberg over each contrast's tests.</p>"]
    lines += [f'<p class="warn">{html.escape(w)}</p>' for w in content["warnings"]]
    if content["note"]:
        lines.append(f'<p class="warn">{html.escape(content["note"])}</p>')
    found = content["findings"]
    lines.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in found) + "</ul>" if found
                 else f"<p>No difference is significant at q &lt; {content['alpha']}"
                      f" ({content['tested']} tests over {content['participants']} participants).</p>")
    return "".join(lines)


def comparison_page(content: dict, moments: list[dict] | None = None, title: str | None = None,
                    brief: bool = False) -> str:
    """The comparison as one self-contained page; with ``moments`` (clips.with_stills), their stills too;
    ``brief``: the table keeps the significant rows and the headline measure's (comparison.csv has them all)."""
    sections = [("Findings", headline_html(content))]
    sections += [(stem.replace("_", " "), pages.figure_html(figure, stem)) for stem, figure in chart_figures(content).items()]
    if moments:
        sections.append(("Strongest moments", moments_html(moments)))
    table = _rows_table(content, brief)
    heading = (f"Significant rows and every {measures(content['calibrated'])[0]} row (all of them: comparison.csv)"
               if brief else "Every tested segment and measure")
    sections.append((heading, pages.table_html(table[TABLE_COLUMNS], highlight=table.significant.astype(bool))
                     if len(table) else "<p>nothing was tested</p>"))
    title = title or f"Playtest: {' vs '.join(content['groups'])}"
    return pages.page(title, sections)


def _image(jpeg: bytes | None, alt: str) -> str:
    if not jpeg:
        return f"<em>{html.escape(alt)}: no still</em>"
    return f'<img alt="{html.escape(alt)}" src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}">'


def moments_html(moments: list[dict]) -> str:
    cells = []
    for moment in moments:
        stills = _image(moment.get("face"), "face") + (_image(moment["gameplay"], "gameplay") if "gameplay" in moment else "")
        cells.append(f"<div class='moment'><p><b>{html.escape(moment['session'])}</b> at {moment['time_s']:.1f} s:"
                     f" {html.escape(moment['emotion'])} {moment['probability']:.2f}"
                     f" ({html.escape(str(moment.get('segment') or ''))})</p>{stills}</div>")
    return "<style>.moment{display:inline-block;margin:6px;vertical-align:top}.moment img{max-height:200px;" \
           "margin-right:4px}</style>" + "".join(cells)


def write_report(content: dict, moments: list[dict], out_file: Path, charts_dir: Path) -> list[Path]:
    """The one-file report and every chart as PNG and SVG; returns the files written."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    charts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, figure in chart_figures(content).items():
        for suffix in ("png", "svg"):
            path = charts_dir / f"{stem}.{suffix}"
            figure.savefig(path, dpi=110, bbox_inches="tight")
            written.append(path)
        pages.pyplot().close(figure)
    out_file.write_text(comparison_page(content, moments, f"Playtest report: {' vs '.join(content['groups'])}",
                                        brief=True))
    return [out_file, *written]
