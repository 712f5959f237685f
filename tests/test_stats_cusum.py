"""Bernoulli CUSUM: hand-computed sequences, reset behaviour, ARL against exact / simulated values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipelines.stats import DEFAULT_CUSUM_ARL0, bernoulli_cusum, cusum_arl, cusum_path, cusum_threshold

TOL = 1e-9

# p0 = 0.1, R = 2:  W(event) = ln 2 - ln 1.1 = 0.597837..., W(no event) = -ln 1.1 = -0.095310...
W1 = math.log(2.0) - math.log(1.1)
W0 = -math.log(1.1)


def test_plain_cusum_hand_computed_with_reset() -> None:
    out = bernoulli_cusum([0, 1, 1, 0, 1, 0], 0.1, odds_ratio=2.0, threshold=1.5)
    expected = [
        0.0,  # max(0, 0 - 0.0953)
        W1,  # 0.597837
        2 * W1,  # 1.195674
        2 * W1 + W0,  # 1.100364
        3 * W1 + W0,  # 1.698201 >= 1.5 -> signal, restart at 0
        0.0,  # max(0, 0 - 0.0953)
    ]
    np.testing.assert_allclose(out["cusum"], expected, rtol=0, atol=TOL)
    np.testing.assert_allclose(out["weight"], [W0, W1, W1, W0, W1, W0], rtol=0, atol=TOL)
    assert out["signal"].tolist() == [False, False, False, False, True, False]
    assert (out["threshold"] == 1.5).all()
    assert list(out.columns) == ["outcome", "expected", "weight", "cusum", "threshold", "signal"]


def test_plain_cusum_without_reset_keeps_accumulating() -> None:
    out = bernoulli_cusum([0, 1, 1, 0, 1, 0, 0], 0.1, odds_ratio=2.0, threshold=1.5, reset=False)
    expected = [0.0, W1, 2 * W1, 2 * W1 + W0, 3 * W1 + W0, 3 * W1 + 2 * W0, 3 * W1 + 3 * W0]
    # 1.698201, 1.602891, 1.507580: all still >= 1.5
    np.testing.assert_allclose(out["cusum"], expected, rtol=0, atol=TOL)
    assert out["signal"].tolist() == [False, False, False, False, True, True, True]


def test_risk_adjusted_hand_computed() -> None:
    # Steiner et al. (2000): W_t = y_t ln R - ln(1 - p_t + R p_t)
    out = bernoulli_cusum([1, 0, 1, 1], 0.1, odds_ratio=2.0, threshold=10.0, expected=[0.05, 0.2, 0.5, 0.02])
    w = [math.log(2) - math.log(1.05), -math.log(1.2), math.log(2) - math.log(1.5), math.log(2) - math.log(1.02)]
    s1 = w[0]  # 0.644357
    s2 = max(0.0, s1 + w[1])  # 0.462035
    s3 = s2 + w[2]  # 0.749717
    s4 = s3 + w[3]  # 1.423063
    np.testing.assert_allclose(out["weight"], w, rtol=0, atol=TOL)
    np.testing.assert_allclose(out["cusum"], [s1, s2, s3, s4], rtol=0, atol=TOL)
    assert not out["signal"].any()


def test_risk_adjusted_with_constant_risk_equals_plain() -> None:
    rng = np.random.default_rng(7)
    y = (rng.random(300) < 0.08).astype(int)
    plain = bernoulli_cusum(y, 0.05, odds_ratio=2.0, threshold=2.5)
    adjusted = bernoulli_cusum(y, 0.05, odds_ratio=2.0, threshold=2.5, expected=np.full(300, 0.05))
    np.testing.assert_allclose(adjusted["cusum"], plain["cusum"], rtol=0, atol=TOL)
    assert adjusted["signal"].tolist() == plain["signal"].tolist()
    assert plain["signal"].any()


def test_decrease_detection_with_odds_ratio_below_one() -> None:
    out = bernoulli_cusum([0, 0, 1], 0.5, odds_ratio=0.5, threshold=5.0)
    w0, w1 = -math.log(0.75), math.log(0.5) - math.log(0.75)  # 0.287682, -0.405465
    np.testing.assert_allclose(out["cusum"], [w0, 2 * w0, max(0.0, 2 * w0 + w1)], rtol=0, atol=TOL)


def test_missing_outcomes_are_skipped() -> None:
    out = bernoulli_cusum([1, np.nan, 1], 0.1, odds_ratio=2.0, threshold=10.0)
    np.testing.assert_allclose(out["cusum"], [W1, W1, 2 * W1], rtol=0, atol=TOL)


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError):
        bernoulli_cusum([0, 2], 0.1, threshold=1.0)
    with pytest.raises(ValueError):
        bernoulli_cusum([0, 1], 1.2, threshold=1.0)
    with pytest.raises(ValueError):
        bernoulli_cusum([0, 1], 0.1, odds_ratio=1.0, threshold=1.0)
    with pytest.raises(ValueError):
        bernoulli_cusum([0, 1], 0.1, threshold=1.0, expected=[0.1])


def test_arl_exact_on_a_lattice() -> None:
    """With p0 = 2^(1/4) - 1 and R = 2 the steps are +3u and -u (u = ln 2 / 4): an exact 5-state chain."""
    p0 = 2 ** 0.25 - 1
    u = math.log(2) / 4
    assert math.log(2) - math.log(1 + p0) == pytest.approx(3 * u, abs=1e-15)
    h = 4.5 * u  # in-control states S = 0, u, 2u, 3u, 4u
    q = np.zeros((5, 5))
    for j in range(5):
        if j + 3 <= 4:
            q[j, j + 3] += p0  # event: up 3 (else signal)
        q[j, max(j - 1, 0)] += 1 - p0  # no event: down 1, floored at 0
    exact = np.linalg.solve(np.eye(5) - q, np.ones(5))[0]
    assert cusum_arl(h, p0, 2.0, n_states=900) == pytest.approx(exact, rel=1e-9)


def test_arl_agrees_with_simulation() -> None:
    rng = np.random.default_rng(20240501)
    p, r, h, runs = 0.05, 2.0, 2.0, 4000
    w1, w0 = math.log(r) - math.log(1 - p + r * p), -math.log(1 - p + r * p)
    s = np.zeros(runs)
    run_length = np.zeros(runs)
    alive = np.ones(runs, dtype=bool)
    t = 0
    while alive.any():
        t += 1
        s = np.where(alive, np.maximum(0.0, s + np.where(rng.random(runs) < p, w1, w0)), s)
        hit = alive & (s >= h)
        run_length[hit] = t
        alive &= ~hit
    simulated = run_length.mean()  # standard error ~1.5 %
    assert cusum_arl(h, p, r) == pytest.approx(simulated, rel=0.06)


def test_threshold_gives_requested_arl_and_is_the_default() -> None:
    h = cusum_threshold(0.05, 2.0, 500.0)
    assert cusum_arl(h, 0.05, 2.0) == pytest.approx(500.0, rel=1e-4)
    assert cusum_threshold(0.05, 2.0, 2000.0) > h  # longer in-control ARL needs a higher threshold
    default = bernoulli_cusum([0, 1, 0], 0.05, odds_ratio=2.0)
    assert default["threshold"].iloc[0] == pytest.approx(cusum_threshold(0.05, 2.0, DEFAULT_CUSUM_ARL0), rel=1e-12)


@pytest.mark.parametrize("p, h, reset", [(0.03, 3.0, True), (0.3, 1.0, True), (0.05, 2.0, False)])
def test_block_computation_equals_the_recursion(p, h, reset):
    """The block-wise (Page identity) computation equals S_t = max(0, S_{t-1} + W_t) step by step."""
    import numpy as np

    rng = np.random.default_rng(7)
    y = (rng.random(20_000) < p).astype(float)
    y[rng.random(20_000) < 0.01] = np.nan
    chart = bernoulli_cusum(y, p, threshold=h, reset=reset)
    s, want_s, want_sig = 0.0, [], []
    for w, missing in zip(chart["weight"], np.isnan(y)):
        s = max(0.0, s + w)
        hit = (not missing) and s >= h
        want_s.append(s)
        want_sig.append(hit)
        if hit and reset:
            s = 0.0
    assert np.allclose(chart["cusum"], want_s, rtol=0, atol=1e-9)
    assert chart["signal"].tolist() == want_sig


def test_cusum_path_with_a_threshold_per_observation():
    # W = 1, 1, 1, -5, 2 against h = 5, 1.5, 5, 5, 1: S = 1; 2 >= 1.5 signals and restarts; 1; max(0, 1 - 5) = 0;
    # 2 >= 1 signals
    s, signal = cusum_path([1, 1, 1, -5, 2], [5, 1.5, 5, 5, 1])
    assert list(s) == [1, 2, 1, 0, 2] and list(signal) == [False, True, False, False, True]
    # one number is the same threshold everywhere
    assert list(cusum_path([1, 1, 1], 2.5)[1]) == [False, False, True]
    with pytest.raises(ValueError, match="thresholds must be > 0"):
        cusum_path([1, 1], [1, 0])
