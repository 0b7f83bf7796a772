"""ComBat inside the folds on a dataset-sized table, against neuroCombat and against no ComBat.

    cd benchmarks && python bench_harmonize.py --cases 3064 --features 1000 --patients 233

The table is ``bench_model``'s synthetic one with a ``site`` column (each patient at one of
``--sites`` sites, every site shifting and scaling every feature its own way). Timed in the
same process: the package's ``ComBat`` learning on all rows and transforming them, against
``neuroCombat`` doing the same (the same numbers, checked here to 1e-6 of the largest
value); then ``evaluate_model`` (5 grouped folds, no importances) with and without
``harmonize="site"``, which is what ``--harmonize`` adds to a model run.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
from neuroCombat import neuroCombat

from bench_model import synthetic_table, table_arguments
from bench_ranking import timed
from napari_radiomics.analysis.harmonize import ComBat
from napari_radiomics.analysis.models import evaluate_model


def sited(cases: int, features: int, patients: int, sites: int) -> pd.DataFrame:
    table = synthetic_table(cases, features, patients).copy()  # one block: no fragmentation
    rng = np.random.default_rng(1)
    site = table["patient_id"].str[1:].astype(int) % sites
    columns = [c for c in table.columns if c.startswith("original_")]
    offset, scale = rng.normal(0, 3, (sites, features)), rng.uniform(0.5, 2, (sites, features))
    table[columns] = table[columns].to_numpy() * scale[site] + offset[site]
    return table.assign(site=[f"S{s}" for s in site])


def main() -> None:
    parser = table_arguments(__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=4)
    args = parser.parse_args()
    table = sited(args.cases, args.features, args.patients, args.sites)
    columns = [c for c in table.columns if c.startswith("original_")]
    size = f"{args.cases} cases x {args.features} features, {args.sites} sites"
    ours, harmonised = timed(lambda: ComBat("site").fit_transform(table[[*columns, "site"]]))
    values = table[columns].to_numpy().T.copy()
    with contextlib.redirect_stdout(io.StringIO()):  # neuroCombat prints each step
        theirs, reference = timed(neuroCombat, values, table[["site"]], "site")
    expected = reference["data"].T
    np.testing.assert_allclose(harmonised, expected, atol=1e-6 * np.abs(expected).max())
    print(f"{size}: ComBat {ours:.2f} s, neuroCombat {theirs:.2f} s ({theirs / ours:.1f}x)")
    evaluate_model(table, importance_repeats=0)  # imports and caches warmed, untimed
    plain, result = timed(evaluate_model, table, importance_repeats=0)
    combat, with_combat = timed(evaluate_model, table, importance_repeats=0, harmonize="site")
    print(
        f"{size}: model without ComBat {plain:.1f} s "
        f"(balanced accuracy {result.metrics['balanced_accuracy']['mean']:.3f}), with ComBat "
        f"in each fold {combat:.1f} s "
        f"({with_combat.metrics['balanced_accuracy']['mean']:.3f}; "
        f"{combat / plain:.2f}x the time)"
    )


if __name__ == "__main__":
    main()
