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
:class:`StopRequests` such a stop is asked for again, silently: by the same signal sent to
the main thread a moment later, when that code has returned, or on leaving the block if
that moment has not come.
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
    caught it to keep its rows returns its Ctrl-C status); Ctrl-C raises KeyboardInterrupt,
    as Python's own handler does. The handlers in place before are restored on leaving.
    Elsewhere than the main thread (``main`` called from a thread) signal handlers cannot be
    set, and nothing changes."""

    def __init__(self) -> None:
        self.terminated = False
        self._owner = os.getpid()
        self._before: dict[int, Any] = {}
        self._hook_before: Callable[[Any], object] | None = None
        self._lock = threading.RLock()  # the handler may run inside a block holding it
        self._active = False
        self._lost: int | None = None  # a stop Python dropped, not raised again yet
        self._again: threading.Timer | None = None

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        """The handler of both signals."""
        if os.getpid() != self._owner:  # a forked worker: as without this handler
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        with self._lock:
            self._lost = None  # raised now: wherever it lands, the hook sees if it is dropped
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.terminated = True
        raise Terminated

    def _unraisable(self, unraisable: Any) -> None:
        """``sys.unraisablehook``: a Ctrl-C or SIGTERM raised in code whose exceptions Python
        drops is asked for again (`_ask_again`), silently. Any other exception goes to the
        hook before. A stop that comes while this hook runs is taken the same way: raised
        out of a hook, it would be dropped too."""
        stop = unraisable.exc_value
        try:
            if not isinstance(stop, KeyboardInterrupt) or os.getpid() != self._owner:
                if self._hook_before is not None:
                    self._hook_before(unraisable)
                return
        except KeyboardInterrupt as late:
            stop = late
        while True:
            try:
                self._ask_again(stop)
                return
            except KeyboardInterrupt as late:
                stop = late

    def _ask_again(self, stop: KeyboardInterrupt) -> None:
        """The dropped `stop` sent again to the main thread in a moment, from another thread
        (sent from here, the handler could run inside the hook), or raised by ``__exit__`` if
        that moment has not come."""
        with self._lock:
            self._lost = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
            if self._again is not None:
                self._again.cancel()
            self._again = threading.Timer(_AGAIN_AFTER, self._send_again)
            self._again.daemon = True
            self._again.start()

    def _send_again(self) -> None:
        with self._lock:
            if self._active and self._lost is not None:
                _signal_main_thread(self._lost)

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._active = True
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                # Ignored by whoever started the command (a shell's background job ignores
                # Ctrl-C, a supervisor may ignore SIGTERM): it stays ignored.
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._before[signum] = signal.signal(signum, self._stop)
            self._hook_before, sys.unraisablehook = sys.unraisablehook, self._unraisable
        except KeyboardInterrupt:  # a stop came meanwhile: no block, nothing left behind
            self._active = False
            self._put_back()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        lost = None
        try:
            with self._lock:
                self._active = False
                lost, self._lost = self._lost, None
                if self._again is not None:
                    self._again.cancel()
        finally:
            self._put_back()
        if lost is not None and exc_type is None:  # dropped, and not sent again in time
            raise Terminated if lost == signal.SIGTERM else KeyboardInterrupt

    def _put_back(self) -> None:
        """The hook and the handlers there were before, all of them, even if a stop comes
        meanwhile (``signal.signal`` runs a pending handler first, and a handler may run
        between any two steps): each step is done again until it holds, then the first stop
        that came is raised."""
        came: KeyboardInterrupt | None = None
        while True:
            try:
                if self._hook_before is not None:
                    sys.unraisablehook = self._hook_before
                    self._hook_before = None
                while self._before:
                    signum, before = next(iter(self._before.items()))
                    if before is not None:  # None: set outside Python, cannot be put back
                        signal.signal(signum, before)
                    del self._before[signum]
                break
            except KeyboardInterrupt as stop:
                came = came or stop
        if came is not None:
            raise came


def _signal_main_thread(signum: int) -> None:
    """`signum` to the main thread: a real signal where threads can be signalled, so a
    blocking call there returns to run the handler; elsewhere (Windows) the handler runs at
    the main thread's next instruction, once a call under way has returned."""
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
