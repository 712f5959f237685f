"""The pseudonymised record-level export for the auditor.

One row per session with its outcome flags. Patient and session references are re-keyed with HMAC-SHA256 under a
key drawn fresh for every export and never stored, so two exports cannot be linked to each other or back to the
clinic's references by their keys; clinicians appear by code. No free text leaves: only contract columns with fixed
value sets, generalised dates and doses, and the outcome flags.

Keys alone do not stop linking: 99.9 % of sessions were unique on their date, clinician, indication, areas,
product, units, age band and sex, so two exports joined on those columns linked every row, and anyone who knew
when a neighbour was treated found her row. These eight columns are the quasi-identifiers, and every export is
made k-anonymous over them with k = 5 (`K`): every row shares all eight values with at least 4 other rows.

1. Generalisation (the same for every row of a column): the treatment date becomes its month and units a band,
   always. Then, while more than `MAX_RESIDUE_SHARE` of the rows are still in groups smaller than k, the column
   whose next step up its hierarchy (`HIERARCHIES`: month -> quarter -> year; units bands -> broad bands; areas ->
   body region; product -> unit type; 10-year -> 20-year age bands; ... -> suppressed) brings most rows into
   groups of k per unit of information lost (`LOSS`: clinician and indication cost most) takes that step.
2. Local suppression: in the rows still in groups smaller than k, one column after another (least useful first,
   `SUPPRESSION_ORDER`) is replaced by `suppressed`.
3. Rows that even then share their values with fewer than 4 others are left out.
Then the rows are shuffled (the order of treatment would link two exports again). The provenance lines state k,
each column's generalisation, the cells suppressed per column and the rows left out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd

from pipelines import contract
from pipelines.metrics import counting, registry
from pipelines.metrics.counting import Filters

SESSION_COLUMNS = ["treated_on", "clinician", "indication", "areas", "product", "units", "is_primary", "is_repeat",
                   "age_band", "sex"]
PSEUDONYMISATION_NOTE = ("patient and session references re-keyed with HMAC-SHA256 under a one-off key that was not "
                         "kept; no free text")
K = 5
QUASI_IDENTIFIERS = ("treated_on", "clinician", "indication", "areas", "product", "units", "age_band", "sex")
SUPPRESSED = "suppressed"
MAX_RESIDUE_SHARE = 0.05  # generalise whole columns until at most this share of rows needs local suppression
MISSING = ""  # a missing age band or sex stays empty (and is a value of its own for the groups)

UNIT_BANDS = ((0, 20), (20, 40), (40, 60), (60, 100), (100, 150), (150, 200), (200, 300), (300, None))
UNIT_BROAD_BANDS = ((0, 50), (50, 150), (150, None))
REGION = {"glabella": "upper_face", "forehead": "upper_face", "crows_feet": "upper_face",
          "other_face": "lower_face", "masseter": "lower_face", "head_neck": "head_neck",
          "axillae": "sweat_glands", "palms": "sweat_glands"}
AGE_WIDE = {"18-29": "18-39", "30-39": "18-39", "40-49": "40-59", "50-59": "40-59", "60-69": "60+", "70+": "60+"}
UNIT_TYPE = {p.name: f"{p.unit_type}_units" for p in contract.PRODUCTS}


def _band(bands) -> Callable[[pd.Series], pd.Series]:
    def label(v: float) -> str:
        if pd.isna(v):
            return MISSING
        for low, high in bands:
            if high is None or v < high:
                return f"{low}+" if high is None else f"{low}-{high - 1}"
        return MISSING

    return lambda s: s.map(label)


def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).map(lambda v: MISSING if pd.isna(v) else str(v))


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s)


HIERARCHIES: dict[str, list[tuple[str, Callable[[pd.Series], pd.Series]]]] = {
    # column -> [(what the level is, value -> generalised text)], from the least general; every one ends suppressed
    "treated_on": [("month (YYYY-MM)", lambda s: _dates(s).dt.strftime("%Y-%m")),
                   ("quarter (YYYY-Qn)", lambda s: _dates(s).dt.year.astype(str) + "-Q"
                    + _dates(s).dt.quarter.astype(str)),
                   ("year", lambda s: _dates(s).dt.year.astype(str))],
    "clinician": [("code", _text)],
    "indication": [("as recorded", _text)],
    "areas": [("the areas treated", _text),
              ("body region (" + ", ".join(sorted(set(REGION.values()))) + ")",
               lambda s: _text(s).map(lambda v: "|".join(sorted({REGION.get(a, "other") for a in v.split("|")}))
                                      if v else MISSING))],
    "product": [("product", _text),
                ("unit type (botox_units, speywood_units)", lambda s: _text(s).map(lambda v: UNIT_TYPE.get(v, v)))],
    "units": [("bands of the product's units (" + ", ".join(f"{lo}-{hi - 1}" if hi else f"{lo}+"
                                                            for lo, hi in UNIT_BANDS) + ")", _band(UNIT_BANDS)),
              ("broad bands (" + ", ".join(f"{lo}-{hi - 1}" if hi else f"{lo}+" for lo, hi in UNIT_BROAD_BANDS)
               + ")", _band(UNIT_BROAD_BANDS))],
    "age_band": [("10-year band", _text),
                 ("20-year band (18-39, 40-59, 60+)", lambda s: _text(s).map(lambda v: AGE_WIDE.get(v, v)))],
    "sex": [("as recorded", _text)],
}
# information lost by one step up a column's hierarchy (the auditor needs clinician, indication and time most)
LOSS = {"treated_on": 3.0, "clinician": 8.0, "indication": 6.0, "areas": 2.0, "product": 2.0, "units": 1.0,
        "age_band": 1.0, "sex": 1.0}
SUPPRESSION_ORDER = ("units", "sex", "age_band", "areas", "product", "treated_on", "indication", "clinician")


def rekey(values: pd.Series, key: bytes, prefix: str) -> pd.Series:
    """HMAC-SHA256 under `key`, shortened to 16 hex digits (64 bits: no collisions at clinic scale)."""
    cache: dict[str, str] = {}

    def one(v: str) -> str:
        if v not in cache:
            cache[v] = prefix + hmac.new(key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        return cache[v]

    return values.map(one)


def _sessions(con: duckdb.DuckDBPyConnection, filters: Filters, as_of: dt.date) -> pd.DataFrame:
    prefix, relation = counting.per_session_source(con, list(registry.OUTCOMES), as_of)
    flags = []
    for o in registry.OUTCOMES:
        c = counting.counting_sql(o)
        flags.append(f'{c["denominator_n"]} AS "{o.key}__in_denominator"')
        flags.append(f'{c["numerator_n"]} AS "{o.key}__in_numerator"')
    where, params = filters.sql("p")
    sql = f"""{prefix}
SELECT p.patient_ref, p.treatment_id, {', '.join('p.' + c for c in SESSION_COLUMNS)}, {', '.join(flags)}
FROM {relation} p WHERE {where} ORDER BY p.treated_on, p.treatment_id"""
    if "$as_of" in sql:  # the live definitions need it; the published mart does not
        params = {"as_of": as_of, **params}
    return con.execute(sql, params).df()


def _class_sizes(columns: dict[str, np.ndarray]) -> np.ndarray:
    """For each row, how many rows share all its quasi-identifier values (columns as integer codes, -1 for a cell
    suppressed locally)."""
    key: np.ndarray | None = None
    for codes in columns.values():
        shifted = codes.astype(np.int64) + 1
        if key is None:
            key = shifted
        else:
            key = pd.factorize(key * (int(shifted.max()) + 1) + shifted)[0].astype(np.int64)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)]


def k_anonymise(frame: pd.DataFrame, k: int = K) -> tuple[pd.DataFrame, dict[str, object]]:
    """The rows generalised, locally suppressed and (where nothing else helps) left out until every row shares its
    quasi-identifiers with at least k - 1 others. Returns (frame, provenance lines)."""
    n = len(frame)
    # every level of every column, as text and as integer codes (the last level: all suppressed)
    texts: dict[str, list[pd.Series]] = {}
    codes: dict[str, list[np.ndarray]] = {}
    for c, levels in HIERARCHIES.items():
        # each level is worked out once per distinct value, then spread over the rows
        raw_codes, uniques = pd.factorize(frame[c], use_na_sentinel=False)
        texts[c], codes[c] = [], []
        for _, fn in levels:
            level_text = fn(pd.Series(uniques)).astype(object).to_numpy()
            level_codes, _ = pd.factorize(level_text)
            texts[c].append(pd.Series(level_text[raw_codes], dtype=object))
            codes[c].append(level_codes.astype(np.int64)[raw_codes])
        texts[c].append(pd.Series([SUPPRESSED] * n, dtype=object))
        codes[c].append(np.zeros(n, dtype=np.int64))
    level = {c: 0 for c in HIERARCHIES}

    def small_rows(lv: dict[str, int]) -> int:
        return int((_class_sizes({c: codes[c][lv[c]] for c in HIERARCHIES}) < k).sum()) if n else 0

    residue = small_rows(level)
    while residue > MAX_RESIDUE_SHARE * n:
        best = None
        for c in HIERARCHIES:
            if level[c] + 1 >= len(codes[c]):
                continue
            trial = {**level, c: level[c] + 1}
            after = small_rows(trial)
            gain = residue - after
            score = (gain / LOSS[c], -LOSS[c])  # most rows helped per unit of loss; else the cheapest step
            if best is None or score > best[0]:
                best = (score, c, after)
        if best is None:
            break
        level[best[1]] += 1
        residue = best[2]

    out = frame.reset_index(drop=True).copy()
    current = {c: codes[c][level[c]].copy() for c in HIERARCHIES}
    for c in HIERARCHIES:
        out[c] = texts[c][level[c]].to_numpy()
    locally: dict[str, np.ndarray] = {}  # column -> the cells suppressed in this step
    for c in SUPPRESSION_ORDER:
        small = _class_sizes(current) < k if n else np.zeros(0, dtype=bool)
        if not small.any():
            break
        newly = small & (out[c].to_numpy() != SUPPRESSED)
        if newly.any():
            out.loc[newly, c] = SUPPRESSED
            # "suppressed" gets one code per column, distinct from every other value of that column
            current[c] = np.where(newly, -1, current[c])
            locally[c] = newly
    small = _class_sizes(current) < k if n else np.zeros(0, dtype=bool)
    dropped = int(small.sum())
    out = out[~small].reset_index(drop=True)
    suppressed_cells = {c: int((mask & ~small).sum()) for c, mask in locally.items() if (mask & ~small).any()}
    generalised = []
    for c in HIERARCHIES:
        names = [name for name, _ in HIERARCHIES[c]] + ["suppressed in every row"]
        if c in ("treated_on", "units") or level[c] > 0:
            generalised.append(f"{c} to {names[level[c]]}")
    info = {
        "k_anonymity": (f"k = {k}: every row shares {', '.join(QUASI_IDENTIFIERS)} with at least {k - 1} other "
                        "rows"),
        "generalised": "; ".join(generalised),
        "locally_suppressed": (", ".join(f"{c} {m} cells" for c, m in suppressed_cells.items())
                               + f" (shown as `{SUPPRESSED}`)") if suppressed_cells else "none",
        "rows_left_out": f"{dropped} of {n} sessions (they could not share their values with {k - 1} others)",
        "row_order": "shuffled (not the order of treatment)",
    }
    return out, info


def anonymised(
    con: duckdb.DuckDBPyConnection,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    key: bytes | None = None,
    k: int = K,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The record export and its provenance lines: sessions with, per outcome, in_denominator / in_numerator (as
    of `as_of`), references re-keyed, quasi-identifiers k-anonymised, rows shuffled."""
    key = key or secrets.token_bytes(32)
    as_of = as_of or counting.default_as_of(con)
    frame = _sessions(con, filters, as_of)
    frame.insert(0, "patient_key", rekey(frame.pop("patient_ref"), key, "P"))
    frame.insert(1, "session_key", rekey(frame.pop("treatment_id"), key, "S"))
    frame, info = k_anonymise(frame, k)
    order = np.random.default_rng(secrets.randbits(128)).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True), info


def records(
    con: duckdb.DuckDBPyConnection,
    *,
    filters: Filters = Filters(),
    as_of: dt.date | None = None,
    key: bytes | None = None,
) -> pd.DataFrame:
    """The record export's rows (see `anonymised`)."""
    return anonymised(con, filters=filters, as_of=as_of, key=key)[0]


def record_count(con: duckdb.DuckDBPyConnection, *, filters: Filters = Filters(),
                 as_of: dt.date | None = None) -> int:
    """How many sessions `records` starts from with these filters, without building them: the file has this many
    rows less those left out for k-anonymity (its provenance line `rows_left_out` says how many)."""
    as_of = as_of or counting.default_as_of(con)
    prefix, relation = counting.per_session_source(con, list(registry.OUTCOMES), as_of)
    where, params = filters.sql("p")
    sql = f"{prefix} SELECT count(*) FROM {relation} p WHERE {where}"
    if "$as_of" in sql:  # the live definitions need it; the published mart does not
        params = {"as_of": as_of, **params}
    return int(con.execute(sql, params).fetchall()[0][0])
