"""Many cases -> one table: case discovery, workers, the process pool or Dask, the journal.

``run_batch`` is the one-call API (the CLI and scripts); ``iter_batch`` is the same run as a
generator of progress events, which a GUI worker thread needs to show progress and to cancel.
``discover_cases`` turns files and folders into picklable ``Case`` descriptions, and
``corrections_stores`` finds their datasets' corrections stores;
``napari_radiomics.results.read_table`` reads a run's table back.

``check_cases`` says per case, without extracting, what pyradiomics would refuse or skip.

What a run does with each case is a ``CaseTask`` (``extract_case`` by default); a caller with
other work per case (a robustness run's perturbations) passes its own, so the batch depends on
nothing above it.

Private modules: ``_run`` (the loop), ``_executors`` (where cases run), ``_worker`` (what runs
inside a worker process), ``_journal_file`` (the journal's CSV records: one append per case,
read back, a crash-cut tail repaired); ``cases``, ``check`` and ``journal`` are public for
their documented names.
"""

from napari_radiomics.batch._executors import default_jobs
from napari_radiomics.batch._journal_file import csv_records
from napari_radiomics.batch._run import BatchProgress, BatchSummary, iter_batch, run_batch
from napari_radiomics.batch._worker import CaseTask, extract_case
from napari_radiomics.batch.cases import Case, corrections_stores, discover_cases, load_case
from napari_radiomics.batch.check import CaseCheck, check_cases
from napari_radiomics.batch.journal import companion_paths
from napari_radiomics.errors import BatchError

__all__ = [
    "BatchError",
    "BatchProgress",
    "BatchSummary",
    "Case",
    "CaseCheck",
    "CaseTask",
    "check_cases",
    "companion_paths",
    "corrections_stores",
    "csv_records",
    "default_jobs",
    "discover_cases",
    "extract_case",
    "iter_batch",
    "load_case",
    "run_batch",
]
