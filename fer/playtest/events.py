"""Game events logged during a playtest: CSV or JSON Lines, one event per line.

Each event has ``time`` (seconds on the game's clock) and ``event`` (its name), optionally ``end``
(seconds; the event is then a segment such as a boss fight) and ``level``. An event without an end
is a moment (a death, a checkpoint); its segment is the reaction window that follows it.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from fer.playtest.files import separator_of, spreadsheet_text


class EventsError(ValueError):
    """A bad events file; the message names the file and line."""


@dataclass(frozen=True)
class Event:
    time_s: float
    name: str
    end_s: float | None = None
    level: str | None = None

    @property
    def label(self) -> str:
        return f"{self.level} / {self.name}" if self.level else self.name


def _event(record: dict, where: str) -> Event:
    name = str(record.get("event") or "").strip()
    if not name:
        raise EventsError(f"{where}: no event name")
    try:
        time_s = float(record["time"])
        end = record.get("end")
        end_s = float(end) if end not in (None, "") else None
    except KeyError:
        raise EventsError(f"{where}: no time") from None
    except (TypeError, ValueError):
        raise EventsError(f"{where}: time and end must be numbers of seconds, got {record.get('time')!r}"
                          f" and {record.get('end')!r}") from None
    if not math.isfinite(time_s) or (end_s is not None and not (math.isfinite(end_s) and end_s > time_s)):
        raise EventsError(f"{where}: the event must have a finite time and an end after it")
    level = record.get("level")
    return Event(time_s, name, end_s, str(level) if level not in (None, "") else None)


def load_events(path: Path) -> list[Event]:
    """Events sorted by time; the first bad line raises EventsError naming it."""
    path = Path(path)
    try:
        text = spreadsheet_text(path)  # UTF-8 with or without a byte-order mark, or a spreadsheet's UTF-16
    except OSError as error:
        raise EventsError(f"{path}: cannot be read: {error.strerror or error}") from None
    except UnicodeError as error:
        raise EventsError(str(error)) from None
    events = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise EventsError(f"{path}:{number}: not JSON: {error}") from None
            if not isinstance(record, dict):
                raise EventsError(f"{path}:{number}: each line must be a JSON object")
            events.append(_event(record, f"{path}:{number}"))
    else:
        lines = text.splitlines()
        separator = separator_of(lines[0] if lines else "")
        reader = csv.DictReader(lines, delimiter=separator)
        reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
        if not {"time", "event"} <= set(reader.fieldnames):
            raise EventsError(f"{path}:1: the header must name at least the columns time and event; found"
                              f" {', '.join(map(repr, reader.fieldnames)) or 'nothing'} separated by {separator!r}")
        for record in reader:
            events.append(_event(record, f"{path}:{reader.line_num}"))
    return sorted(events, key=lambda e: e.time_s)
