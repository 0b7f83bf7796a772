"""Errors raised by the readers and writers.

Every error names the file and the problem, so napari's notification (and the CLI's error
line) tells the user which of thousands of files is broken and why, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class _FileError(Exception):
    """A problem with one file: ``str()`` is ``"{path}: {problem}"``."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[Path | None, str]]:
        # Keeps the (path, problem) signature when the error crosses a process pool.
        return (type(self), (self.path, self.problem))


class ReadError(_FileError, ValueError):
    """A file cannot be read as the format it claims to be (names the file and the problem)."""


class WriteError(_FileError):
    """A layer cannot be written to the requested file (names the file and the problem).

    Deliberately not a ValueError: napari takes a ValueError from a writer to mean "this
    plugin cannot write that" and replaces the message with a generic one.
    """
