"""LBP3D: the ``sph_harm`` adapter against the definition, and engine parity with pyradiomics."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.special
from radiomics.featureextractor import RadiomicsFeatureExtractor
from scipy.special import lpmv

from _layers import assert_same_features, case_layers
from napari_radiomics.engine import ensure_lbp3d_support, extract_features
from napari_radiomics.engine._compat import sph_harm
from napari_radiomics.settings import ExtractionSettings

RNG = np.random.default_rng(20240517)
# Old convention: theta azimuthal, phi polar. pyradiomics passes arccos(z) (in [0, pi]) as the
# azimuth and arctan2(y, x) (in [-pi, pi]) as the polar angle, so cover both ranges and beyond.
AZIMUTH = np.concatenate([RNG.uniform(0, 2 * np.pi, 40), [0.0, np.pi / 2, np.pi, 2 * np.pi]])
POLAR = np.concatenate([RNG.uniform(-np.pi, np.pi, 40), [0.0, np.pi / 2, -np.pi / 2, np.pi]])


def _closed_form(n: int, m: int, az: np.ndarray, polar: np.ndarray) -> np.ndarray:
    """Y_n^m from textbook closed forms with the Condon-Shortley phase. Written in x = cos(polar)
    and s = sqrt(1 - x^2) (>= 0), as the definition through P_n^m(cos polar) has it."""
    x = np.cos(polar)
    s = np.sqrt(1 - x**2)
    e = np.exp(1j * m * az)
    pi = np.pi
    forms = {
        (0, 0): 0.5 * np.sqrt(1 / pi) * np.ones_like(x),
        (1, 0): 0.5 * np.sqrt(3 / pi) * x,
        (1, 1): -0.5 * np.sqrt(3 / (2 * pi)) * s,
        (1, -1): 0.5 * np.sqrt(3 / (2 * pi)) * s,
        (2, 0): 0.25 * np.sqrt(5 / pi) * (3 * x**2 - 1),
        (2, 1): -0.5 * np.sqrt(15 / (2 * pi)) * s * x,
        (2, -1): 0.5 * np.sqrt(15 / (2 * pi)) * s * x,
        (2, 2): 0.25 * np.sqrt(15 / (2 * pi)) * s**2,
        (2, -2): 0.25 * np.sqrt(15 / (2 * pi)) * s**2,
    }
    return forms[n, m] * e


def _definition(n: int, m: int, az: np.ndarray, polar: np.ndarray) -> np.ndarray:
    """sqrt((2n+1)/(4 pi) (n-m)!/(n+m)!) e^{i m az} P_n^m(cos polar), P_n^m from ``lpmv`` for
    m >= 0 (Condon-Shortley phase included) and P_n^{-m} = (-1)^m (n-m)!/(n+m)! P_n^m."""
    k = abs(m)
    legendre = lpmv(k, n, np.cos(polar))
    if m < 0:
        legendre = (-1) ** k * math.factorial(n - k) / math.factorial(n + k) * legendre
    norm = math.sqrt((2 * n + 1) / (4 * math.pi) * math.factorial(n - m) / math.factorial(n + m))
    return norm * np.exp(1j * m * az) * legendre


@pytest.mark.parametrize(
    ("n", "m"), [(0, 0), (1, 0), (1, 1), (1, -1), *[(2, m) for m in (-2, -1, 0, 1, 2)]]
)
def test_sph_harm_matches_closed_forms(n: int, m: int) -> None:
    got = sph_harm(m, n, AZIMUTH, POLAR)  # old argument order: (m, n, azimuth, polar)
    np.testing.assert_allclose(got, _closed_form(n, m, AZIMUTH, POLAR), rtol=1e-12, atol=1e-14)


def test_sph_harm_y00_is_the_constant() -> None:
    assert sph_harm(0, 0, 1.234, 2.345) == pytest.approx(1 / (2 * math.sqrt(math.pi)), rel=1e-15)


def test_sph_harm_matches_the_definition_up_to_degree_6() -> None:
    rng = np.random.default_rng(6)
    pairs = [(n, m) for n in range(7) for m in range(-n, n + 1)]
    for n, m in pairs:
        az, polar = rng.uniform(0, 2 * np.pi, 25), rng.uniform(-np.pi, np.pi, 25)
        np.testing.assert_allclose(
            sph_harm(m, n, az, polar),
            _definition(n, m, az, polar),
            rtol=1e-12,
            atol=1e-13,  # |Y| is O(0.1-1); near its zeros only the absolute error means much
            err_msg=f"n={n} m={m}",
        )


def test_sph_harm_broadcasts_like_pyradiomics_calls_it() -> None:
    # getLBP3DImage: scalar (m, n), one angle pair per icosphere vertex.
    assert sph_harm(-1, 2, AZIMUTH, POLAR).shape == AZIMUTH.shape
    conjugate = (-1) ** 1 * np.conj(sph_harm(1, 2, AZIMUTH, POLAR))  # Y_n^-m = (-1)^m conj(Y_n^m)
    np.testing.assert_allclose(sph_harm(-1, 2, AZIMUTH, POLAR), conjugate, rtol=1e-12, atol=1e-15)


def test_an_existing_sph_harm_is_never_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    def theirs(m, n, theta, phi):  # pragma: no cover - only its identity matters
        raise AssertionError

    monkeypatch.setattr(scipy.special, "sph_harm", theirs, raising=False)
    ensure_lbp3d_support()
    assert scipy.special.sph_harm is theirs


def test_a_missing_sph_harm_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(scipy.special, "sph_harm", raising=False)
    assert ensure_lbp3d_support() is None
    from scipy.special import sph_harm as installed  # what pyradiomics' import now finds

    assert installed is sph_harm


def test_missing_trimesh_is_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "trimesh", None)  # import trimesh -> ImportError
    monkeypatch.setitem(sys.modules, "trimesh.creation", None)
    reason = ensure_lbp3d_support()
    assert reason is not None
    assert "trimesh" in reason


# -- parity ---------------------------------------------------------------------------------------

CASE = "brain1"  # 3D, 4137 ROI voxels: LBP3D plus every class takes about a second
PARAMS = {
    "setting": {},
    "imageType": {
        # pyradiomics' LBP3D defaults, spelled out; LBP values span ~0-22, so the default bin
        # width of 25 would put every voxel in one bin and make the texture classes trivial.
        "LBP3D": {
            "lbp3DLevels": 2,
            "lbp3DIcosphereRadius": 1,
            "lbp3DIcosphereSubdivision": 1,
            "binWidth": 1.0,
        }
    },
    "featureClass": {},  # every class, as pyradiomics enables them
}


def _lbp(features: dict) -> dict:
    return {k: v for k, v in features.items() if k.startswith("lbp-3D-")}


def test_engine_lbp3d_equals_pyradiomics(pyradiomics_data: Path) -> None:
    assert ensure_lbp3d_support() is None  # so pyradiomics' own imports resolve too
    settings = ExtractionSettings.from_params(PARAMS)
    image, mask = case_layers(pyradiomics_data, CASE)
    frame = extract_features(image, mask, settings)
    expected = RadiomicsFeatureExtractor(settings.to_params()).execute(
        str(pyradiomics_data / f"{CASE}_image.nrrd"), str(pyradiomics_data / f"{CASE}_label.nrrd")
    )
    ours = frame.iloc[0].to_dict()
    lbp_ours, lbp_theirs = _lbp(ours), _lbp(expected)
    # Three images (levels m1, m2 and kurtosis k), each with every non-shape class.
    for image_name in ("lbp-3D-m1", "lbp-3D-m2", "lbp-3D-k"):
        for feature_class in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"):
            prefix = f"{image_name}_{feature_class}_"
            assert any(k.startswith(prefix) for k in lbp_theirs), prefix
    assert set(lbp_ours) == set(lbp_theirs)
    assert len(lbp_theirs) == 3 * 93, len(lbp_theirs)
    finite = [k for k, v in lbp_theirs.items() if np.isfinite(float(v)) and float(v) != 0]
    assert len(finite) > 200  # the comparison below is not between NaNs and zeros
    assert_same_features(ours, expected)


def test_engine_runs_lbp3d_without_the_skip_warning(
    pyradiomics_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ExtractionSettings.from_params(
        {"imageType": {"LBP3D": {"binWidth": 1.0}}, "featureClass": {"firstorder": []}}
    )
    image, mask = case_layers(pyradiomics_data, "breast1")
    with (
        caplog.at_level(logging.WARNING, logger="radiomics"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        frame = extract_features(image, mask, settings)
    assert not [r.getMessage() for r in caplog.records if "LBP" in r.getMessage()]
    assert not [str(w.message) for w in caught if "LBP3D" in str(w.message)]  # the engine's note
    names = [c for c in frame.columns if c.startswith("lbp-3D-")]
    assert {n.split("_")[0] for n in names} == {"lbp-3D-m1", "lbp-3D-m2", "lbp-3D-k"}
    assert frame[names].notna().all(axis=None)


def test_engine_says_when_lbp3d_cannot_run(
    pyradiomics_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from napari_radiomics.engine import _inputs

    monkeypatch.setattr(_inputs, "ensure_lbp3d_support", lambda: "it needs the trimesh package")
    monkeypatch.setattr(
        "radiomics.imageoperations.getLBP3DImage", lambda image, mask, **kwargs: iter(())
    )
    settings = ExtractionSettings.from_params(
        {"imageType": {"Original": {}, "LBP3D": {}}, "featureClass": {"firstorder": []}}
    )
    image, mask = case_layers(pyradiomics_data, "breast1")
    with pytest.warns(
        UserWarning, match="LBP3D is skipped by pyradiomics here: it needs the trimesh package"
    ):
        frame = extract_features(image, mask, settings)
    assert not any(c.startswith("lbp-3D-") for c in frame.columns)
