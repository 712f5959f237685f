"""Small helpers shared by the statistics modules (array conversion and argument checks)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _as_float(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _maybe_scalar(*arrays: np.ndarray, scalar: bool) -> Any:
    if scalar:
        out = tuple(float(a) for a in arrays)
    else:
        out = arrays
    return out if len(out) > 1 else out[0]


def _check_counts(events: np.ndarray, n: np.ndarray) -> None:
    bad = (events < 0) | (n < 0) | (events > n)
    if np.any(bad[~(np.isnan(events) | np.isnan(n))]):
        raise ValueError("events and n must satisfy 0 <= events <= n")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")

