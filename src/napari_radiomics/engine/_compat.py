"""pyradiomics' LBP3D filter on current SciPy.

``imageoperations.getLBP3DImage`` (pyradiomics 3.1.4) imports, inside the function,
``scipy.special.sph_harm``, ``scipy.ndimage.interpolation.map_coordinates`` and
``trimesh.creation.icosphere``. When any of them fails it logs a warning and yields no image, so
every ``lbp-3D-*`` feature is silently missing from the results. ``sph_harm`` is gone from SciPy
1.17 on; its successor ``sph_harm_y`` computes the same function with the arguments reordered
and the meaning of the two angles swapped, so a one-line adapter restores the old name exactly.

``scipy.ndimage.interpolation`` is a deprecated namespace, still present (and importable, with a
DeprecationWarning) in SciPy 1.17; it is due to go in SciPy 2.0. Nothing is patched for it until
that release exists to test against: until then ``ensure_lbp3d_support`` only reports its
absence.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike


def sph_harm(m: ArrayLike, n: ArrayLike, theta: ArrayLike, phi: ArrayLike) -> np.ndarray:
    """SciPy's removed ``sph_harm(m, n, theta, phi)``, for pyradiomics, which still calls it.

    The old function took the azimuthal angle as ``theta`` and the polar one as ``phi``;
    ``sph_harm_y(n, m, theta, phi)`` takes them the other way round, so they are passed swapped.
    pyradiomics passes ``arctan2`` values (in ``[-pi, pi]``) as the polar angle; both functions
    depend on it only through ``cos``, so those agree too. Only the old documented domain
    (integers, ``|m| <= n``) is covered: pyradiomics uses no other.
    """
    from scipy.special import sph_harm_y

    return sph_harm_y(n, m, phi, theta)


def ensure_lbp3d_support() -> str | None:
    """Make pyradiomics' LBP3D imports resolve; return None when they all do, otherwise the
    reason pyradiomics would skip LBP3D here.

    The adapter goes into ``scipy.special`` only when the name is missing: a SciPy that still
    has its own ``sph_harm`` (or something else that put one there) keeps it. pyradiomics imports
    the names at every call, so installing the adapter once, before its filters run, is enough.
    """
    import scipy.special

    if not hasattr(scipy.special, "sph_harm"):
        if not hasattr(scipy.special, "sph_harm_y"):
            return "this SciPy has neither scipy.special.sph_harm nor sph_harm_y"
        scipy.special.sph_harm = sph_harm
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from scipy.ndimage.interpolation import map_coordinates  # noqa: F401
    except ImportError as err:
        return f"pyradiomics imports map_coordinates from scipy.ndimage.interpolation: {err}"
    try:
        from trimesh.creation import icosphere  # noqa: F401
    except ImportError as err:
        return f"it needs the trimesh package ({err})"
    return None
