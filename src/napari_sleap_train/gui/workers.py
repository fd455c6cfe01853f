"""napari thread workers that always report how they ended.

superqt's worker treats an exception that is a ``RuntimeError`` as a sign that its Qt
object was deleted: it only warns on the console and emits neither ``errored`` nor
``finished``, so a dock waiting for either would wait for ever. Our errors the user can fix
(:class:`~napari_sleap_train.errors.TrainingError`, ``ModelFolderError``, …) are
``RuntimeError``\\ s, as are many of torch's. :func:`worker` wraps every exception in
:class:`WorkerFailed`, which is not one, and ``errored`` handlers get the original back with
:func:`cause`. The handlers say what went wrong in the dock: the worker does not also pass
the error on to napari's notifications as a traceback (an unexpected one is logged).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable

from superqt.utils import thread_worker

from ..errors import SleapTrainError

log = logging.getLogger(__name__)


class WorkerFailed(Exception):
    """An exception raised in a worker, carried out of it (``original``)."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


def cause(exc: BaseException) -> BaseException:
    """The exception a worker raised."""
    return exc.original if isinstance(exc, WorkerFailed) else exc


def worker(fn: Callable, *args, **kwargs):
    """A napari thread worker (not started) running ``fn(*args, **kwargs)``, a function
    or a generator function, whose exceptions always reach ``errored``."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def run(*a, **k):
            try:
                return (yield from fn(*a, **k))
            except Exception as exc:
                raise _failed(exc) from exc

    else:

        @functools.wraps(fn)
        def run(*a, **k):
            try:
                return fn(*a, **k)
            except Exception as exc:
                raise _failed(exc) from exc

    return thread_worker(run, start_thread=False, ignore_errors=True)(*args, **kwargs)


def _failed(exc: Exception) -> WorkerFailed:
    if not isinstance(exc, SleapTrainError):  # a bug: its traceback for the console
        log.error("A worker failed", exc_info=exc)
    return WorkerFailed(exc)
