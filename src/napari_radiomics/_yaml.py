"""YAML read with bounded effort: a params file of 1 KB must not stand for a billion values.

Safe loading runs no code, but aliases (``&a`` ... ``*a``) let a tiny document expand without
limit once anything walks it. Params files and ``--set`` values go through :func:`load_yaml`,
which counts the expanded size before constructing anything.
"""

from __future__ import annotations

from typing import Any

import yaml

from napari_radiomics.errors import SettingsError

__all__ = ["MAX_PARAMS_VALUES", "load_yaml"]

#: Most values a params file may expand to once YAML aliases are followed. pyradiomics' own
#: example files hold well under 200; a "billion laughs" file of 1 KB expands to 10**9.
MAX_PARAMS_VALUES = 10_000


def load_yaml(text: str, *, max_values: int = MAX_PARAMS_VALUES) -> Any:
    """``yaml.safe_load``, refusing a document whose aliases expand it past ``max_values``.

    Safe loading runs no code, but aliases let a 1 KB file stand for a billion values; loading
    shares the nodes, and everything after (validation, copies, the params' JSON) would expand
    them, for minutes. The document is composed first (aliases still shared), its expanded size
    counted once per distinct node, and refused before anything is constructed.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}, max_values) > max_values:
            raise SettingsError(
                f"the YAML expands to more than {max_values} values through aliases (&/*); "
                "a params file needs none of that many (a 'billion laughs' file?)"
            )
        return None if node is None else loader.construct_document(node)
    except RecursionError:
        raise SettingsError("the YAML is nested too deeply to be a params file") from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], limit: int) -> int:
    """Values ``node`` stands for with every alias followed; memoised per node, so the count
    costs one visit per distinct node, and stops once past ``limit``."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = limit + 1  # a node reached again while being counted: a recursive alias
    total = 1
    children = node.value if isinstance(node, yaml.CollectionNode) else []
    for child in (
        c for entry in children for c in (entry if isinstance(entry, tuple) else [entry])
    ):
        total += _expanded_size(child, sizes, limit)
        if total > limit:
            break
    sizes[id(node)] = total
    return total
