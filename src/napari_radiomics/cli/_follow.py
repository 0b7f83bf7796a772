"""Starting a run (a batch's or a robustness run's event iterator) and driving it to its end on
the command line: a run refused before its first case as a usage error, one progress bar,
warnings as single lines above it, Ctrl-C and a full disk turned into their exit statuses.
``extract`` and ``robustness`` share it, so they cannot disagree on how a run is shown or
stopped; each reports its own summary.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from napari_radiomics.cli._status import EXIT_INTERRUPTED, EXIT_USAGE

_Summary = TypeVar("_Summary")


def cannot_write(command: str, exc: Exception) -> int:
    """A file of the output cannot be written (a full disk): what was written is complete."""
    print(f"napari-radiomics {command}: error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def start(
    parser: argparse.ArgumentParser, command: str, begin: Callable[[], Iterator[Any]]
) -> tuple[Iterator[Any], Any] | int:
    """``begin()``'s run and its first event (whose ``total`` sizes the bar), or the exit
    status of a run refused before its first case: a file that cannot be written (a full
    disk) through :func:`cannot_write`; bad input, settings or an output in use (ReadError,
    SettingsError, BatchError, a lock: each names the problem) as a usage error."""
    from napari_radiomics.errors import WriteError

    try:
        run = begin()
        return run, next(run)
    except WriteError as exc:
        return cannot_write(command, exc)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))


def follow(
    run: Generator[Any, None, _Summary],
    total: int,
    *,
    command: str,
    quiet: bool,
    interrupted: str,
    report: Callable[[_Summary], int],
) -> int:
    """Drive ``run`` (its first event already taken) to its end with a progress bar of
    ``total`` cases, a line per failed case; returns ``report(summary)``'s exit status.

    Ctrl-C closes the run (which stops its processes), prints ``interrupted`` and returns
    :data:`EXIT_INTERRUPTED`; a WriteError (a full disk) returns :data:`EXIT_USAGE`. Any
    other error (a BatchError) is the caller's, raised after the bar is closed.
    """
    from tqdm import tqdm

    from napari_radiomics.errors import WriteError

    # No tqdm monitor thread: a single-threaded parent may fork its workers (fast start-up).
    tqdm.monitor_interval = 0
    bar = tqdm(
        total=total, unit="case", file=sys.stderr, disable=quiet,
        desc=command, mininterval=0.5, smoothing=0.1,
    )  # fmt: skip

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        bar.write(f"warning: {message}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show  # one line above the bar, not a source excerpt
            while True:
                event = next(run)
                bar.update(1)
                if not event.ok:
                    bar.write(f"failed: {event.message}", file=sys.stderr)
    except StopIteration as stop:
        summary = stop.value
    except KeyboardInterrupt:
        run.close()
        bar.close()
        print(interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except WriteError as exc:  # a full disk: the journal is cut back to its last whole line
        bar.close()
        return cannot_write(command, exc)
    finally:
        bar.close()
    return report(summary)
