"""One timeline per player: faces matched from frame to frame by overlap and distance.

Players in a playtest recording sit still relative to the camera, so a greedy match on box overlap
(falling back to centre distance) is enough; a track that has not been seen for ``max_gap_s``
is closed, and a face that matches no open track starts a new player.
"""
from __future__ import annotations

from dataclasses import dataclass

from fer.faces import Box


@dataclass
class Track:
    player: int
    box: Box
    last_seen_s: float


class FaceTracker:
    def __init__(self, max_gap_s: float = 10.0, max_center_shift: float = 0.75):
        self.max_gap_s, self.max_center_shift = max_gap_s, max_center_shift
        self.tracks: list[Track] = []
        self._next_player = 1

    def _affinity(self, track: Track, box: Box) -> float:
        overlap = track.box.iou(box)
        if overlap > 0:
            return 1.0 + overlap
        (tx, ty), (bx, by) = track.box.center, box.center
        shift = ((tx - bx) ** 2 + (ty - by) ** 2) ** 0.5 / max(track.box.w, box.w)
        return 1.0 - shift if shift < self.max_center_shift else 0.0

    def update(self, time_s: float, boxes: list[Box]) -> list[int]:
        """The player number of each box, in the order given."""
        self.tracks = [t for t in self.tracks if time_s - t.last_seen_s <= self.max_gap_s]
        pairs = sorted(((self._affinity(track, box), t, b) for t, track in enumerate(self.tracks)
                        for b, box in enumerate(boxes)), reverse=True)
        players: list[int | None] = [None] * len(boxes)
        used = set()
        for affinity, t, b in pairs:
            if affinity > 0 and t not in used and players[b] is None:
                used.add(t)
                players[b] = self.tracks[t].player
                self.tracks[t].box, self.tracks[t].last_seen_s = boxes[b], time_s
        # new faces, numbered left to right so that seat order gives player order
        for b in sorted((b for b, p in enumerate(players) if p is None), key=lambda b: boxes[b].x):
            players[b] = self._next_player
            self.tracks.append(Track(self._next_player, boxes[b], time_s))
            self._next_player += 1
        return players
