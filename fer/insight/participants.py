"""Who the players were: a participants table (CSV: a ``participant`` column, plus any the studio keeps: skill,
age band, platform, ...) joined to the per-participant rows, and filters and groups over any column.

A session is linked to its participant by the table's ``session`` column (a session's name, or its recording's
file name with or without extension) or, without one, by a regular expression that finds the participant's id in
the session's name (its group ``participant``, else the whole match): ``p\\d+`` finds p07 in build42/p07_day2.
A table's ``player`` column, where there is one, picks the player of a session with several. Without any link,
each session's player is a participant of its own (``<session>`` or, with several players, ``<session>#<n>``).
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from fer.insight.measures import EVERY
from fer.playtest.files import separator_of, spreadsheet_text

PARTICIPANT = "participant"
SESSION_COLUMNS = ("session", "build", "player", "participant", "model", "source")


class ParticipantsError(ValueError):
    """A bad participants table, link or filter; the message names the file, line or session at fault."""


def read_participants(path: Path) -> pd.DataFrame:
    """The table, indexed by participant id (text), every other column kept as text. Comma-, semicolon- or
    tab-separated, UTF-8 or UTF-16 (what spreadsheets write)."""
    path = Path(path)
    try:
        text = spreadsheet_text(path)
    except OSError as error:
        raise ParticipantsError(f"{path}: cannot be read: {error.strerror or error}") from None
    except UnicodeError as error:
        raise ParticipantsError(str(error)) from None
    separator = separator_of(text.splitlines()[0] if text.strip() else "")
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    if not rows:
        raise ParticipantsError(f"{path}: empty: the first line must name the columns, one of them {PARTICIPANT}")
    columns = [c.strip() for c in rows[0]]
    if PARTICIPANT not in columns:
        raise ParticipantsError(f"{path}, line 1: no column {PARTICIPANT!r} (columns found, separated by "
                                f"{separator!r}: {', '.join(columns)})")
    clashes = set(columns) & (set(SESSION_COLUMNS) - {PARTICIPANT, "session", "player"})
    if clashes:
        raise ParticipantsError(f"{path}, line 1: column {', '.join(sorted(clashes))} is the sessions' own;"
                                " rename it in the table")
    records, seen = [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise ParticipantsError(f"{path}, line {line}: {len(row)} fields where the header has {len(columns)}")
        record = dict(zip(columns, (cell.strip() for cell in row)))
        key = (record[PARTICIPANT], record.get("session", ""), record.get("player", ""))
        if not record[PARTICIPANT]:
            raise ParticipantsError(f"{path}, line {line}: no participant id")
        if key in seen:
            raise ParticipantsError(f"{path}, line {line}: participant {record[PARTICIPANT]!r} is listed again"
                                    f" (first on line {seen[key]})")
        seen[key] = line
        records.append(record)
    return pd.DataFrame(records, columns=columns)


def _session_keys(row: pd.Series) -> set[str]:
    keys = {str(row.session)}
    if isinstance(row.source, str) and row.source:
        keys |= {Path(row.source).name, Path(row.source).stem}
    return keys


def link(rows: pd.DataFrame, table: pd.DataFrame | None = None, pattern: str | None = None) -> pd.DataFrame:
    """``rows`` (fer.insight.summaries.player_rows) with a ``participant`` column and the table's columns."""
    rows = rows.copy()
    if table is None and pattern is None:
        players = rows.groupby("session").player.transform("nunique")
        rows[PARTICIPANT] = [s if n == 1 else f"{s}#{p}" for s, p, n in zip(rows.session, rows.player, players)]
        return rows
    if table is not None and "session" in table.columns:
        rows[PARTICIPANT] = [_by_session(row, table) for row in rows.itertuples()]
    else:
        rows[PARTICIPANT] = [_by_pattern(row, pattern) for row in rows.itertuples()]
    rows = rows[rows[PARTICIPANT].notna()]
    if table is None:
        return rows
    known = set(table[PARTICIPANT])
    unknown = sorted({(p, s) for p, s in zip(rows[PARTICIPANT], rows.session) if p not in known})
    if unknown:
        raise ParticipantsError("participant not in the table: " + "; ".join(f"{p!r} (session {s})" for p, s in unknown))
    attributes = table.drop(columns=[c for c in ("session", "player") if c in table.columns])
    attributes = attributes.drop_duplicates(PARTICIPANT)
    return rows.merge(attributes, on=PARTICIPANT, how="left")


def _by_session(row, table: pd.DataFrame) -> str | None:
    matches = table[table.session.isin(_session_keys(row))]
    if "player" in table.columns and len(matches) > 1:
        matches = matches[matches.player.isin([str(row.player), ""])]
    if len(matches) > 1:
        raise ParticipantsError(f"session {row.session}: several participants in the table"
                                f" ({', '.join(matches[PARTICIPANT])}); give a player column")
    if len(matches) == 0:
        raise ParticipantsError(f"session {row.session}: not in the participants table's session column")
    if "player" in table.columns and matches.player.iloc[0] not in ("", str(row.player)):
        return None  # another player of that session: not a participant
    return matches[PARTICIPANT].iloc[0]


def _by_pattern(row, pattern: str) -> str:
    found = re.search(pattern, str(row.session))
    if found is None:
        raise ParticipantsError(f"session {row.session}: the participant pattern {pattern!r} finds no id in its name")
    participant = found.groupdict().get(PARTICIPANT) or found.group(0)
    return participant if row.player == "1" else f"{participant}#{row.player}"


def parse_condition(text: str) -> tuple[str, str, str]:
    """``column=value`` or ``column!=value`` (a value may list several, comma-separated)."""
    found = re.fullmatch(r"\s*([^=!]+?)\s*(!=|=)\s*(.*?)\s*", text)
    if not found or not found.group(3):
        raise ParticipantsError(f"--where {text!r}: write COLUMN=VALUE or COLUMN!=VALUE (VALUE may be A,B)")
    return found.group(1), found.group(2), found.group(3)


def where(rows: pd.DataFrame, conditions: list[str]) -> pd.DataFrame:
    """The rows meeting every condition (fer.insight.participants.parse_condition's form)."""
    for condition in conditions:
        column, operator, value = parse_condition(condition)
        if column not in rows.columns:
            raise ParticipantsError(f"--where {condition!r}: no column {column!r} (columns: "
                                    f"{', '.join(c for c in rows.columns if c not in EVERY)})")
        inside = rows[column].astype(str).isin([v.strip() for v in value.split(",")])
        rows = rows[inside if operator == "=" else ~inside]
    return rows


def group_order(labels, order: list[str] | None = None) -> list[str]:
    """The groups in ``order`` where given, else in natural order (build 9 before build 10)."""
    present = list(dict.fromkeys(str(label) for label in labels))
    if order:
        missing = [o for o in order if o not in present]
        if missing:
            raise ParticipantsError(f"--order names {', '.join(missing)}, which no session has (groups: {', '.join(present)})")
        return list(order)
    natural = lambda text: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]  # noqa: E731
    return sorted(present, key=natural)


def grouped(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """``rows`` with a ``group`` column: the value of ``by`` (a session's or the table's column) as text."""
    if by not in rows.columns:
        raise ParticipantsError(f"--by {by!r}: no such column (the sessions have {', '.join(SESSION_COLUMNS[:3])};"
                                " others come from --participants)")
    rows = rows.copy()
    rows["group"] = rows[by].map(lambda v: "(none)" if v is None or (isinstance(v, float) and v != v) else str(v))
    return rows

