"""CSV exports for analysts and audit: metric frames -> CSV with provenance and formula safety.

Every export starts with provenance lines beginning with `#` (what, from which snapshot, as of when, with which
filters and options, generated when), then one header row. `pandas.read_csv(path, comment="#")` reads it back.
Text cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return) are
prefixed with an apostrophe. `excel=True` writes Norwegian Excel's dialect: semicolon separator, decimal comma,
UTF-8 with BOM.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import pwd
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines import analysis, costs, disclosure, metrics, quality
from pipelines import outcomes as registry
from pipelines.metrics import Filters

KINDS = ("rates", "funnel", "spc", "costs", "cusum", "records")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

RATES_COLUMNS = ["period_start", "numerator_n", "denominator_n", "rate", "ci_low", "ci_high", "followup_completeness",
                 "metric", "eligible_n", "followed_up_n", "event_n", "awaiting_n", "crude_rate"]
FUNNEL_COLUMNS = ["clinician", "numerator_n", "denominator_n", "rate", "target", "lcl_95", "ucl_95", "lcl_998",
                  "ucl_998", "flag", "phi", "tau2", "z", "flag_95", "method", "overdispersion_applied"]
SPC_COLUMNS = ["period_start", "numerator_n", "denominator_n", "rate", "cl", "lcl", "ucl", "sigma_signal",
               "runs_signal", "longest_run", "longest_run_max", "crossings", "crossings_min", "lcl_95", "ucl_95",
               "part", "baseline", "astronomical", "shift", "trend", "two_of_three", "signal", "signal_rules",
               "followup_completeness"]
CUSUM_COLUMNS = ["clinician", "treated_on", "cusum", "threshold", "signal", "outcome", "expected"]


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(neutralise)
    return out


def to_csv_text(frame: pd.DataFrame, provenance: dict[str, object], *, excel: bool = False) -> str:
    lines = [f"# {k}: {_prov_value(v)}" for k, v in provenance.items()]
    buf = io.StringIO()
    safe_frame(frame).to_csv(buf, index=False, sep=";" if excel else ",", decimal="," if excel else ".",
                             date_format="%Y-%m-%d", lineterminator="\n")
    return "\n".join(lines) + ("\n" if lines else "") + buf.getvalue()


def _prov_value(v: object) -> str:
    text = str(v).replace("\r", " ").replace("\n", " ")
    return text


def write_csv(frame: pd.DataFrame, path: Path, provenance: dict[str, object], *, excel: bool = False) -> Path:
    """Write the export owner-only (0600; a folder created for it 0700): it holds health data."""
    from pipelines.store import create_private, private_dir

    text = to_csv_text(frame, provenance, excel=excel)
    path = Path(path)
    private_dir(path.parent)
    create_private(path)
    with open(path, "wb") as fh:
        fh.write(text.encode("utf-8-sig" if excel else "utf-8"))
    return path


def provenance(con: duckdb.DuckDBPyConnection, kind: str, *, as_of: dt.date, filters: Filters,
               options: dict[str, object], outcome_key: str | None = None, db_path: Path | None = None,
               generated_by: str | None = None) -> dict[str, object]:
    info = quality.snapshot_info(con)
    prov: dict[str, object] = {"export": kind}
    if outcome_key:
        o = registry.get(outcome_key)
        prov["outcome"] = f"{o.key} ({o.label_en})"
        prov["eligible"] = o.eligible_en
        prov["window"] = o.window_text("en")
        prov["lost_to_follow_up"] = ("counted as the event" if o.lost_to_follow_up == "event"
                                     else "excluded from the rate (see followup_completeness)")
    prov["as_of"] = as_of.isoformat()
    prov["filters"] = filters_text(filters)
    for k, v in options.items():
        prov[k] = v
    prov["database"] = str(db_path) if db_path else ""
    prov["snapshot_version"] = info["version"]
    prov["snapshot_published_at"] = info["published_at"]
    prov["generated_at"] = dt.datetime.now().replace(microsecond=0).isoformat()
    prov["generated_by"] = generated_by or _user()
    return prov


def _user() -> str:
    """The OS account running the command (never $LOGNAME / $USER, which anyone can set)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # an account without a passwd entry (some containers)
        return f"uid {uid}"


def filters_text(filters: Filters) -> str:
    parts = []
    if filters.date_from:
        parts.append(f"from {filters.date_from.isoformat()}")
    if filters.date_to:
        parts.append(f"to {filters.date_to.isoformat()}")
    for name in ("clinicians", "indications", "areas", "products"):
        values = getattr(filters, name)
        if values:
            parts.append(f"{name} = {'|'.join(values)}")
    return "; ".join(parts) or "none"


# --------------------------------------------------------------------------------------------------------------
# The frames behind each export kind
# --------------------------------------------------------------------------------------------------------------


def rates_frame(con, outcome_key: str, *, by: str | None = None, period: str = "month", filters: Filters = Filters(),
                as_of: dt.date | None = None) -> pd.DataFrame:
    if period == "all":
        frame = metrics.rates(con, outcome_key, by=(by,) if by else (), filters=filters, as_of=as_of)
        start = filters.date_from or _first_date(con)
        frame.insert(0, "period_start", start)
    else:
        frame = metrics.rates(con, outcome_key, by=(by,) if by else (), period=period, filters=filters, as_of=as_of)
        frame = frame[(frame["eligible_n"] > 0) | (frame["awaiting_n"] > 0)]
    groups = [by] if by else []
    return frame[groups + RATES_COLUMNS].reset_index(drop=True)


def _first_date(con) -> dt.date | None:
    return con.execute("SELECT min(treated_on) FROM treatments").fetchall()[0][0]


def funnel_frame(con, outcome_key: str, *, method: str = "arcsine", overdispersion: str = "auto",
                 filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    frame, _ = analysis.funnel(con, outcome_key, method=method, overdispersion=overdispersion, filters=filters,
                               as_of=as_of)
    return frame.reindex(columns=FUNNEL_COLUMNS)


def spc_frame(con, outcome_key: str, *, chart: str = "p", period: str = "month", rules: str = "anhoej",
              freeze: int | None = None, filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    frame = analysis.spc(con, outcome_key, period=period, chart=chart, rules=rules, freeze=freeze, filters=filters,
                         as_of=as_of)
    return frame.reindex(columns=SPC_COLUMNS)


def costs_frame(con, *, by: str = "month", consumables_nok: float = costs.DEFAULT_CONSUMABLES_NOK,
                filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    return costs.cost_summary(con, by, consumables_nok=consumables_nok, filters=filters, as_of=as_of)


def cusum_frame(con, outcome_key: str, *, filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    frame = analysis.cusum(con, outcome_key, filters=filters, as_of=as_of)
    return frame.reindex(columns=CUSUM_COLUMNS)



# --------------------------------------------------------------------------------------------------------------
# Releases: aggregate exports meant to leave the clinic
# --------------------------------------------------------------------------------------------------------------

# kind -> (numerator, denominator, columns hidden with the row, columns kept in a release)
RELEASE = {
    "rates": ("numerator_n", "denominator_n", ["rate", "ci_low", "ci_high", "followup_completeness"],
              ["period_start", "numerator_n", "denominator_n", "rate", "ci_low", "ci_high", "followup_completeness",
               "metric"]),
    "funnel": ("numerator_n", "denominator_n", ["rate", "lcl_95", "ucl_95", "lcl_998", "ucl_998", "flag", "z",
                                                "flag_95"],
               ["clinician", "numerator_n", "denominator_n", "rate", "target", "lcl_95", "ucl_95", "lcl_998",
                "ucl_998", "flag", "phi", "tau2", "method", "overdispersion_applied"]),
    "spc": ("numerator_n", "denominator_n", ["rate", "lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal",
                                             "followup_completeness"],
            ["period_start", "numerator_n", "denominator_n", "rate", "cl", "lcl", "ucl", "sigma_signal",
             "runs_signal", "longest_run", "longest_run_max", "crossings", "crossings_min", "signal",
             "signal_rules"]),
    "costs": ("correction_n", "primary_n", ["correction_cost_nok", "cost_per_100_primary_nok", "cost_share",
                                            "product_cost_nok", "chair_cost_nok", "consumables_nok"],
              None),
}


class NotForRelease(ValueError):
    pass


def release(frame: pd.DataFrame, kind: str, groups: list[str], rule: disclosure.Rule) -> pd.DataFrame:
    """The export as it may leave the clinic: only aggregate columns, small cells suppressed and marked."""
    if kind not in RELEASE:
        raise NotForRelease(f"a {kind} export holds one row per session and cannot be released; "
                            "use the pseudonymised records export for audit")
    numerator, denominator, derived, keep = RELEASE[kind]
    columns = list(dict.fromkeys([*groups, *(keep or frame.columns)]))
    out = frame[[c for c in columns if c in frame.columns]]
    return disclosure.suppress(out, numerator=numerator, denominator=denominator, derived=derived,
                               groups=[g for g in groups if g in out.columns], rule=rule)
