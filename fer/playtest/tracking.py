"""Players that are people: faces followed from frame to frame, a track a player once it persists.

Players in a playtest sit roughly still relative to the camera, so a greedy match is enough: by how
much of the smaller box lies inside the other (robust to zoom and leaning in, where sizes change
fast), else by centre distance relative to the face's size. A track survives ``max_gap_s`` without a
sighting (a hand over the face, a drink, looking away). A new track is tentative: it becomes a player
only once it has been seen over ``min_track_s``, so a detector's blip of a frame or two never becomes a
player; a box lying mostly inside a face already matched in the same frame is a duplicate, not a
new face.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fer.faces import Box

DUPLICATE = -1  # the track id of a box that duplicates another face of the same frame


@dataclass
class Track:
    id: int
    box: Box
    first_seen_s: float
    last_seen_s: float
    sightings: int = 1
    player: int | None = None  # set once the track has persisted


class FaceTracker:
    def __init__(self, max_gap_s: float = 10.0, max_center_shift: float = 0.75, min_track_s: float = 1.0,
                 duplicate_overlap: float = 0.5):
        self.max_gap_s, self.max_center_shift, self.min_track_s = max_gap_s, max_center_shift, min_track_s
        self.duplicate_overlap = duplicate_overlap
        self.tracks: list[Track] = []
        self.players: dict[int, int] = {}  # track id -> player number, for every confirmed track
        self._next_track, self._next_player = 1, 1

    def _affinity(self, track: Track, box: Box) -> float:
        overlap = track.box.overlap(box)
        if overlap > 0:
            return 1.0 + overlap
        (tx, ty), (bx, by) = track.box.center, box.center
        shift = ((tx - bx) ** 2 + (ty - by) ** 2) ** 0.5 / max(track.box.w, box.w)
        return 1.0 - shift if shift < self.max_center_shift else 0.0

    def update(self, time_s: float, boxes: list[Box]) -> list[int]:
        """The track id of each box, in the order given (DUPLICATE for a box inside another face)."""
        self.tracks = [t for t in self.tracks if time_s - t.last_seen_s <= self.max_gap_s]
        pairs = sorted(((self._affinity(track, box), t, b) for t, track in enumerate(self.tracks)
                        for b, box in enumerate(boxes)), reverse=True)
        ids: list[int | None] = [None] * len(boxes)
        used = set()
        for affinity, t, b in pairs:
            if affinity > 0 and t not in used and ids[b] is None:
                used.add(t)
                self._seen(self.tracks[t], boxes[b], time_s)
                ids[b] = self.tracks[t].id
        for b in sorted((b for b, i in enumerate(ids) if i is None), key=lambda b: boxes[b].x):
            matched = [boxes[o] for o, i in enumerate(ids) if i not in (None, DUPLICATE)]
            if any(boxes[b].overlap(other) >= self.duplicate_overlap for other in matched):
                ids[b] = DUPLICATE
                continue
            track = Track(self._next_track, boxes[b], time_s, time_s)
            self._next_track += 1
            self.tracks.append(track)
            ids[b] = track.id
        self._confirm(time_s)
        return ids

    def _seen(self, track: Track, box: Box, time_s: float) -> None:
        track.box, track.last_seen_s, track.sightings = box, time_s, track.sightings + 1

    def _confirm(self, time_s: float) -> None:
        """Tracks seen over min_track_s become players, numbered left to right when several do at once."""
        ready = [t for t in self.tracks if t.player is None and (self.min_track_s <= 0 or (
            t.sightings >= 2 and t.last_seen_s - t.first_seen_s >= self.min_track_s))]
        for track in sorted(ready, key=lambda t: t.box.x):
            track.player = self._next_player
            self.players[track.id] = self._next_player
            self._next_player += 1


def rows_of_players(rows: Iterable[dict], tracker: FaceTracker) -> Iterator[dict]:
    """The rows (each with its face's ``track`` id, 0 for a frame without a face) with ``player`` set from
    the tracker's confirmed tracks. A row of a tentative track waits until its track persists; rows of
    tracks that never do, and duplicates, come out with player 0 and ``quality`` "not a player", so the
    frame still counts as sampled. The order of rows may change; sort by time afterwards."""
    waiting: dict[int, list[dict]] = {}

    def release() -> Iterator[dict]:
        for track in [t for t in waiting if t in tracker.players]:
            for row in waiting.pop(track):
                yield {**row, "player": tracker.players[track]}

    for row in rows:
        track = row.get("track", 0)
        if track in (0, DUPLICATE):
            yield {**row, "player": 0, **({"quality": "not a player"} if track == DUPLICATE else {})}
        elif track in tracker.players:
            yield {**row, "player": tracker.players[track]}
        else:
            waiting.setdefault(track, []).append(row)
        yield from release()
    yield from release()
    for rows_left in waiting.values():
        for row in rows_left:
            yield {**row, "player": 0, "quality": "not a player"}
