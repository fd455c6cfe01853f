"""A decoder process for predicting many videos: it imports only what decoding needs (no
torch), so it starts in a fraction of a second."""

from __future__ import annotations

import numpy as np


def decode_batches(tasks, out, batch_size: int) -> None:
    """Take ``(index, video, frames)`` tasks (``video`` a :class:`~.video.LazyVideo`) until
    ``None``; send each task's frames in batches ``(index, frames, images)``, then
    ``(index, "done", None)``, or ``(index, "error", reason)`` when a frame cannot be read."""
    while True:
        task = tasks.get()
        if task is None:
            return
        i, video, frames = task
        try:
            for s in range(0, len(frames), batch_size):
                batch = frames[s : s + batch_size]
                out.put((i, batch, np.stack([video.frame(f) for f in batch])))
            out.put((i, "done", None))
        except Exception as exc:  # noqa: BLE001 - reported in the summary, others go on
            out.put((i, "error", f"{type(exc).__name__}: {exc}"))
        finally:
            video.close()
