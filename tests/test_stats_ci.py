"""Confidence intervals for proportions and O/E ratios against R reference values (1e-9).

Reference files are verbatim copies of /work/shared/reference in tests/reference_data (CI runs on a
clean clone where ../shared does not exist).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.stats import (
    clopper_pearson_interval,
    jeffreys_interval,
    observed_expected,
    wilson_cc_interval,
    wilson_interval,
    z_for_confidence,
)

REF = Path(__file__).resolve().parent / "reference_data"
SHARED_REF = Path(__file__).resolve().parents[2] / "shared" / "reference"
TOL = 1e-9


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


@pytest.fixture(scope="module")
def base_r() -> pd.DataFrame:
    return _read("a_ci_base_R_stats.csv")


@pytest.fixture(scope="module")
def phe() -> pd.DataFrame:
    return _read("a_ci_wilson_PHEindicatormethods.csv")


def _close(actual: np.ndarray, expected: pd.Series) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), expected.to_numpy(dtype=float), rtol=0, atol=TOL)


def _sha256sums(folder) -> dict[str, str]:
    import hashlib

    return {"./" + str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "SHA256SUMS"}


def test_reference_copies_are_verbatim() -> None:
    """The copies equal the checksums taken from the R tools' output (tests/reference_data/SHA256SUMS); where the
    shared reference folder is present too (a development machine), the checksums are of that folder."""
    manifest = dict(reversed(line.split("  ", 1)) for line in (REF / "SHA256SUMS").read_text().splitlines())
    assert len(manifest) >= 14
    assert _sha256sums(REF) == manifest
    if SHARED_REF.is_dir():
        assert _sha256sums(SHARED_REF) == manifest


def test_grid_inputs_match_reference_rows(base_r: pd.DataFrame, phe: pd.DataFrame) -> None:
    grid = _read("inputs/ci_grid.csv")
    for frame in (base_r, phe):
        assert frame[["events", "n"]].to_numpy().tolist() == grid[["events", "n"]].to_numpy().tolist()


def test_z_for_confidence_matches_qnorm() -> None:
    assert z_for_confidence(0.95) == pytest.approx(1.959963984540054, abs=1e-12)  # qnorm(0.975)
    assert z_for_confidence(0.998) == pytest.approx(3.090232306167813, abs=1e-12)  # qnorm(0.999)
    with pytest.raises(ValueError):
        z_for_confidence(1.0)


@pytest.mark.parametrize(("confidence", "low_col", "high_col"), [(0.95, "lower95_0cl", "upper95_0cl"), (0.998, "lower99_8cl", "upper99_8cl")])
def test_wilson_matches_phe_indicator_methods(phe: pd.DataFrame, confidence: float, low_col: str, high_col: str) -> None:
    low, high = wilson_interval(phe["events"], phe["n"], confidence)
    _close(low, phe[low_col])
    _close(high, phe[high_col])


@pytest.mark.parametrize(("confidence", "suffix"), [(0.95, "95"), (0.998, "998")])
def test_wilson_matches_prop_test_uncorrected(base_r: pd.DataFrame, confidence: float, suffix: str) -> None:
    low, high = wilson_interval(base_r["events"].to_numpy(), base_r["n"].to_numpy(), confidence)
    _close(low, base_r[f"wilson_lower{suffix}"])
    _close(high, base_r[f"wilson_upper{suffix}"])


@pytest.mark.parametrize(("confidence", "suffix"), [(0.95, "95"), (0.998, "998")])
def test_clopper_pearson_matches_binom_test(base_r: pd.DataFrame, confidence: float, suffix: str) -> None:
    low, high = clopper_pearson_interval(base_r["events"], base_r["n"], confidence)
    _close(low, base_r[f"cp_lower{suffix}"])
    _close(high, base_r[f"cp_upper{suffix}"])


def test_wilson_cc_matches_prop_test_corrected(base_r: pd.DataFrame) -> None:
    low, high = wilson_cc_interval(base_r["events"], base_r["n"], 0.95)
    _close(low, base_r["wilsoncc_lower95"])
    _close(high, base_r["wilsoncc_upper95"])


def test_wilson_cc_drops_correction_at_half_like_r(base_r: pd.DataFrame) -> None:
    half = base_r[base_r["events"] * 2 == base_r["n"]]
    assert len(half) == 3  # 5/10, 10/20, 50/100
    low, high = wilson_cc_interval(half["events"], half["n"])
    _close(low, half["wilson_lower95"])  # R's reference: identical to the uncorrected interval
    _close(high, half["wilson_upper95"])


def test_jeffreys_matches_qbeta(base_r: pd.DataFrame) -> None:
    low, high = jeffreys_interval(base_r["events"], base_r["n"], 0.95)
    _close(low, base_r["jeffreys_lower95"])
    _close(high, base_r["jeffreys_upper95"])


@pytest.mark.parametrize("fn", [wilson_interval, wilson_cc_interval, clopper_pearson_interval, jeffreys_interval])
def test_zero_denominator_gives_nan_and_scalars_give_floats(fn) -> None:
    low, high = fn(0, 0)
    assert math.isnan(low) and math.isnan(high)
    low, high = fn(1, 5)
    assert isinstance(low, float) and isinstance(high, float) and 0 < low < 0.2 < high < 1
    lows, highs = fn(np.array([0, 2]), np.array([0, 10]))
    assert np.isnan(lows[0]) and np.isnan(highs[0]) and lows[1] < 0.2 < highs[1]


def test_invalid_counts_raise() -> None:
    with pytest.raises(ValueError):
        wilson_interval(6, 5)
    with pytest.raises(ValueError):
        clopper_pearson_interval(-1, 5)


def _poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu), summed by hand (independent of scipy)."""
    return sum(math.exp(-mu) * mu**i / math.factorial(i) for i in range(k + 1))


def test_observed_expected_exact_poisson_hand_values() -> None:
    # O = 10, E = 5. Exact (Garwood) limits for a Poisson count of 10, from the gamma formula
    # qgamma(0.025, 10) and qgamma(0.975, 11): 4.795388696132 and 18.390356042018.
    lower_count, upper_count = 4.7953886961324335, 18.39035604201778
    # ... checked here against their defining tail probabilities with a hand-summed Poisson cdf
    assert 1.0 - _poisson_cdf(9, lower_count) == pytest.approx(0.025, abs=1e-12)
    assert _poisson_cdf(10, upper_count) == pytest.approx(0.025, abs=1e-12)
    ratio, low, high = observed_expected(10, 5)
    assert ratio == 2.0
    assert low == pytest.approx(lower_count / 5, abs=TOL)  # 0.959077739226
    assert high == pytest.approx(upper_count / 5, abs=TOL)  # 3.678071208404
    assert round(low, 3) == 0.959 and round(high, 3) == 3.678


def test_observed_expected_zero_observed_and_vectorised() -> None:
    # O = 0: lower 0, upper = -log(0.025) (P(X = 0) = exp(-mu) = 0.025)
    ratio, low, high = observed_expected(np.array([0, 10, 3]), np.array([2.0, 5.0, 0.0]))
    assert ratio[0] == 0 and low[0] == 0
    assert high[0] == pytest.approx(-math.log(0.025) / 2.0, abs=TOL)
    assert low[1] == pytest.approx(4.7953886961324335 / 5, abs=TOL)
    assert np.isnan(ratio[2]) and np.isnan(low[2]) and np.isnan(high[2])
    with pytest.raises(ValueError):
        observed_expected(-1, 2)
