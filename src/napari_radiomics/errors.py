"""Every exception napari-radiomics raises, in one place.

Each names what is wrong (the file, the layer, the setting or the column) and the problem, so
napari's notification and the CLI's error line tell the user which of thousands of files is
broken and why, without a traceback. Most are ``ValueError`` subclasses, so callers that only
know "bad input" can catch that; ``WriteError`` is the exception (see its docstring).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BatchError",
    "Cancelled",
    "ConversionError",
    "CorrectionsError",
    "ExtractionError",
    "PreprocessError",
    "ReadError",
    "SettingsError",
    "Terminated",
    "WriteError",
]


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


class SettingsError(ValueError):
    """Invalid settings or params file; the message names the key and what is allowed."""


class ConversionError(ValueError):
    """A layer or array cannot become a SimpleITK image that pyradiomics would accept."""


class ExtractionError(ValueError):
    """Nothing could be computed (bad inputs, or every requested ROI label failed)."""


class PreprocessError(ExtractionError):
    """An image cannot be preprocessed (N4, standardisation) as asked: no foreground, a fit
    that failed, landmarks that do not fit the image. An ``ExtractionError``, so a batch
    reports it as that case's failure and goes on."""


class BatchError(ValueError):
    """A batch run cannot start: the message names the file and what to do about it."""


class CorrectionsError(_FileError):
    """A corrections store cannot be written or read (names the file and the problem).

    Not a ValueError: nothing is wrong with the user's input; the edit it concerns is kept in
    memory and the message says what to do (choose another folder, free some space).
    """


class Cancelled(Exception):
    """Raised from a progress callback to stop work the user cancelled, or that a newer
    request made stale. Deliberately not a ValueError: the core's ``except ValueError`` (one
    bad slice must not stop the others) must let it through."""


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM (a scheduler stopping a job, ``kill``) while the command
    line ran. A ``KeyboardInterrupt``, so that whatever keeps finished work and stops workers
    on Ctrl-C does the same here; the command exits with 143 instead of 130."""
