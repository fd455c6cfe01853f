"""Viewer shortcuts that step a panel forward and back (next/previous frame of interest)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence


def bind_steps(
    viewer, panel, method: str, next_keys: Sequence[str], prev_keys: Sequence[str], what: str
) -> None:
    """Bind ``next_keys``/``prev_keys`` to ``panel.<method>(1)``/``(-1)``; the panel is held
    weakly, so a closed dock leaves only keys that do nothing."""
    ref = weakref.ref(panel)

    def make(step: int):
        def go(_viewer):
            target = ref()
            if target is not None:
                getattr(target, method)(step)

        go.__doc__ = f"{'Next' if step > 0 else 'Previous'} {what}."
        return go

    for key in next_keys:
        viewer.bind_key(key, make(1), overwrite=True)
    for key in prev_keys:
        viewer.bind_key(key, make(-1), overwrite=True)
