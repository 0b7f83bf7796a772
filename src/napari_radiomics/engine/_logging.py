"""pyradiomics' logging kept to what concerns the user (the engine applies it on import).

pyradiomics sets its logger to INFO on import and logs every step, which floods any handler
the application (or pytest) attaches to the root logger and costs time.
"""

from __future__ import annotations

import logging

__all__ = ["quiet_pyradiomics_logging"]


def quiet_pyradiomics_logging() -> None:
    """Keep pyradiomics' per-step INFO messages out of the log.

    Warnings and errors still come through; a level the user chose (anything but INFO) is left
    alone.
    """
    logger = logging.getLogger("radiomics")
    if logger.level in (logging.NOTSET, logging.INFO):
        logger.setLevel(logging.WARNING)
    glcm = logging.getLogger("radiomics.glcm")
    if _SumAverageNote not in {type(f) for f in glcm.filters}:
        glcm.addFilter(_SumAverageNote())


class _SumAverageNote(logging.Filter):
    """Drops glcm's per-call note that Sum Average = 2 * Joint Average for a symmetrical GLCM:
    a remark about the definitions, printed on every extraction, not about the data."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("GLCM is symmetrical")
