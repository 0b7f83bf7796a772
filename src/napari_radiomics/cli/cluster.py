"""`napari-radiomics cluster`: do the features group the cases by tumour type?"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from napari_radiomics.cli._options import (
    add_column_options,
    add_subcommand,
    add_table_options,
    features_table,
    positive,
)
from napari_radiomics.cli._status import EXIT_OK

_HELP = """\
Cluster the cases of a features table (this plugin's CSV or Parquet) without their tumour
type, then measure how well the clusters agree with it. Features are standardised (constant
ones dropped), or reduced to their first principal components with --space pca. By default
each patient (GROUP) is one point, the mean of its slices, and every case gets its patient's
cluster; --per slice clusters the slices. k-means and the Gaussian mixture find --clusters K
groups; HDBSCAN finds its own number and marks points that belong nowhere as noise (-1).
Identifying and diagnostics_* columns are never features.

Written to OUTPUT_DIR: clusters.csv (the identifying columns of each case and its cluster),
agreement.json (adjusted_rand and nmi against TARGET, and how the run was made),
contingency.csv (clusters x TARGET counts) and contingency.png; never over FEATURES (an
OUTPUT_DIR where one would replace it, by any name, is refused before the clustering).
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `cluster` subcommand's options."""
    from napari_radiomics.analysis.clustering import METHODS, SPACES

    cluster = add_subcommand(
        commands, "cluster",
        help="cluster a features table and measure its agreement with the tumour type",
        description=_HELP,
    )  # fmt: skip
    add_table_options(cluster)
    cluster.add_argument("--method", choices=METHODS, default=METHODS[0])
    cluster.add_argument("--clusters", type=positive, default=3, metavar="K",
                         help="clusters of k-means and the mixture (default 3)")  # fmt: skip
    cluster.add_argument("--space", choices=SPACES, default=SPACES[0])
    cluster.add_argument("--components", type=positive, default=10, metavar="N",
                         help="principal components with --space pca (default 10)")  # fmt: skip
    cluster.add_argument("--per", choices=("patient", "slice"), default="patient")
    cluster.add_argument("--min-cluster-size", type=positive, default=5, metavar="N",
                         help="HDBSCAN's smallest cluster (default 5)")  # fmt: skip
    add_column_options(cluster, target="column to compare with", group="the patient column")
    cluster.add_argument("--seed", type=int, default=0, help="random seed")
    return cluster


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Cluster, write the files, print the agreement."""
    from napari_radiomics.analysis.clustering import (
        CLUSTER_REPORT_FILES,
        cluster_table,
        write_cluster_report,
    )
    from napari_radiomics.cli._follow import cannot_write
    from napari_radiomics.errors import WriteError

    table, output = features_table(parser, args, "the clustering", CLUSTER_REPORT_FILES)
    try:
        result = cluster_table(
            table, method=args.method, clusters=args.clusters, space=args.space,
            components=args.components, per=args.per, target=args.target, group=args.group,
            min_cluster_size=args.min_cluster_size, seed=args.seed,
        )  # fmt: skip
    except ValueError as exc:  # names the column or the option
        parser.error(f"{args.features}: {exc}")
    try:
        written = write_cluster_report(result, output, [args.features])
    except WriteError as exc:
        return cannot_write("cluster", exc)
    agreement = result.agreement
    print(
        f"{agreement['clusters']} clusters of {agreement['points']} {args.per}s "
        f"({agreement['noise']} noise): adjusted Rand {agreement['adjusted_rand']:.3f}, "
        f"NMI {agreement['nmi']:.3f} against {args.target}; "
        f"written to {output} ({len(written)} files)",
        file=sys.stderr,
    )
    return EXIT_OK
