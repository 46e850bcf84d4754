"""Annotations files: concurrent writers (processes, as two dashboards or tabs would be) lose nothing, a stale
edit is refused, a corrupt file is reported, and `fer aggregate` outputs list the annotations."""
from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from fer.insight.aggregate import write_aggregate
from fer.insight.summaries import load_summaries
from fer.playtest.annotations import (AnnotationsError, Conflict, add_annotation, annotations_path, delete_annotation,
                                      edit_annotation, read_annotations)
from tests.dashboard_fixtures import one_hour_session

pytestmark = pytest.mark.slow  # fer dashboard in Chromium

WRITERS, EACH = 4, 25


def _add_many(path: str, writer: int) -> None:
    for index in range(EACH):
        add_annotation(Path(path), "s", {"time_s": writer * 100 + index, "text": f"writer {writer} #{index}"})


def test_concurrent_writers_keep_every_annotation(tmp_path):
    path = annotations_path(tmp_path / "session")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(str(path), w)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    texts = {a["text"] for a in read_annotations(path)}
    assert texts == {f"writer {w} #{i}" for w in range(WRITERS) for i in range(EACH)}
    assert not list(tmp_path.glob("*.tmp")) and json.loads(path.read_text())["format"] == "fer-annotations/1"


def test_a_stale_edit_or_delete_is_refused_not_applied(tmp_path):
    path = annotations_path(tmp_path / "session")
    note = add_annotation(path, "s", {"time_s": 3, "kind": "note", "text": "first"})
    edited = edit_annotation(path, "s", note["id"], 1, {"time_s": 3, "kind": "note", "text": "tab one"})
    assert edited["revision"] == 2
    with pytest.raises(Conflict) as stale:
        edit_annotation(path, "s", note["id"], 1, {"time_s": 3, "text": "tab two, from the old revision"})
    assert stale.value.current["text"] == "tab one"
    with pytest.raises(Conflict):
        delete_annotation(path, "s", note["id"], 1)
    assert [a["text"] for a in read_annotations(path)] == ["tab one"]
    delete_annotation(path, "s", note["id"], 2)
    assert read_annotations(path) == []
    with pytest.raises(AnnotationsError):
        add_annotation(path, "s", {"time_s": -1})
    path.write_text("{half")
    with pytest.raises(AnnotationsError, match="not a readable annotations file"):
        read_annotations(path)


def test_aggregate_outputs_list_the_annotations(tmp_path):
    session = one_hour_session(tmp_path / "results")
    add_annotation(annotations_path(session), "one-hour", {"time_s": 1250, "text": "stuck at the bridge"})
    write_aggregate(load_summaries([tmp_path / "results"]), tmp_path / "aggregate")
    written = json.loads((tmp_path / "aggregate" / "aggregate.json").read_text())
    [row] = written["annotations"]
    assert row["session"] == "one-hour" and row["text"] == "stuck at the bridge" and row["segments"] == "1 / level3"
    assert "stuck at the bridge" in (tmp_path / "aggregate" / "aggregate.html").read_text()
    assert written["session_names"] == {"all": ["one-hour"]}
