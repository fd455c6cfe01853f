"""An ensemble's spread of each predicted instance's body parts, kept beside the labels."""

from __future__ import annotations

import numpy as np
import sleap_io as sio


class Spreads:
    """Each predicted instance's body-part spread (px, from an ensemble), kept beside the
    labels while they are tracked and smoothed (sleap-io's instances have no place for it)."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[sio.PredictedInstance, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def put(self, inst: sio.PredictedInstance, spread: np.ndarray) -> None:
        self._by_id[id(inst)] = (inst, np.asarray(spread, dtype=np.float64))

    def of(self, inst: sio.Instance) -> np.ndarray | None:
        """The spread of ``inst`` (None when it has none)."""
        found = self._by_id.get(id(inst))
        return found[1] if found is not None and found[0] is inst else None

    def by_frame_and_track(
        self, labels: sio.Labels, video: sio.Video
    ) -> dict[tuple[int, str | None], np.ndarray]:
        """The spreads of ``video``'s predicted instances keyed by (frame, track name), as
        smoothing keys its uncertainty; frames where several instances share a key (several
        animals, no tracks) are left out."""
        out: dict[tuple[int, str | None], np.ndarray] = {}
        shared = set()
        for lf in labels.labeled_frames:
            if lf.video is not video:
                continue
            for inst in lf.predicted_instances:
                spread = self.of(inst)
                if spread is None:
                    continue
                key = (int(lf.frame_idx), inst.track.name if inst.track is not None else None)
                if key in out:
                    shared.add(key)
                out[key] = spread
        return {k: v for k, v in out.items() if k not in shared}
