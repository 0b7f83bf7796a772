"""How the command ends when it is told to stop: Ctrl-C (SIGINT) and SIGTERM alike.

A terminal's Ctrl-C and a scheduler's SIGTERM (SLURM, systemd, `kill`; a job past its time
limit gets SIGTERM, then SIGKILL some seconds later) both mean "stop now, keep what is done".
Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM kill the process on the spot,
so a batch run stopped by its scheduler printed nothing and left its table without the note
saying how to resume. Inside :class:`StopRequests` SIGTERM raises
:class:`~napari_radiomics.errors.Terminated`, a ``KeyboardInterrupt``: every path that closes a
run, stops its workers and keeps its finished rows on Ctrl-C does the same on SIGTERM, and the
command then exits with 143 (128 + SIGTERM, what a shell reports for a process SIGTERM killed)
instead of 130.

A worker forked while the handler is installed inherits it. It must not raise there (a worker
leaves stopping to its caller, and a SIGTERM sent to it alone means "die"), so in any other
process the handler restores the default action and re-sends the signal to itself. (A pool's
worker puts SIGTERM back to its default in its initializer, ``leave_ctrl_c_to_caller``: a
Python handler waits for the C call under way; this one covers the moments before.)

Python runs a signal's handler in whatever code runs at that instant, and that may be a
callback whose exceptions it prints and drops: a weakref callback of the import system, a
``__del__``. A Ctrl-C or SIGTERM raised there was lost ("Exception ignored in ...", a
traceback), and the command went on to the end as if never told to stop. Inside
:class:`StopRequests` such a stop is asked for again, by the same signal sent to the main
thread a moment later, when that code has returned.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from napari_radiomics.errors import Terminated

#: How long after a stop lost in a callback it is asked for again: the callback has returned.
_AGAIN_AFTER = 0.05


class StopRequests:
    """Inside ``with StopRequests() as stop:``, SIGTERM raises :class:`Terminated` in this
    (the main) thread, and ``stop.terminated`` says afterwards whether it came (a run that
    caught it to keep its rows returns its Ctrl-C status). The handler in place before is
    restored on leaving. Elsewhere than the main thread (``main`` called from a thread) signal
    handlers cannot be set, and nothing changes."""

    def __init__(self) -> None:
        self.terminated = False
        self._owner = os.getpid()
        self._before: Any = None
        self._hook_before: Callable[[Any], object] | None = None

    def _terminate(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._owner:  # a forked worker: die as SIGTERM would have it die
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.terminated = True
        raise Terminated

    def _unraisable(self, unraisable: Any) -> None:
        """``sys.unraisablehook``: a Ctrl-C or SIGTERM raised in code whose exceptions Python
        drops is sent again to the main thread (a signal, not a flag, so that a wait under
        way there is interrupted too); any other exception goes to the hook before."""
        stop = unraisable.exc_value
        if not isinstance(stop, KeyboardInterrupt) or os.getpid() != self._owner:
            if self._hook_before is not None:
                self._hook_before(unraisable)
            return
        signum = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
        # From another thread: sent from here, the handler could run inside this hook, and
        # an exception of the hook is dropped too.
        again = threading.Timer(_AGAIN_AFTER, _signal_main_thread, (signum,))
        again.daemon = True
        again.start()

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGTERM, self._terminate)
            self._hook_before, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc: object) -> None:
        if self._before is not None:
            signal.signal(signal.SIGTERM, self._before)
        if self._hook_before is not None:
            sys.unraisablehook = self._hook_before
            self._hook_before = None


def _signal_main_thread(signum: int) -> None:
    """`signum` to the main thread: a real signal where threads can be signalled, so a
    blocking call there returns to run the handler; elsewhere (Windows) the handler runs at
    the main thread's next instruction."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signum)
    else:
        _thread.interrupt_main(signum)


@contextlib.contextmanager
def sigterm_default() -> Iterator[None]:
    """SIGTERM's default action for the duration (in the main thread; elsewhere nothing
    changes), inside :class:`StopRequests`: for ``view``, which has no rows to keep and whose
    Python code runs in napari's event loop. There a :class:`Terminated` is raised into
    whichever callback runs next, and napari takes it for a Ctrl-C in its window (it exits 1,
    "Closed by KeyboardInterrupt"); SIGTERM should end the window as it ends any program."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        if before is not None:  # None: a handler set outside Python, which cannot be put back
            signal.signal(signal.SIGTERM, before)
