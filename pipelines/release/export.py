"""CSV exports for analysts and audit: metric frames -> CSV with provenance and formula safety.

Every export starts with provenance lines beginning with `#` (what, from which snapshot version, as of when, with
which filters and options, generated when), then one header row. `pandas.read_csv(path, comment="#")` reads it
back. No export names a path on the server (the snapshot version names the data instead).
Text that comes from outside the code (filter values, the user name) is escaped in the
provenance lines (`%2C` for a comma, `%3B` semicolon, `%22` quote, `%0A` newline, ...), so it can never open a new
spreadsheet cell or line there. Text cells that a spreadsheet would run as a formula (starting with =, +, -, @ -
also after leading spaces or line breaks, and their full-width forms - or with a tab or carriage return) are
prefixed with an apostrophe. `excel=True` writes Norwegian Excel's dialect: semicolon separator, decimal comma in
every numeric cell, whole numbers without decimals, at most 6 decimals, yes / no for booleans, UTF-8 with BOM
(excel_cells). `lang="nb"` writes the headers, provenance, suppression marker and yes / no in Norwegian
(pipelines/release/norwegian.py).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipelines import contract, stats
from pipelines.errors import UserError
from pipelines.ingest import history
from pipelines.metrics import analysis, costs, counting, registry
from pipelines.metrics.counting import Filters
from pipelines.release import disclosure, norwegian
from pipelines.release.norwegian import Said
from pipelines.sqltext import ident, literal

KINDS = ("rates", "funnel", "oe", "spc", "costs", "cusum", "signals", "records", "recall", "adverse-events")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# what a spreadsheet may read as the start of a formula once it has skipped leading blanks and line breaks: the
# ASCII signs and their full-width and small forms (Excel and LibreOffice normalise some of these)
FORMULA_SIGNS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\u2212")

# is_low_completeness: follow-up completeness below the export's --min-completeness (analysis.mark_low_completeness)
RATES_COLUMNS = ["period_start", "numerator_n", "denominator_n", "rate", "ci_low", "ci_high", "followup_completeness",
                 "metric", "eligible_n", "followed_up_n", "event_n", "awaiting_n", "crude_rate", "crude_event_n",
                 "is_low_completeness"]
FUNNEL_COLUMNS = ["clinician", "numerator_n", "denominator_n", "rate", "target", "lcl_95", "ucl_95", "lcl_998",
                  "ucl_998", "flag", "phi", "tau2", "z", "flag_95", "method", "overdispersion_applied",
                  "followup_completeness", "is_low_completeness", "flag_funnelplotr"]
# period_closed: every window of the period closed at the as-of date; only such periods are judged, so no rule
# column (sigma_signal, runs_signal, astronomical, shift, trend, two_of_three, signal) is true where it is false
SPC_COLUMNS = ["period_start", "numerator_n", "denominator_n", "rate", "cl", "lcl", "ucl", "sigma_signal",
               "runs_signal", "longest_run", "longest_run_max", "crossings", "crossings_min", "lcl_95", "ucl_95",
               "part", "baseline", "astronomical", "shift", "trend", "two_of_three", "signal", "signal_rules",
               "followup_completeness", "period_closed", "is_low_completeness", "process_change", "target",
               "variation", "assurance"]
# one row per session in chart order (clinician, treatment day, treatment_id): the chart can be recomputed from the
# file, cusum = max(0, previous cusum + weight) per clinician, 0 again after a row with signal (cusum >= threshold)
CUSUM_COLUMNS = ["clinician", "treated_on", "cusum", "threshold", "signal", "outcome", "expected", "sessions_n",
                 "weight"]
# one row per clinician: observed and expected events after case mix (analysis.case_mix), the exact Poisson 95 %
# interval of the ratio, the flag outside the 99.8 % limits of the funnel of ratios (high / low / empty)
OE_COLUMNS = ["clinician", "observed_n", "expected_n", "oe_ratio", "ci_low", "ci_high", "flag", "denominator_n",
              "lcl_95", "ucl_95", "lcl_998", "ucl_998"]


def neutralise(value: object) -> object:
    """Text a spreadsheet could run as a formula gets a leading apostrophe (shown as text, never run)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_START) or value[0] in "\n\x0b\x0c":
        return "'" + value
    stripped = value.lstrip()
    if stripped and stripped[0] in FORMULA_SIGNS:
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(neutralise)
    return out


def to_csv_text(frame: pd.DataFrame, provenance: dict[str, object], *, excel: bool = False,
                lang: str = "en") -> str:
    """The file's text: `# label: value` provenance lines, then a header row and the rows.

    `lang` ("en" | "nb", pipelines/release/norwegian.py): the language of the headers, the provenance labels and
    texts, the suppression marker and yes / no; English keeps the column names of docs/metrics.md (and True / False
    in a plain CSV, as pandas writes them). `excel`: Norwegian Excel's dialect (`;`, UTF-8 with BOM written by
    to_csv_bytes) with every cell written as text a spreadsheet reads as what it is (excel_cells): a number with a
    decimal comma in every numeric cell (also in a column where some cells read `suppressed`), whole numbers without
    decimals, others rounded to at most 6 decimals (money to 2), yes / no for a boolean, ISO dates."""
    norwegian.check_lang(lang)
    lines = [f"# {norwegian.provenance_key(k, lang)}: {_prov_value(norwegian.in_lang(v, lang), excel)}"
             for k, v in provenance.items()]
    if excel or lang != "en":
        body = excel_cells(frame, lang=lang, decimal="," if excel else ".")
    else:
        body = safe_frame(frame)
    buf = io.StringIO()
    body.to_csv(buf, index=False, sep=";" if excel else ",", decimal="," if excel else ".",
                date_format="%Y-%m-%d", lineterminator="\n")
    return "\n".join(lines) + ("\n" if lines else "") + buf.getvalue()


MAX_DECIMALS = 6  # a rate, interval, limit or ratio in a spreadsheet file: no more decimals than this
MONEY_DECIMALS = 2  # a `_nok` column: kroner and øre


def excel_cells(frame: pd.DataFrame, *, lang: str = "nb", decimal: str = ",") -> pd.DataFrame:
    """Every cell as the text a spreadsheet reads as what it is (the columns renamed into `lang`):
    a missing value empty; a boolean (or the text `true` / `false`) yes / no (ja / nei); a whole number without
    decimals; another number rounded to MAX_DECIMALS (MONEY_DECIMALS in a `_nok` column), trailing zeros dropped,
    with `decimal` as the decimal sign and never in scientific notation; a date ISO (YYYY-MM-DD); the suppression
    marker in `lang`; other text formula-safe (neutralise). A number stays a number in a column that also holds
    the marker: each cell is written on its own."""
    yes, no = norwegian.YES_NO[lang]
    marker = norwegian.SUPPRESSED[lang]

    def cell(value: object, money: bool) -> str:
        if value is None or value is pd.NA or value is pd.NaT:
            return ""
        if isinstance(value, (bool, np.bool_)):
            return yes if value else no
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        if isinstance(value, (float, np.floating)):
            return _number_text(float(value), MONEY_DECIMALS if money else MAX_DECIMALS, decimal)
        if isinstance(value, (dt.date, pd.Timestamp, np.datetime64)):
            return pd.Timestamp(value).date().isoformat()
        text = str(value)
        if text in ("true", "false", "True", "False"):
            return yes if text in ("true", "True") else no
        if text == disclosure.MARK:
            return marker
        if lang == "nb" and text in norwegian.VALUES_NB:
            return norwegian.VALUES_NB[text]
        return neutralise(text)

    out = pd.DataFrame({norwegian.column(str(c), lang): [cell(v, str(c).endswith("_nok")) for v in frame[c].tolist()]
                        for c in frame.columns}, dtype=object, index=range(len(frame)))
    if len(set(out.columns)) != len(frame.columns):
        raise ValueError(f"two columns of this export have the same {lang} header: {list(out.columns)}")
    return out


def _number_text(value: float, decimals: int, decimal: str) -> str:
    """12345.678901234 -> '12345,678901' (decimals at most, trailing zeros dropped, no thousands separator, no
    exponent); NaN -> ''; an infinite value as text ('inf' is no number in a spreadsheet, nor a formula)."""
    if math.isnan(value):
        return ""
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "'-inf"
    text = f"{round(value, decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(".", decimal)


def _prov_value(v: object, excel: bool = False) -> str:
    """One provenance value on one line; in Norwegian Excel's dialect a number with a decimal comma."""
    if excel and isinstance(v, float) and not isinstance(v, bool):
        text = _number_text(v, MAX_DECIMALS, ",")
    else:
        text = str(v)
    return "".join(" " if ch in LINE_BREAKS else ch for ch in text)


LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# characters that could end a provenance cell or line in some reader, or be mistaken for our own separators
ESCAPED = frozenset('%,;"|\t') | LINE_BREAKS


def escape_text(value: object, also: str = "") -> str:
    """Outside text (a filter value, a user or file name) for a provenance line: every character that could open a
    new spreadsheet cell or line (or look like one of our separators; `also`: more of them) is written as %XX
    (its UTF-8 bytes), as in a URL."""
    escaped = ESCAPED | frozenset(also)
    return "".join("".join(f"%{b:02X}" for b in ch.encode("utf-8")) if ch in escaped else ch for ch in str(value))


def to_csv_bytes(frame: pd.DataFrame, provenance: dict[str, object], *, excel: bool = False,
                 lang: str = "en") -> bytes:
    """The file's bytes: UTF-8, or UTF-8 with BOM in Norwegian Excel's dialect (the CLI's file, the page's download)."""
    return to_csv_text(frame, provenance, excel=excel, lang=lang).encode("utf-8-sig" if excel else "utf-8")


def write_csv(frame: pd.DataFrame, path: Path, provenance: dict[str, object], *, excel: bool = False,
              lang: str = "en") -> Path:
    """Write the export owner-only (0600; a folder created for it 0700): it holds health data."""
    from pipelines.ingest.store import create_private, private_dir

    body = to_csv_bytes(frame, provenance, excel=excel, lang=lang)
    path = Path(path)
    private_dir(path.parent)
    create_private(path)
    with open(path, "wb") as fh:
        fh.write(body)
    return path


def provenance(con: duckdb.DuckDBPyConnection, kind: str, *, as_of: dt.date, filters: Filters,
               options: dict[str, object], outcome_key: str | None = None,
               generated_by: str | None = None) -> dict[str, object]:
    """The provenance lines of an export: what, as of when, with which filters and options, from which snapshot (its
    version and publication time: never the database's path, which would tell a reader outside the clinic where
    the server keeps its data), generated when and by whom. Texts are `Said` (English and Norwegian)."""
    info = history.snapshot_info(con)
    prov: dict[str, object] = {"export": kind}
    if outcome_key:
        o = registry.get(outcome_key)
        prov["outcome"] = Said(f"{o.key} ({o.label_en})", f"{o.key} ({o.label_nb})")
        prov["eligible"] = Said(o.eligible_en, o.eligible_nb)
        prov["window"] = Said(o.window_text("en"), o.window_text("nb"))
        prov["lost_to_follow_up"] = (Said("counted as the event", "telles som hendelsen")
                                     if o.lost_to_follow_up == "event" else
                                     Said("excluded from the rate (see followup_completeness)",
                                          "holdes utenfor andelen (se andel_fulgt_opp)"))
    prov["as_of"] = as_of.isoformat()
    prov["filters"] = Said(filters_text(filters), filters_text(filters, "nb"))
    for k, v in options.items():
        prov[k] = v
    prov["snapshot_version"] = info["version"]
    prov["snapshot_published_at"] = info["published_at"]
    prov["generated_at"] = _now().replace(microsecond=0).isoformat()
    prov["generated_by"] = escape_text(generated_by or _user())
    return prov


def _now() -> dt.datetime:
    """The local time a file is generated at (one place, so a test can hold the clock)."""
    return dt.datetime.now()


def _user() -> str:
    """The OS account running the command (never $LOGNAME / $USER, which anyone can set)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # an account without a passwd entry (some containers)
        return f"uid {uid}"


FILTER_WORDS = {"en": {"from": "from", "to": "to", "none": "none", "clinicians": "clinicians",
                        "indications": "indications", "areas": "areas", "products": "products"},
                 "nb": {"from": "fra", "to": "til", "none": "ingen", "clinicians": "behandlere",
                        "indications": "indikasjoner", "areas": "områder", "products": "preparater"}}


def filters_text(filters: Filters, lang: str = "en") -> str:
    """The filters in one line: parts joined by " / ", list values by "|", each value escaped (escape_text), so no
    filter value can open a spreadsheet cell or line, or pass for a separator."""
    words = FILTER_WORDS[lang]
    parts = []
    if filters.date_from:
        parts.append(f"{words['from']} {filters.date_from.isoformat()}")
    if filters.date_to:
        parts.append(f"{words['to']} {filters.date_to.isoformat()}")
    for name in ("clinicians", "indications", "areas", "products"):
        values = getattr(filters, name)
        if values:
            parts.append(f"{words[name]} = {'|'.join(escape_text(v, also='/') for v in values)}")
    return " / ".join(parts) or words["none"]


# --------------------------------------------------------------------------------------------------------------
# The frames behind each export kind
# --------------------------------------------------------------------------------------------------------------


def rates_frame(con, outcome_key: str, *, by: str | None = None, period: str = "month", filters: Filters = Filters(),
                as_of: dt.date | None = None,
                low_completeness_below: float | None = analysis.LOW_COMPLETENESS_BELOW) -> pd.DataFrame:
    if period == "all":
        frame = counting.rates(con, outcome_key, by=(by,) if by else (), filters=filters, as_of=as_of)
        start = filters.date_from or _first_date(con)
        frame.insert(0, "period_start", start)
    else:
        frame = counting.rates(con, outcome_key, by=(by,) if by else (), period=period, filters=filters, as_of=as_of)
        frame = frame[(frame["eligible_n"] > 0) | (frame["awaiting_n"] > 0)]
    frame = analysis.mark_low_completeness(frame, analysis.completeness_threshold(outcome_key,
                                                                                 low_completeness_below))
    groups = [by] if by else []
    return frame[groups + RATES_COLUMNS].reset_index(drop=True)


def _first_date(con) -> dt.date | None:
    return con.execute("SELECT min(treated_on) FROM treatments").fetchall()[0][0]


def funnel_frame(con, outcome_key: str, *, method: str = "arcsine", overdispersion: str = "auto",
                 filters: Filters = Filters(), as_of: dt.date | None = None,
                 low_completeness_below: float | None = analysis.LOW_COMPLETENESS_BELOW,
                 by: str = "clinician") -> pd.DataFrame:
    """One row per unit (clinician, lot or product: `by`, the first column's name) with a denominator."""
    frame, _ = analysis.funnel(con, outcome_key, method=method, overdispersion=overdispersion, filters=filters,
                               as_of=as_of, low_completeness_below=low_completeness_below, by=by)
    return frame.reindex(columns=[by, *FUNNEL_COLUMNS[1:]])


# one row per session with the lot (a case list: never released), in treatment order; follow_up_status:
# followed_up (a contact by the as-of date), awaiting (none yet, the session under RECALL_FOLLOW_UP_DAYS old) or
# not_followed_up; adverse_outcomes: the follow-up columns answered yes at any contact, joined by `|`
RECALL_COLUMNS = ["treatment_id", "patient_ref", "treated_on", "clinician", "product", "lot_number", "lot_expiry",
                  "is_expired", "corrects_treatment_id", "follow_up_status", "contacts_n", "last_contact_on",
                  "latest_effect", "adverse_outcomes"]
RECALL_FOLLOW_UP_DAYS = 28


class RecallError(UserError, ValueError):
    """A recall without a lot, or with a product the contract does not know."""


def recall_lot(lot: str | None) -> str:
    """The lot as stored (a contract code: trimmed, upper case)."""
    text = (lot or "").strip()
    if not text:
        raise RecallError("export recall needs --lot LOT (the lot number as printed on the vial)")
    return text.upper()


def recall_products(products) -> list[str]:
    """Product names as stored (contract spellings, any case); an unknown one is refused, never matched to nothing."""
    lookup = contract.canonical_lookup(contract.PRODUCT_SPELLINGS)
    out = []
    for p in products:
        canonical = lookup.get(str(p).strip().lower())
        if canonical is None:
            raise RecallError(f"--product {p!s} is not a product of the data contract; choose one of: "
                              f"{', '.join(contract.PRODUCT_NAMES)}")
        out.append(canonical)
    return out


def recall_frame(con, lot: str | None, *, products=(), as_of: dt.date | None = None) -> pd.DataFrame:
    """Every session with lot `lot` (of `products`, when given), whatever its date, clinician or indication, with
    its follow-up status and any adverse outcome recorded at a contact by `as_of` (default: the data's date). The
    lot and products reach SQL as bound values only."""
    lot_code, chosen = recall_lot(lot), recall_products(products)
    as_of = as_of or counting.default_as_of(con)
    flags = ", ".join(f"CASE WHEN bool_or(coalesce(f.{ident(c)}, false)) THEN {literal(c)} END"
                      for c in contract.COMPLICATION_FLAGS)
    sql = f"""
WITH lot_sessions AS (
    SELECT * FROM treatments
    WHERE lot_number = $lot AND (len($products::VARCHAR[]) = 0 OR list_contains($products::VARCHAR[], product))
),
contacts AS (
    SELECT f.treatment_id, count(*) AS contacts_n, max(f.seen_on) AS last_contact_on,
           arg_max(f.effect, (f.seen_on, f.follow_up_id)) AS latest_effect,
           concat_ws('|', {flags}) AS adverse_outcomes
    FROM follow_ups f JOIN lot_sessions USING (treatment_id)
    WHERE f.seen_on <= $as_of
    GROUP BY f.treatment_id
)
SELECT t.treatment_id, t.patient_ref, t.treated_on, t.clinician, t.product, t.lot_number, t.lot_expiry,
       CASE WHEN t.lot_expiry IS NULL THEN NULL ELSE t.treated_on > t.lot_expiry END AS is_expired,
       t.corrects_treatment_id,
       CASE WHEN coalesce(c.contacts_n, 0) > 0 THEN 'followed_up'
            WHEN t.treated_on + {RECALL_FOLLOW_UP_DAYS} > $as_of THEN 'awaiting'
            ELSE 'not_followed_up' END AS follow_up_status,
       coalesce(c.contacts_n, 0) AS contacts_n, c.last_contact_on, c.latest_effect,
       coalesce(c.adverse_outcomes, '') AS adverse_outcomes
FROM lot_sessions t LEFT JOIN contacts c USING (treatment_id)
WHERE t.treated_on <= $as_of
ORDER BY t.treated_on, t.treatment_id"""
    out = con.execute(sql, {"lot": lot_code, "products": chosen, "as_of": as_of}).df()
    for c in ("treated_on", "lot_expiry", "last_contact_on"):
        out[c] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in out[c]]
    out["is_expired"] = out["is_expired"].astype(object).where(out["is_expired"].notna(), None)
    return out.reindex(columns=RECALL_COLUMNS)


def spc_frame(con, outcome_key: str, *, chart: str = "p", period: str = "month", rules: str = "anhoej",
              freeze: int | None = None, filters: Filters = Filters(), as_of: dt.date | None = None,
              low_completeness_below: float | None = analysis.LOW_COMPLETENESS_BELOW) -> pd.DataFrame:
    """The control chart, with `part` (re-basing process changes start a new part: pipelines/metrics/changes.py),
    `process_change` (the descriptions of the changes concerning the chart dated in the period, '; '-joined), and,
    repeated on every row, the clinic's `target` (a proportion; empty without one) with the Making Data Count
    `variation` and `assurance` readings of the latest closed period (pipelines/metrics/targets.py)."""
    from pipelines.metrics import changes, targets

    frame = analysis.spc(con, outcome_key, period=period, chart=chart, rules=rules, freeze=freeze, filters=filters,
                         as_of=as_of, low_completeness_below=low_completeness_below)
    out = frame.reindex(columns=SPC_COLUMNS)
    found = changes.concerning(changes.process_changes(con), outcome_key, filters)
    starts = list(frame["period_start"]) if len(frame) else []
    ends = starts[1:] + [dt.date.max]
    out["process_change"] = ["; ".join(found.loc[(found["changed_on"] >= a) & (found["changed_on"] < b),
                                                 "description"]) if len(found) else ""
                             for a, b in zip(starts, ends, strict=True)]
    target = targets.target_for(con, outcome_key)
    out["target"] = np.nan if target is None else target
    out["variation"] = analysis.variation_reading(frame, higher_is_better=registry.get(outcome_key).higher_is_better)
    out["assurance"] = targets.assurance(frame, outcome_key, target)
    return out


def g_frame(con, outcome_key: str, *, filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    """The g-chart of a rare outcome (analysis.g_chart): one row per event, event_date ISO; `attrs` keeps
    sessions_since_last (the open gap after the last event)."""
    frame = analysis.g_chart(con, outcome_key, filters=filters, as_of=as_of)
    out = frame.copy()
    out["event_date"] = [d.isoformat() for d in frame["event_date"]]
    out.attrs.update(frame.attrs)
    return out


def costs_frame(con, *, by: str = "month", consumables_nok: float = costs.DEFAULT_CONSUMABLES_NOK,
                filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    return costs.cost_summary(con, by, consumables_nok=consumables_nok, filters=filters, as_of=as_of)


# one row per episode of the signals list (pipelines.metrics.signals.episode_list): what fired, where, on which
# side, whether that side is the worse one, and from when to when; then the latest signal's figures
# and the review of the episode (pipelines/release/reviews.py): open | reviewed, by whom, when, concluding what
SIGNALS_COLUMNS = ["kind", "rule", "outcome", "clinician", "direction", "concern", "first_date", "last_date",
                   "signals_n", "value", "limit", "numerator_n", "denominator_n", "rare", "review_status",
                   "reviewed_by", "reviewed_at", "conclusion"]


def signals_frame(con, *, filters: Filters = Filters(), as_of: dt.date | None = None,
                  reviews_file: Path | None = None) -> pd.DataFrame:
    """The overview's signals list as episodes, newest first: `direction` high | low ('' for too few crossings,
    which has no side), `concern` true | false, dates ISO, `clinician` empty for the clinic as a whole, and each
    episode's latest review from `reviews_file` (default: reviews.reviews_path_for the default database;
    `review_status` open | reviewed, the others empty while open)."""
    from pipelines.metrics import signals
    from pipelines.release import reviews

    ep = signals.episode_list(con, filters=filters, as_of=as_of)
    ep = reviews.with_reviews(ep, reviews.read_reviews(reviews_file or reviews.reviews_path_for()))
    out = ep.reindex(columns=SIGNALS_COLUMNS).copy()
    out["clinician"] = out["clinician"].fillna("")
    out["direction"] = out["direction"].fillna("")
    out["concern"] = ["true" if bool(c) else "false" for c in ep["concern"]]
    for c in ("first_date", "last_date"):
        out[c] = [pd.Timestamp(d).date().isoformat() for d in ep[c]]
    out["rare"] = ["true" if d == "rare" else "false" for d in ep["detail_b"]]
    return out


def cusum_frame(con, outcome_key: str, *, filters: Filters = Filters(), as_of: dt.date | None = None) -> pd.DataFrame:
    frame = analysis.cusum(con, outcome_key, filters=filters, as_of=as_of)
    return frame.reindex(columns=CUSUM_COLUMNS)


def oe_frame(con, outcome_key: str, *, filters: Filters = Filters(),
             as_of: dt.date | None = None) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """(one row per clinician with a session, the clinicians left out of the case-mix reference)."""
    frame, info = analysis.case_mix(con, outcome_key, filters=filters, as_of=as_of)
    frame = frame.rename(columns={"oe_low": "ci_low", "oe_high": "ci_high"}).reindex(columns=OE_COLUMNS)
    frame["flag"] = frame["flag"].fillna("")
    return frame, tuple(info.get("excluded", ()))



# --------------------------------------------------------------------------------------------------------------
# Releases: aggregate exports meant to leave the clinic
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseSpec:
    numerator: str
    denominator: str
    derived: tuple[str, ...]  # hidden with the row; the shown ones are recomputed from the rounded counts
    keep: tuple[str, ...] | None  # columns a release holds (None: all)
    counts: tuple[str, ...] = ()  # further counts: hidden with the row, rounded, used to recompute `derived`


RELEASE = {
    "rates": ReleaseSpec("numerator_n", "denominator_n", ("rate", "ci_low", "ci_high", "followup_completeness"),
                         ("period_start", "numerator_n", "denominator_n", "rate", "ci_low", "ci_high",
                          "followup_completeness", "metric"), ("eligible_n", "followed_up_n")),
    # phi and tau2 are left out: computed over every clinician, they solved for hidden numerators
    "funnel": ReleaseSpec("numerator_n", "denominator_n", ("rate", "lcl_95", "ucl_95", "lcl_998", "ucl_998", "flag",
                                                           "z", "flag_95"),
                          ("clinician", "numerator_n", "denominator_n", "rate", "target", "lcl_95", "ucl_95",
                           "lcl_998", "ucl_998", "flag", "method", "overdispersion_applied")),
    "spc": ReleaseSpec("numerator_n", "denominator_n", ("rate", "lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal",
                                                        "followup_completeness"),
                       ("period_start", "numerator_n", "denominator_n", "rate", "cl", "lcl", "ucl", "sigma_signal",
                        "runs_signal", "longest_run", "longest_run_max", "crossings", "crossings_min", "signal",
                        "signal_rules", "period_closed", "part")),
    "costs": ReleaseSpec("correction_n", "primary_n", ("correction_cost_nok", "cost_per_100_primary_nok",
                                                       "revenue_nok", "cost_share", "product_cost_nok",
                                                       "chair_cost_nok", "consumables_nok"),
                         None, ("unpriced_n", "unknown_chair_time_n", "late_correction_n")),
}
MONEY_ROUNDING_NOK = 100  # a release's money = rounded count x average per session rounded to this


NotForRelease = disclosure.NotForRelease


def not_releasable(kind: str) -> str:
    """Why an export kind cannot leave the clinic, and what to use instead."""
    if kind == "recall":
        return ("a recall list names every session and patient reference with the lot (a case list) and cannot "
                "be released; keep it inside the clinic")
    if kind == "g":
        return ("a g-chart has one row per event with its treatment date (single sessions of a rare outcome) and "
                "cannot be released; release the monthly chart instead (export spc --chart p --release)")
    if kind == "adverse-events":
        return ("an adverse-events list names sessions with a serious or unexpected reaction (a case list) and cannot "
                "be released; keep it inside the clinic (the de-identified draft is what goes to melde.no)")
    if kind == "signals":
        return ("a signals export names clinicians and the dates of single signals and cannot be released; keep it "
                "inside the clinic")
    if kind == "oe":
        # each clinician's expected count is a sum of the other clinicians' stratum rates: next to the rounded
        # counts of a release it would give back the events of the cells the release hides
        return ("an oe export cannot be released: each clinician's expected count is computed from the other "
                "clinicians' sessions, stratum by stratum, and could give back cells a release hides; release the "
                "funnel export (rates by clinician) instead, and keep O/E files inside the clinic")
    return (f"a {kind} export holds one row per session and cannot be released; "
            "use the pseudonymised records export for audit")


def check_release(kind: str, filters: Filters, *, as_of: dt.date | None, data_as_of: dt.date,
                  period: str | None = None) -> dt.date:
    """Whether these options may be released (NotForRelease with what is allowed if not); returns the release's
    as-of date. Called by pipelines.release.build.build for `python -m pipelines export --release` and the
    dashboard's Export page alike."""
    if kind not in RELEASE:
        raise NotForRelease(not_releasable(kind))
    release_kind, _ = disclosure.release_period(filters.date_from, filters.date_to)
    disclosure.check_row_period(kind, period, release_kind)
    return disclosure.release_as_of(as_of, data_as_of, filters.date_to)


def release_provenance(rule: disclosure.Rule, filters: Filters) -> dict[str, object]:
    """The provenance lines a release adds (after the export's own options)."""
    _, label = disclosure.release_period(filters.date_from, filters.date_to)
    hidden_nb = (f"tellere 1-{rule.min_numerator - 1} og nevnere under {rule.min_denominator} skjult, med "
                 "komplementær skjuling")
    rounding_nb = (f"antall vist avrundet til nærmeste {rule.rounding_base} (NHS Digital / ONS-konvensjonen); "
                   "andeler, intervaller, grenser og senterlinjer beregnet fra de avrundede tallene som vises, "
                   f"aldri fra en skjult celle; hver skjult celle er merket `{norwegian.SUPPRESSED['nb']}` uansett "
                   "årsak")
    return {"release_period": label, "suppression": Said(rule.describe(), hidden_nb),
            "rounding": Said(rule.rounding_text(), rounding_nb)}


def release(frame: pd.DataFrame, kind: str, groups: list[str], rule: disclosure.Rule, *,
            outcome_key: str | None = None, method: str = "arcsine", overdispersion: str = "auto",
            chart: str = "p", rules: str = "anhoej", freeze: int | None = None) -> pd.DataFrame:
    """The export as it may leave the clinic: only aggregate columns, small cells suppressed and marked, the
    counts shown rounded to base 5, and every rate, interval, limit and centre line recomputed from those rounded
    counts (nothing is computed from a hidden cell). A control chart keeps `period_closed`: a period not closed is
    not judged in the release either."""
    if kind not in RELEASE:
        raise NotForRelease(not_releasable(kind))
    spec = RELEASE[kind]
    keep = list(dict.fromkeys([*groups, *(spec.keep or frame.columns)]))
    keep = [c for c in keep if c in frame.columns]
    work = frame[list(dict.fromkeys([*keep, *(c for c in spec.counts if c in frame.columns)]))]
    out = disclosure.suppress(work, numerator=spec.numerator, denominator=spec.denominator,
                              derived=list(spec.derived), groups=[g for g in groups if g in work.columns], rule=rule,
                              counts=[c for c in spec.counts if c in work.columns])
    shown = (out["suppression"] != disclosure.MARK).to_numpy()
    if kind == "rates":
        _release_rates(out, shown)
    elif kind == "funnel":
        _release_funnel(out, shown, method, overdispersion)
    elif kind == "spc":
        _release_spc(out, shown, chart=chart, rules=rules, freeze=freeze, outcome_key=outcome_key)
    else:
        _release_costs(out, shown, frame.reset_index(drop=True), rule)
    return out[[*keep, "suppression"]]


def _shown_counts(out: pd.DataFrame, shown: np.ndarray, column: str) -> np.ndarray:
    """A count column as floats: the rounded value where the row is shown, 0 where it is hidden."""
    return np.array([float(v) if s else 0.0 for v, s in zip(out[column], shown, strict=True)])


def _put(out: pd.DataFrame, column: str, values, shown: np.ndarray) -> None:
    """Write recomputed values into the shown rows of `column` (hidden rows keep the marker)."""
    if column not in out:
        return
    values = np.asarray(values, dtype=object)
    out[column] = [v if s else disclosure.MARK for v, s in zip(values, shown, strict=True)]


def _release_rates(out: pd.DataFrame, shown: np.ndarray) -> None:
    num, den = _shown_counts(out, shown, "numerator_n"), _shown_counts(out, shown, "denominator_n")
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = den > 0
        low, high = stats.wilson_interval(num, np.where(ok, den, 1))
        _put(out, "rate", np.where(ok, num / np.where(ok, den, 1), np.nan), shown)
        _put(out, "ci_low", np.where(ok, low, np.nan), shown)
        _put(out, "ci_high", np.where(ok, high, np.nan), shown)
        if {"eligible_n", "followed_up_n"} <= set(out.columns):
            elig = _shown_counts(out, shown, "eligible_n")
            fu = _shown_counts(out, shown, "followed_up_n")
            _put(out, "followup_completeness", np.where(elig > 0, fu / np.where(elig > 0, elig, 1), np.nan), shown)


def _release_funnel(out: pd.DataFrame, shown: np.ndarray, method: str, overdispersion: str) -> None:
    num, den = _shown_counts(out, shown, "numerator_n"), _shown_counts(out, shown, "denominator_n")
    if 0 < num.sum() < den.sum():
        frame, info = stats.funnel_proportions(num, den, method=method, overdispersion=overdispersion)
    else:  # no clinic rate strictly between 0 and 1 among the rows shown: no funnel
        frame, info = None, {"target": np.nan, "overdispersion_applied": False}
    for c in ("rate", "lcl_95", "ucl_95", "lcl_998", "ucl_998", "flag", "z", "flag_95"):
        if frame is not None:
            _put(out, c, frame[c].to_numpy(), shown)
        elif c == "rate":
            with np.errstate(divide="ignore", invalid="ignore"):
                _put(out, c, np.where(den > 0, num / np.where(den > 0, den, 1), np.nan), shown)
        else:
            _put(out, c, ["" if c.startswith("flag") else np.nan] * len(out), shown)
    out["target"] = info["target"]
    out["method"] = method
    out["overdispersion_applied"] = bool(info["overdispersion_applied"])


def _release_spc(out: pd.DataFrame, shown: np.ndarray, *, chart: str, rules: str, freeze: int | None,
                 outcome_key: str | None) -> None:
    counted = pd.DataFrame({"period_start": out["period_start"],
                            "numerator_n": _shown_counts(out, shown, "numerator_n"),
                            "denominator_n": _shown_counts(out, shown, "denominator_n")})
    for c in ("eligible_n", "followed_up_n", "event_n", "awaiting_n"):
        counted[c] = 0
    if "period_closed" in out:  # a period not closed stays unjudged in the release's recomputed chart
        counted["period_closed"] = out["period_closed"].astype(bool).to_numpy()
    higher = registry.get(outcome_key).higher_is_better if outcome_key else False
    parts = None
    if "part" in out:  # the parts of the internal chart (re-basing process changes) are the release's too
        labels = pd.to_numeric(out["part"]).to_numpy()
        parts = [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]] or None
    chart_frame = analysis.spc_from_counts(counted, chart=chart, freeze=freeze, rules=rules, parts=parts,
                                           higher_is_better=higher)
    for c in ("rate", "lcl", "ucl", "lcl_95", "ucl_95", "sigma_signal"):
        _put(out, c, chart_frame[c].to_numpy(), shown)
    for c in ("cl", "runs_signal", "longest_run", "longest_run_max", "crossings", "crossings_min", "signal",
              "signal_rules"):
        if c in out:
            out[c] = chart_frame[c].to_numpy()
    if "followup_completeness" in out:
        _put(out, "followup_completeness", [np.nan] * len(out), shown)


def _release_costs(out: pd.DataFrame, shown: np.ndarray, exact: pd.DataFrame, rule: disclosure.Rule) -> None:
    """Money in a cost release: rounded count x the cell's average per session, the average rounded to 100 NOK,
    so a sum of money gives no more away than the rounded counts (an exact total divided by the price of one
    correction would count the corrections)."""
    corr, prim = _shown_counts(out, shown, "correction_n"), _shown_counts(out, shown, "primary_n")
    exact_corr = exact["correction_n"].to_numpy(dtype=float)
    exact_prim = exact["primary_n"].to_numpy(dtype=float)

    def per_session(column: str, n_exact: np.ndarray, n_shown: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            avg = np.where(n_exact > 0, exact[column].to_numpy(dtype=float) / np.where(n_exact > 0, n_exact, 1), 0)
        return n_shown * np.floor(avg / MONEY_ROUNDING_NOK + 0.5) * MONEY_ROUNDING_NOK

    money = {c: per_session(c, exact_corr, corr) for c in ("correction_cost_nok", "product_cost_nok",
                                                           "chair_cost_nok", "consumables_nok")}
    money["revenue_nok"] = per_session("revenue_nok", exact_prim, prim)
    for c, values in money.items():
        _put(out, c, values, shown)
    with np.errstate(divide="ignore", invalid="ignore"):
        _put(out, "cost_per_100_primary_nok",
             np.where(prim > 0, 100 * money["correction_cost_nok"] / np.where(prim > 0, prim, 1), np.nan), shown)
        _put(out, "cost_share", np.where(money["revenue_nok"] > 0, money["correction_cost_nok"]
                                         / np.where(money["revenue_nok"] > 0, money["revenue_nok"], 1), np.nan), shown)
