"""Participants and groups as `fer aggregate` and `fer compare` read them: a participants table's bad inputs named,
groups within a build, three builds as a trend, folders labelled with another build warned of, and no interval
in any output outside its measure's range."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fer.insight.measures import RANGES
from fer.insight.participants import ParticipantsError, link, read_participants
from fer.insight.summaries import player_rows
from tests.conftest import REPO
from tests.insight_fixtures import summary, write

SKILL = {f"p{i:02d}": "novice" if i < 4 else "veteran" for i in range(8)}


def fer(*arguments, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer.cli", *map(str, arguments)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Three builds of the same eight participants: build 42's boss drops valence by 0.4 for everyone, build 43
    by 0.2; in build 42 veterans' intro valence is 0.3 above novices'."""
    root = tmp_path_factory.mktemp("insight")
    rng = np.random.default_rng(5)
    resting_valence = {participant: rng.normal(0.1, 0.15) for participant in SKILL}
    for build, drop in (("41", 0.0), ("42", 0.4), ("43", 0.2)):
        for participant, skill in SKILL.items():
            resting = resting_valence[participant]
            intro = resting + (0.3 if build == "42" and skill == "veteran" else 0.0)
            boss = resting - drop + rng.normal(0, 0.03)
            write(root / "results" / f"b{build}" / participant,
                  summary(f"b{build}/{participant}", build, {"1 / intro": intro, "3 / boss": boss}))
    table = root / "participants.csv"
    table.write_text("participant,skill\n" + "".join(f"{p},{s}\n" for p, s in SKILL.items()))
    return root


def rows_of(content: dict, **match) -> list[dict]:
    return [r for r in content["rows"] if all(r[k] == v for k, v in match.items())]


def test_three_builds_are_compared_paired_with_a_trend(results, tmp_path):
    run = fer("compare", results / "results", "--participant-pattern", r"p\d+", "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    content = json.loads((tmp_path / "comparison.json").read_text())
    assert content["schema"] == "fer-comparison/2" and content["groups"] == ["41", "42", "43"]
    assert content["contrasts"] == [{"a": "41", "b": "42"}, {"a": "42", "b": "43"}]
    (boss,) = rows_of(content, a="41", b="42", segment="3 / boss", measure="valence")
    assert boss["design"] == "paired" and boss["n_a"] == 8 and boss["significant"]
    assert boss["difference"] == pytest.approx(-0.4, abs=0.05) and boss["ci_high"] < 0
    assert boss["direction"] == "more negative" and boss["hedges_g"] < -3
    (recovery,) = rows_of(content, a="42", b="43", segment="3 / boss", measure="valence")
    assert recovery["difference"] == pytest.approx(0.2, abs=0.05) and recovery["direction"] == "more positive"
    trend = [e for e in content["estimates"] if e["segment"] == "3 / boss" and e["measure"] == "valence"]
    assert [e["group"] for e in trend] == ["41", "42", "43"] and all(e["n"] == 8 for e in trend)
    assert any("3 / boss: valence lower in build 42 than 41 by 0.4" in f for f in content["findings"])
    assert "3 / boss: valence lower in build 42 than 41" in run.stdout


def test_groups_within_one_build_come_from_the_participants_table(results, tmp_path):
    run = fer("compare", results / "results", "--participants", results / "participants.csv", "--participant-pattern",
              r"p\d+", "--by", "skill", "--where", "build=42", "--out", tmp_path / "skill")
    assert run.returncode == 0, run.stderr
    content = json.loads((tmp_path / "skill" / "comparison.json").read_text())
    assert content["groups"] == ["novice", "veteran"] and content["by"] == "skill"
    (intro,) = rows_of(content, segment="1 / intro", measure="valence")
    assert intro["design"] == "independent" and (intro["n_a"], intro["n_b"]) == (4, 4)
    assert intro["difference"] == pytest.approx(0.3, abs=0.25)
    aggregate = fer("aggregate", results / "results", "--participants", results / "participants.csv",
                    "--participant-pattern", r"p\d+", "--by", "skill", "--out", tmp_path / "agg")
    assert aggregate.returncode == 0, aggregate.stderr
    written = json.loads((tmp_path / "agg" / "aggregate.json").read_text())
    assert written["groups"] == ["novice", "veteran"] and written["participants"] == 8


def test_no_interval_in_any_output_leaves_its_measures_range(results, tmp_path):
    assert fer("compare", results / "results", "--out", tmp_path / "c").returncode == 0
    assert fer("aggregate", results / "results", "--by", "build", "--out", tmp_path / "a").returncode == 0
    comparison = json.loads((tmp_path / "c" / "comparison.json").read_text())
    aggregate = json.loads((tmp_path / "a" / "aggregate.json").read_text())
    checked = 0
    for row in comparison["estimates"] + aggregate["segments"]:
        low, high = RANGES[row["measure"]]
        if row["ci_low"] is not None:
            assert low <= row["ci_low"] <= row["mean"] <= row["ci_high"] <= high, row
            checked += 1
    for row in comparison["rows"]:
        low, high = RANGES[row["measure"]]
        if row["ci_low"] is not None:
            assert -(high - low) <= row["ci_low"] <= row["difference"] <= row["ci_high"] <= high - low, row
            checked += 1
    assert checked > 100


def test_folders_given_as_builds_are_checked_against_their_labels(results, tmp_path):
    run = fer("compare", "--a", results / "results" / "b41", "--b", results / "results" / "b41",
              results / "results" / "b42", "--name-b", "41", "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    assert "sessions given as 41 are labelled build 42 in their summaries" in run.stderr
    assert "8 sessions are on both sides" in run.stderr
    named = fer("compare", "--a", results / "results" / "b41", "--b", results / "results" / "b43", "--out", tmp_path / "n")
    assert named.returncode == 0 and "warning" not in named.stderr, named.stderr
    assert json.loads((tmp_path / "n" / "comparison.json").read_text())["groups"] == ["41", "43"]


def test_small_groups_are_said_plainly(results, tmp_path):
    run = fer("compare", results / "results" / "b41" / "p00", results / "results" / "b41" / "p01",
              results / "results" / "b42" / "p00", results / "results" / "b42" / "p01", "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    content = json.loads((tmp_path / "comparison.json").read_text())
    assert content["tested"] == 0 and "nothing could be tested" in run.stdout
    assert {r["note"] for r in content["rows"]} == {"n = 2: too few to test (at least 3 participants)"}


def table_file(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "participants.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_a_participants_table_in_a_spreadsheets_encoding_and_separator_is_read(tmp_path):
    table = read_participants(table_file(tmp_path, "participant;skill\r\np01;novice\r\n", "utf-16"))
    assert table.to_dict("records") == [{"participant": "p01", "skill": "novice"}]


@pytest.mark.parametrize("text,message", [
    ("id,skill\np01,novice\n", "line 1: no column 'participant' (columns found, separated by ',': id, skill)"),
    ("participant\tskill\np01\tnovice\np02\tveteran\np01\tveteran\n", "line 4: participant 'p01' is listed again"
                                                                       " (first on line 2)"),
    ("participant,skill\np01\n", "line 2: 1 fields where the header has 2"),
    ("participant,build\np01,42\n", "column build is the sessions' own"),
])
def test_bad_participants_tables_are_named_with_their_line(tmp_path, text, message):
    with pytest.raises(ParticipantsError, match="participants.csv") as error:
        read_participants(table_file(tmp_path, text))
    assert message in str(error.value)


def test_a_session_whose_participant_is_not_in_the_table_is_named(results, tmp_path):
    table = read_participants(table_file(tmp_path, "participant,skill\np00,novice\n"))
    rows = player_rows([summary("b41/p00", "41", {"1 / intro": 0, "3 / boss": 0}),
                        summary("b41/p09", "41", {"1 / intro": 0, "3 / boss": 0})])
    with pytest.raises(ParticipantsError, match=r"participant not in the table: 'p09' \(session b41/p09\)"):
        link(rows, table, r"p\d+")
    run = fer("compare", results / "results", "--participants", tmp_path / "participants.csv", "--participant-pattern",
              r"p\d+", "--out", tmp_path / "c")
    assert run.returncode == 1 and "fer compare: participant not in the table: 'p01' (session b41/p01)" in run.stderr
    column = fer("compare", results / "results", "--by", "skill", "--out", tmp_path / "d")
    assert column.returncode == 1 and "--by 'skill': no such column" in column.stderr
    missing = fer("compare", tmp_path / "nowhere", "--out", tmp_path / "e")
    assert missing.returncode == 1 and "nowhere: no such file or folder" in missing.stderr


def test_a_table_links_sessions_by_its_session_column(tmp_path):
    table = read_participants(table_file(tmp_path, "participant,session,age_band\nanna,day1,18-24\nbo,day2.mp4,35-44\n"))
    rows = player_rows([summary("day1", "1", {"1 / intro": 0, "3 / boss": 0}),
                        summary("s2", "1", {"1 / intro": 0, "3 / boss": 0}, source="videos/day2.mp4")])
    linked = link(rows, table).drop_duplicates("session")
    assert list(zip(linked.session, linked.participant, linked.age_band)) == [("day1", "anna", "18-24"),
                                                                              ("s2", "bo", "35-44")]


def test_sessions_of_different_models_are_pooled_with_a_warning_or_refused_with_strict(results, tmp_path):
    other = summary("retrained/p00", "41", {"1 / intro": 0.1, "3 / boss": 0.1}, model="serving/models/fer_model")
    write(tmp_path / "retrained" / "p00", other)
    pooled = fer("compare", results / "results", tmp_path / "retrained", "--out", tmp_path / "c")
    assert pooled.returncode == 0 and "warning: the sessions were analysed by 2 different models" in pooled.stderr
    written = json.loads((tmp_path / "c" / "comparison.json").read_text())
    assert written["models"] == ["serving/models/fer_fast", "serving/models/fer_model"] and written["warnings"]
    refused = fer("aggregate", results / "results", tmp_path / "retrained", "--strict", "--out", tmp_path / "a")
    assert refused.returncode == 1 and "--strict refuses to pool them" in refused.stderr
