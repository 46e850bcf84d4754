"""fer.playtest.tracking: a track becomes a player once it persists; zoom, gaps and duplicates keep one player."""
from __future__ import annotations

from fer.faces import Box
from fer.playtest.tracking import DUPLICATE, FaceTracker, rows_of_players

STEP = 0.5  # seconds between sampled frames (2 per second)


def follow(tracker: FaceTracker, frames: list[list[Box]]) -> list[list[int | None]]:
    """The player of each box of each frame, as the tracker knows it after that frame."""
    players = []
    for index, boxes in enumerate(frames):
        ids = tracker.update(index * STEP, boxes)
        players.append([tracker.players.get(i) for i in ids])
    return players


def test_a_blip_of_two_frames_never_becomes_a_player_and_a_steady_face_does_after_min_track_s():
    face, blip = Box(100, 100, 80, 80), Box(400, 20, 30, 30)
    tracker = FaceTracker(min_track_s=1.0)
    players = follow(tracker, [[face, blip], [face, blip], [face], [face], [face]])
    assert players[1] == [None, None]  # seen over 0.5 s only
    assert players[2] == [1] and players[4] == [1]
    assert sorted(tracker.players.values()) == [1]


def test_a_zoom_from_close_up_to_wide_shot_keeps_one_player():
    sizes = [400, 340, 280, 220, 170, 130, 100]
    frames = [[Box(320 - s // 2, 240 - s // 2, s, s)] for s in sizes]
    assert follow(FaceTracker(min_track_s=0.0), frames) == [[1]] * len(sizes)


def test_a_face_hidden_for_a_few_seconds_is_the_same_player():
    face = Box(100, 100, 80, 80)
    frames = [[face]] * 4 + [[]] * 8 + [[Box(104, 98, 82, 82)]] * 3  # a hand over the face for 4 s
    players = follow(FaceTracker(min_track_s=1.0), frames)
    assert players[-1] == [1]


def test_a_box_inside_a_players_face_is_a_duplicate_not_a_new_player():
    face, inside = Box(100, 100, 120, 120), Box(130, 90, 60, 50)  # e.g. a headset box overlapping the face
    tracker = FaceTracker(min_track_s=0.0)
    tracker.update(0.0, [face])
    assert tracker.update(0.5, [face, inside]) == [1, DUPLICATE]
    assert list(tracker.players.values()) == [1]


def test_two_players_side_by_side_are_numbered_left_to_right():
    left, right = Box(50, 100, 100, 100), Box(400, 100, 100, 100)
    players = follow(FaceTracker(min_track_s=1.0), [[right, left]] * 4)
    assert players[-1] == [2, 1]


def test_rows_wait_for_their_track_to_persist_and_rows_of_blips_are_not_a_player():
    face, blip = Box(100, 100, 80, 80), Box(400, 20, 30, 30)
    tracker = FaceTracker(min_track_s=1.0)

    def rows():
        for index, boxes in enumerate([[face, blip], [face], [face], [face]]):
            for track in tracker.update(index * STEP, boxes):
                yield {"time_s": index * STEP, "track": track}

    out = sorted(rows_of_players(rows(), tracker), key=lambda r: (r["time_s"], r["player"]))
    assert [(r["time_s"], r["player"], r.get("quality")) for r in out] == [
        (0.0, 0, "not a player"), (0.0, 1, None), (0.5, 1, None), (1.0, 1, None), (1.5, 1, None)]
