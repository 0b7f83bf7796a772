"""A dataset's robustness run: perturbed extractions of case after case, then the ICC.

Two feeds, one set of rules (the request's checks, the memory limit, "at least 2 cases
measured", the ICC of exactly the long table):

- :func:`iter_robustness`: files (``batch.Case``) through the batch journal, on a process pool
  or Dask, into the files below (the CLI's ``robustness``);
- :func:`iter_case_robustness`: cases in memory (``ArrayCase``), each read when its turn comes,
  measured one after another with one engine, nothing written (the Robustness dock, over the
  slices of a stack as the viewer shows them, corrections included).

For ``rob.csv`` a run writes:

- ``rob.perturbed.csv`` — the long table, one row per case, ROI label and perturbation
  (0 = the original mask), with how each perturbation was made and the features. It is the
  batch journal (``napari_radiomics.batch``): appended per case, crash-safe, ``--resume``
  continues it; its companions are ``rob.perturbed.params.yaml`` (the run's settings),
  ``rob.perturbed.errors.csv`` and ``rob.perturbed.lock``. When the run ends its rows are put
  in input order (cases finish in any order on a pool), so a rerun writes the same bytes.
- ``rob.perturbation.yaml`` — the perturbation plan (n, methods, seed, reach): ``--resume``
  refuses to mix plans, as the journal refuses to mix settings.
- ``rob.csv`` — the ICC table computed from exactly the long table: ``feature, icc, ci_low,
  ci_high, robust, form, reason, in_params``.
- ``rob.params.yaml`` — a pyradiomics params file enabling robust features only
  (:mod:`~napari_radiomics.analysis.robust_params` says which, and why not always all).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics._limits import memory_problem
from napari_radiomics._pyradiomics import PyradiomicsConfig
from napari_radiomics._spreadsheet import escape_frame, unescape_cell
from napari_radiomics.analysis.icc import ICC_FORMS, IccForm
from napari_radiomics.analysis.perturb import PerturbationPlan
from napari_radiomics.analysis.robust_params import robust_params
from napari_radiomics.analysis.robustness import (
    PERTURBATION_COLUMN,
    PerturbationTask,
    perturbed_features,
    read_perturbed,
    robustness,
)
from napari_radiomics.batch import BatchProgress, BatchSummary, Case, csv_records, iter_batch
from napari_radiomics.batch.journal import refuse_inputs_as_output
from napari_radiomics.columns import CASE, ROI_LABEL
from napari_radiomics.engine import FeatureEngine
from napari_radiomics.errors import BatchError
from napari_radiomics.settings import ExtractionSettings, params_to_yaml

__all__ = [
    "ArrayCase",
    "CaseRobustness",
    "RobustnessPaths",
    "RobustnessSummary",
    "iter_case_robustness",
    "iter_robustness",
    "robustness_paths",
]

#: What an :class:`ArrayCase` loads: image and mask in napari order, the spacing (like
#: ``layer.scale``) and the identifying metadata of its rows.
CaseArrays = tuple[np.ndarray, np.ndarray, Sequence[float], Mapping[str, Any]]


@dataclass(frozen=True)
class RobustnessPaths:
    """The files of a robustness run named by its ICC table ``icc`` (``rob.csv``)."""

    icc: Path
    perturbed: Path
    plan: Path
    params: Path


def robustness_paths(output: str | Path) -> RobustnessPaths:
    """``rob.csv`` -> its long table, plan and robust-params files (see module docstring)."""
    icc = Path(output)
    if icc.suffix.lower() != ".csv":
        raise BatchError(f"{icc}: the ICC table is written as CSV; name it rob.csv or similar")
    return RobustnessPaths(
        icc,
        icc.with_suffix(".perturbed.csv"),
        icc.with_suffix(".perturbation.yaml"),
        icc.with_suffix(".params.yaml"),
    )


@dataclass
class RobustnessSummary:
    """What a robustness run wrote. ``params_problem`` says why ``rob.params.yaml`` was not
    written (no robust feature), else it is empty."""

    batch: BatchSummary
    paths: RobustnessPaths
    icc: pd.DataFrame
    cases: int
    params_problem: str = ""

    @property
    def robust(self) -> int:
        """How many features are robust."""
        return int(self.icc["robust"].sum())


def _plan_text(plan: PerturbationPlan) -> str:
    fields = asdict(plan)
    fields["methods"] = list(plan.methods)
    return "# perturbation plan of this robustness run (compared by --resume)\n" + yaml.safe_dump(
        fields, sort_keys=True
    )


def _write(path: Path, text: str) -> None:
    with replaced(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _check_plan(paths: RobustnessPaths, plan: PerturbationPlan, resume: bool) -> None:
    """On resume, the earlier run's plan must be this one; then this plan is recorded."""
    if resume and paths.perturbed.exists():
        if not paths.plan.exists():
            raise BatchError(
                f"{paths.perturbed}: cannot resume, {paths.plan.name} (the perturbation plan "
                "of the earlier run) is missing; use --overwrite to start again"
            )
        before = yaml.safe_load(paths.plan.read_text(encoding="utf-8")) or {}
        now = yaml.safe_load(_plan_text(plan))
        changed = [f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in now if before.get(k) != now[k]]
        if changed:
            raise BatchError(
                f"{paths.perturbed}: was written with another perturbation plan "
                f"({'; '.join(changed)}); resume with the same --perturbations, --methods and "
                "--seed, choose another output, or use --overwrite"
            )
    _write(paths.plan, _plan_text(plan))


def _in_input_order(path: Path, cases: Sequence[Case]) -> None:
    """Rewrite the long table with its rows in input order (case, ROI label, perturbation).

    Records are moved, never re-formatted, so every value keeps its written digits (a record
    spans lines where a case name holds a line break)."""
    order = {c.case_id: i for i, c in enumerate(cases)}
    lines = [r.decode("utf-8") for r, _ in csv_records(io.BytesIO(path.read_bytes()))]
    header = next(csv.reader([lines[0]]))
    at = [header.index(c) for c in (CASE, ROI_LABEL, PERTURBATION_COLUMN)]

    def key(line: str) -> tuple[int, str, int, int]:
        fields = [unescape_cell(f) for f in next(csv.reader(io.StringIO(line)))]
        case, label, index = (fields[i] for i in at)
        return (order.get(case, len(order)), case, int(float(label)), int(float(index)))

    _write(path, "".join([lines[0], *sorted(lines[1:], key=key)]))


def iter_robustness(
    cases: Sequence[Case],
    settings: ExtractionSettings | None,
    plan: PerturbationPlan,
    output: str | Path,
    *,
    form: IccForm = "1,1",
    threshold: float = 0.9,
    jobs: int | None = None,
    dask: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    limit: int | None = None,
    sources: Sequence[str | Path] = (),
) -> Generator[BatchProgress, None, RobustnessSummary]:
    """Run the perturbed extractions of ``cases`` as a batch, yielding its progress; then
    compute the ICC and write the files (module docstring). Returns the summary.

    Raises BatchError before any work for a bad request (an unknown ICC form, a threshold
    outside (0, 1], fewer than 2 cases, an output in use or written with other settings or
    another plan), and after the run when fewer than 2 cases succeeded (the long table and
    the errors file stay, for --resume).
    """
    todo = list(cases)[:limit] if limit is not None else list(cases)
    _check_request(form, threshold, len(todo))
    settings = settings if settings is not None else ExtractionSettings()
    _check_table_memory(len(todo), plan, settings)
    paths = robustness_paths(output)
    refuse_inputs_as_output(  # sources: files read besides the cases' (batch CSV, params)
        paths.perturbed,
        [*sources, *(f for c in todo for f in (c.path, c.mask) if f is not None)],
        also=(paths.icc, paths.plan, paths.params),
    )
    run = iter_batch(
        todo, settings, paths.perturbed, jobs=jobs, dask=dask, resume=resume,
        overwrite=overwrite, task=PerturbationTask(plan), sources=sources,
    )  # fmt: skip
    try:
        first = next(run)  # the output is locked and its settings checked from here on
        _check_plan(paths, plan, resume)
        yield first
        batch: BatchSummary = yield from run
    finally:
        run.close()
    if not paths.perturbed.exists():
        raise BatchError(f"no case succeeded: see {batch.errors_path}")
    _in_input_order(paths.perturbed, todo)
    long = read_perturbed(paths.perturbed)
    count = long["case"].nunique()
    table = _icc(long, form, threshold, f"{paths.perturbed}: ", f"see {batch.errors_path}")
    problem = ""
    try:
        params, extracted = robust_params(table, settings)
    except ValueError as exc:
        problem, extracted = str(exc), []
        paths.params.unlink(missing_ok=True)  # a stale file would name other features
    else:
        text = "# pyradiomics parameters enabling only robust features (robust_params)\n"
        _write(paths.params, text + params_to_yaml(params))  # preprocessing as comments
    table["in_params"] = table["feature"].isin(extracted)
    with replaced(paths.icc) as tmp:
        escape_frame(table).to_csv(tmp, index=False, lineterminator="\n")
    return RobustnessSummary(batch, paths, table, count, problem)


@dataclass(frozen=True)
class ArrayCase:
    """A case in memory for :func:`iter_case_robustness`: ``load`` returns its arrays
    (:data:`CaseArrays`) when its turn comes, in the thread that runs the iterator (a lazy
    slice is read there, not by the caller); ``name`` is how messages call it ("slice 3")."""

    name: str
    load: Callable[[], CaseArrays]


@dataclass
class CaseRobustness:
    """What :func:`iter_case_robustness` measured: the long table (one row per case and
    perturbation), its ICC table, and one message per case that could not be measured."""

    long: pd.DataFrame
    icc: pd.DataFrame
    failed: list[str] = field(default_factory=list)


def iter_case_robustness(
    cases: Sequence[ArrayCase],
    settings: ExtractionSettings,
    plan: PerturbationPlan,
    *,
    label: int = 1,
    form: IccForm = "1,1",
    threshold: float = 0.9,
    what: str = "the input",
) -> Generator[BatchProgress, None, CaseRobustness]:
    """ROI ``label`` of each case on its mask and the plan's perturbations, one case after
    another with one engine; then the ICC. Yields a step per case (a case that cannot be
    measured is a failed step, and the others go on), so a caller can show progress and
    cancel by closing it; returns the :class:`CaseRobustness`.

    A bad request (an unknown ICC form, a threshold outside (0, 1], fewer than 2 cases,
    ``what`` saying where they come from) raises BatchError here, before the iterator
    exists; a run over the memory limit at its first step; fewer than 2 cases measured at
    its end.
    """
    _check_request(form, threshold, len(cases), what)
    return _case_steps(list(cases), settings, plan, label, form, threshold)


def _case_steps(
    cases: list[ArrayCase],
    settings: ExtractionSettings,
    plan: PerturbationPlan,
    label: int,
    form: IccForm,
    threshold: float,
) -> Generator[BatchProgress, None, CaseRobustness]:
    total = len(cases)
    _check_table_memory(total, plan, settings)
    yield BatchProgress(0, total, None, True, f"{total} cases, {plan.n} perturbations each")
    engine, frames, failed = FeatureEngine(settings), [], []
    for done, case in enumerate(cases, start=1):
        try:
            image, mask, spacing, metadata = case.load()
            frames.append(
                perturbed_features(
                    engine, image, mask, spacing, plan, label=label, metadata=metadata
                )
            )
        except ValueError as exc:  # one bad case must not stop the others
            failed.append(f"{case.name}: {exc}")
            yield BatchProgress(done, total, case.name, False, failed[-1])
        else:
            yield BatchProgress(done, total, case.name, True, case.name)
    long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    why = "; ".join(failed[:3]) or "no case failed"
    return CaseRobustness(long, _icc(long, form, threshold, "", why), failed)


def _check_request(form: str, threshold: float, cases: int, what: str = "the input") -> None:
    """Refuse before any work an unknown ICC form, a threshold outside (0, 1] or fewer than
    2 cases (``what`` names where they come from)."""
    if form not in ICC_FORMS:
        raise BatchError(f"ICC form {form!r} is not known; choose from {', '.join(ICC_FORMS)}")
    if not 0 < threshold <= 1:
        raise BatchError(f"the robustness threshold is an ICC bound in (0, 1], got {threshold}")
    if cases < 2:
        raise BatchError(
            f"an ICC needs at least 2 cases (it compares the spread between cases with the "
            f"spread within each); got {cases} from {what}"
        )


def _icc(
    long: pd.DataFrame, form: IccForm, threshold: float, where: str, why: str
) -> pd.DataFrame:
    """The ICC table of ``long``, refused when fewer than 2 cases were measured (``where``
    prefixes the message, ``why`` says where the failures are)."""
    count = long["case"].nunique() if "case" in long else 0
    if count < 2:
        raise BatchError(
            f"{where}only {count} case succeeded, and an ICC needs at least 2 ({why})"
        )
    return robustness(long, form=form, threshold=threshold)


def _check_table_memory(cases: int, plan: PerturbationPlan, settings: ExtractionSettings) -> None:
    """Refuse before any work a run whose long table (one row per case and perturbation,
    read whole for the ICC) would not fit the memory limit. Counted low: one ROI label per
    case and each enabled feature once, whatever the image types."""
    from radiomics import getFeatureClasses

    classes = getFeatureClasses()
    enabled = PyradiomicsConfig.from_params(settings.to_params()).features
    features = sum(
        len(names) if names else sum(not d for d in classes[name].getFeatureNames().values())
        for name, names in enabled.items()
        if name in classes
    )
    rows = cases * (plan.n + 1)
    problem = memory_problem(
        f"{plan.n} perturbations of {cases} cases",
        rows * features * 8 * 2,  # float64 values, as parsed and as the table
        "ask for fewer perturbations (--perturbations) or run fewer cases",
        mostly=f"the long table of {rows} rows and {features} features",
    )
    if problem is not None:
        raise BatchError(problem)
