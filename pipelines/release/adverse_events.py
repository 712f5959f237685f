"""Adverse-event report drafts (issue 13, item 6): the serious or unexpected reactions a doctor reports to the
medicines agency (DMP, through melde.no), a pre-filled, de-identified draft of what the form asks, and the record
that each was reported.

**Reportable reactions** (`REPORTABLE`, one declaration each, read by the query, the export, the page and the docs).
A row is one session x one reaction, found in the follow-up contacts (`follow_ups`) seen by the as-of date:
- `double_vision`, `allergic_reaction`, `infection`: a contact answered yes to the reaction's column, on any day
  after the session. The outcome registry's window (pipelines/metrics/registry.py: double vision 0-28, allergic
  reaction 0-3, infection 0-14 days) decides what a *rate* counts; for reporting, a reaction seen later is, if
  anything, more unexpected, so it is listed too.
- `ptosis_beyond_window`: ptosis (`eyelid_ptosis` or `brow_ptosis` answered yes) at a contact seen **after the end
  of the registry's ptosis window** (`registry.get("ptosis").window_days[1]`, day 28): the drooping lid or brow
  is still there (or first seen) when it should have worn off or never begun. Ptosis inside the window is a listed,
  common side effect (Vistabel SmPC: 1-10 %), counted by the rates and not listed here.

For each row: `onset_on`, the first contact that reported the reaction at all (for ptosis also one inside the
window: the same ptosis that then lasted), i.e. the date it was first *recorded*, not necessarily the day it began;
`reaction_outcome`: `recovered` when a later contact answered the reaction's columns and none said yes
(`outcome_on`: that contact's date), else `not_recovered` (`outcome_on`: the last contact that reported it). A
blank answer is no answer (the registry's principle 2): it never makes a reaction recovered.

**Off-label.** Whether the product was used as approved is one declared table (`APPROVED_USES`, product ->
indications and areas of its Norwegian marketing authorisation, with its source note `APPROVED_USES_SOURCE`):
cosmetic use of Botox is off-label (Vistabel is the same toxin licensed for glabellar, crow's-feet and forehead
lines), as is any area outside an approved one (palms, masseter).

**The draft** (`draft`, `draft_text`, `draft_pdf`): age band (never an age or a birth date: the data hold only the
band), sex, product and active substance, lot and expiry, units and areas, dilution, route, indication and whether
off-label, treatment and onset dates, the reaction and its outcome, the profession of who gave the treatment and
of the reporter; Norwegian (default) or English labels. It carries a short draft number (`draft_number`), never the
patient reference or the treatment id; the doctor's list (the page, `export adverse-events`) links the number to
the session.

**Reporting status.** An append-only JSON Lines file beside the published database (`data/clinic.adverse_events
.jsonl`, or `$CLINIC_ADVERSE_EVENTS_FILE`), written like the signal review file (pipelines/release/reviews.py
`append_logged`: under the file's exclusive lock, the access log first (event `edit`), then the line; owner-only).
Each record says who recorded it, when, the date it was reported and the melde.no reference; a later record of the
same session and reaction supersedes an earlier one (the history stays in the file). The database is never
written: a load, restore or rebuild leaves the statuses alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import contract
from pipelines.errors import UserError
from pipelines.ingest import store
from pipelines.metrics import counting, registry
from pipelines.release import access, reviews
from pipelines.sqltext import ident, literal

STATUS_FILE_ENV = "CLINIC_ADVERSE_EVENTS_FILE"
REPORT_CAPABILITY = "adverse_event_report"  # access.CAPABILITIES: who may open a draft and record a report
REFERENCE_MAX_CHARS = 64
STATUSES = ("not_reported", "reported")
OUTCOMES = ("recovered", "not_recovered")


class AdverseEventError(UserError, ValueError):
    """A report that cannot be recorded, or a status file that cannot be read (the message says what to do)."""


# --------------------------------------------------------------------------------------------------------------
# What is reportable
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reportable:
    """One reportable reaction: the follow-up columns that record it (a yes in any of them is the reaction), the
    registry outcome it belongs to, and whether only a contact after that outcome's window makes it reportable."""

    key: str
    outcome: str  # the registry key (its window, labels and description)
    columns: tuple[str, ...]
    after_window: bool = False
    label_en: str = ""  # default: the registry outcome's label
    label_nb: str = ""

    @property
    def window_end_days(self) -> int:
        return registry.get(self.outcome).window_days[1]

    def label(self, lang: str = "nb") -> str:
        o = registry.get(self.outcome)
        if lang == "nb":
            return self.label_nb or o.label_nb
        return self.label_en or o.label_en

    def definition(self, lang: str = "nb") -> str:
        days = self.window_end_days
        cols = " / ".join(self.columns)
        if self.after_window:
            return (f"{cols} = ja ved en kontroll mer enn {days} dager etter behandlingen (etter utfallets vindu)"
                    if lang == "nb" else
                    f"{cols} = yes at a contact more than {days} days after the session (after the outcome's window)")
        return (f"{cols} = ja ved en kontroll, uansett dag" if lang == "nb" else
                f"{cols} = yes at a contact, on any day")


REPORTABLE: tuple[Reportable, ...] = (
    Reportable("double_vision", "double_vision", ("double_vision",)),
    Reportable("allergic_reaction", "allergic_reaction", ("allergic_reaction",)),
    Reportable("infection", "infection", ("infection",)),
    Reportable("ptosis_beyond_window", "ptosis", ("eyelid_ptosis", "brow_ptosis"), after_window=True,
               label_en="Ptosis beyond its window", label_nb="Ptose utover forventet varighet"),
)
REPORTABLE_BY_KEY: dict[str, Reportable] = {r.key: r for r in REPORTABLE}
for _r in REPORTABLE:  # a declaration the contract or the registry does not know is an error at import
    registry.get(_r.outcome)
    if not set(_r.columns) <= set(contract.COMPLICATION_FLAGS):
        raise ValueError(f"reportable `{_r.key}`: {_r.columns} are not yes/no columns of follow_ups")


# --------------------------------------------------------------------------------------------------------------
# Off-label: the products' approved uses
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovedUse:
    indication: str  # a contract indication
    areas: tuple[str, ...]  # the contract areas the authorisation covers for it


APPROVED_USES_SOURCE = (
    "the products' Norwegian summaries of product characteristics (preparatomtaler, legemiddelsok.no / "
    "felleskatalogen.no), as read for this table in 2026: Botox chronic migraine (head and neck, PREEMPT) and severe "
    "axillary hyperhidrosis; Vistabel and Bocouture glabellar, crow's-feet and forehead lines; Azzalure and Relfydess "
    "glabellar and crow's-feet lines; Letybo and Alluzience glabellar lines; Xeomin and Dysport none of the clinic's "
    "indications (neurological ones only). Episodic migraine and tension headache are off-label for every product; "
    "the data do not tell chronic from episodic migraine, so a Botox migraine session is taken as chronic. The "
    "reporting doctor checks the current SmPC.")
APPROVED_USES_SOURCE_NB = (
    "preparatomtalene (SPC) for preparatene i Norge (legemiddelsok.no / felleskatalogen.no), slik de ble lest for "
    "denne tabellen i 2026: Botox kronisk migrene (hode og nakke, PREEMPT) og alvorlig svette i armhulene; Vistabel "
    "og Bocouture sinnarynke, kråkeføtter og panne; Azzalure og Relfydess sinnarynke og kråkeføtter; Letybo og "
    "Alluzience sinnarynke; Xeomin og Dysport ingen av klinikkens indikasjoner (bare nevrologiske). Episodisk migrene "
    "og spenningshodepine er utenfor godkjent bruk for alle preparater; dataene skiller ikke kronisk fra episodisk "
    "migrene, så en Botox-behandling for migrene regnes som kronisk. Legen som melder sjekker gjeldende "
    "preparatomtale.")
_FACE_LINES = ("glabella", "crows_feet", "forehead")
APPROVED_USES: dict[str, tuple[ApprovedUse, ...]] = {
    "Botox": (ApprovedUse("migraine", ("head_neck",)), ApprovedUse("hyperhidrosis", ("axillae",))),
    "Vistabel": (ApprovedUse("cosmetic", _FACE_LINES),),
    "Bocouture": (ApprovedUse("cosmetic", _FACE_LINES),),
    "Xeomin": (),
    "Letybo": (ApprovedUse("cosmetic", ("glabella",)),),
    "Azzalure": (ApprovedUse("cosmetic", ("glabella", "crows_feet")),),
    "Dysport": (),
    "Alluzience": (ApprovedUse("cosmetic", ("glabella",)),),
    "Relfydess": (ApprovedUse("cosmetic", ("glabella", "crows_feet")),),
}
# the active substance of each brand (the form asks for the medicine; two brands share a substance)
ACTIVE_SUBSTANCE: dict[str, str] = {
    "Botox": "onabotulinumtoxinA", "Vistabel": "onabotulinumtoxinA", "Bocouture": "incobotulinumtoxinA",
    "Xeomin": "incobotulinumtoxinA", "Letybo": "letibotulinumtoxinA", "Azzalure": "abobotulinumtoxinA",
    "Dysport": "abobotulinumtoxinA", "Alluzience": "abobotulinumtoxinA", "Relfydess": "relabotulinumtoxinA",
}
# how the toxin was given: into the skin for sweating, into the muscle otherwise (the products' SmPCs)
ROUTE_BY_INDICATION: dict[str, str] = {"hyperhidrosis": "intradermal"}
ROUTE_DEFAULT = "intramuscular"

if set(APPROVED_USES) != set(contract.PRODUCT_NAMES) or set(ACTIVE_SUBSTANCE) != set(contract.PRODUCT_NAMES):
    raise ValueError("APPROVED_USES and ACTIVE_SUBSTANCE need one entry per product of the data contract")
for _uses in APPROVED_USES.values():
    for _u in _uses:
        if _u.indication not in contract.INDICATIONS or not set(_u.areas) <= set(contract.AREAS):
            raise ValueError(f"APPROVED_USES: {_u} names a value the data contract does not know")


def off_label(product: str, indication: str, areas) -> tuple[bool, str]:
    """(is off-label, why in English): the indication is not approved for the product, or an area treated is
    outside the approved ones for it."""
    area_list = [a for a in (areas.split(contract.AREA_SEPARATOR) if isinstance(areas, str) else areas or ()) if a]
    uses = [u for u in APPROVED_USES.get(product, ()) if u.indication == indication]
    if not uses:
        return True, f"{indication} is not an approved indication of {product}"
    outside = [a for a in area_list if not any(a in u.areas for u in uses)]
    if outside:
        return True, f"{', '.join(outside)} is not an approved area of {product} for {indication}"
    return False, ""


# --------------------------------------------------------------------------------------------------------------
# The reportable reactions (one row per session x reaction)
# --------------------------------------------------------------------------------------------------------------


def _yes(columns: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"coalesce(f.{ident(c)}, false)" for c in columns) + ")"


def _answered(columns: tuple[str, ...]) -> str:
    return "(" + " AND ".join(f"f.{ident(c)} IS NOT NULL" for c in columns) + ")"


def _reaction_sql(r: Reportable) -> str:
    """One reaction's rows: every session with a contact (by $as_of) that makes the reaction reportable."""
    yes, answered = _yes(r.columns), _answered(r.columns)
    listed = f"({yes} AND f.seen_on - t.treated_on > {int(r.window_end_days)})" if r.after_window else yes
    return f"""
    SELECT {literal(r.key)} AS reaction, f.treatment_id,
           min(f.seen_on) FILTER (WHERE {yes}) AS onset_on,
           max(f.seen_on) FILTER (WHERE {yes}) AS last_reported_on,
           list(f.seen_on) FILTER (WHERE {answered} AND NOT {yes}) AS clear_on
    FROM follow_ups f JOIN treatments t USING (treatment_id)
    WHERE f.seen_on <= $as_of
    GROUP BY f.treatment_id
    HAVING bool_or({listed})"""


# the columns of `reactions` (one row per session x reaction, in treatment order)
REACTION_COLUMNS = ["reaction", "treatment_id", "patient_ref", "treated_on", "onset_on", "days_to_onset",
                    "reaction_outcome", "outcome_on", "clinician", "profession", "product", "lot_number",
                    "lot_expiry", "units", "units_by_area", "areas", "dilution_ml_per_100u", "indication",
                    "is_correction", "age_band", "sex", "neuromuscular_disease", "aminoglycoside_antibiotics",
                    "pregnant_or_breastfeeding", "is_off_label", "off_label_reason", "draft_number"]


def reactions(con: duckdb.DuckDBPyConnection, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """Every reportable reaction (REPORTABLE) recorded at a contact by `as_of` (default: the data's date): one row
    per session x reaction, in treatment order (ties by treatment_id, then REPORTABLE's order), with what a draft
    needs. The as-of date is the only value and it is bound."""
    as_of = as_of or counting.default_as_of(con)
    parts = " UNION ALL ".join(_reaction_sql(r) for r in REPORTABLE)
    order = "CASE r.reaction " + " ".join(f"WHEN {literal(r.key)} THEN {i}" for i, r in enumerate(REPORTABLE)) + " END"
    sql = f"""
WITH found AS ({parts}
)
SELECT r.reaction, t.treatment_id, t.patient_ref, t.treated_on, r.onset_on, r.last_reported_on, r.clear_on,
       t.clinician, c.profession, t.product, t.lot_number, t.lot_expiry, t.units, t.units_by_area, t.areas,
       t.dilution_ml_per_100u, t.indication, t.corrects_treatment_id IS NOT NULL AS is_correction, t.age_band,
       t.sex, t.neuromuscular_disease, t.aminoglycoside_antibiotics, t.pregnant_or_breastfeeding
FROM found r JOIN treatments t USING (treatment_id) LEFT JOIN clinicians c USING (clinician)
WHERE t.treated_on <= $as_of
ORDER BY t.treated_on, t.treatment_id, {order}"""
    rows = con.execute(sql, {"as_of": as_of}).fetchall()
    names = ["reaction", "treatment_id", "patient_ref", "treated_on", "onset_on", "last_reported_on", "clear_on",
             "clinician", "profession", "product", "lot_number", "lot_expiry", "units", "units_by_area", "areas",
             "dilution_ml_per_100u", "indication", "is_correction", "age_band", "sex", "neuromuscular_disease",
             "aminoglycoside_antibiotics", "pregnant_or_breastfeeding"]
    out = []
    for values in rows:
        row = dict(zip(names, values, strict=True))
        later_clear = sorted(d for d in (row.pop("clear_on") or []) if d > row["last_reported_on"])
        last = row.pop("last_reported_on")
        row["reaction_outcome"] = "recovered" if later_clear else "not_recovered"
        row["outcome_on"] = later_clear[0] if later_clear else last
        row["days_to_onset"] = (row["onset_on"] - row["treated_on"]).days
        row["is_off_label"], row["off_label_reason"] = off_label(row["product"], row["indication"], row["areas"])
        row["draft_number"] = draft_number(row["treatment_id"], row["reaction"])
        out.append(row)
    return pd.DataFrame(out, columns=REACTION_COLUMNS).astype(object)


def draft_number(treatment_id: str, reaction: str) -> str:
    """The draft's short number (`AE-` and 8 characters): the same for the same session and reaction in every run,
    and no treatment id or patient reference in it. A digest, not a secret: whoever holds the clinic's treatment
    ids can link it (the clinic, on purpose); the draft leaves without them."""
    digest = hashlib.sha256(f"adverse-event-draft\x1f{treatment_id}\x1f{reaction}".encode()).hexdigest()
    return "AE-" + digest[:8].upper()


# --------------------------------------------------------------------------------------------------------------
# The reporting status file
# --------------------------------------------------------------------------------------------------------------


def status_path_for(db_path: Path | None = None) -> Path:
    """`$CLINIC_ADVERSE_EVENTS_FILE`, else `<database stem>.adverse_events.jsonl` beside the published database."""
    env = os.environ.get(STATUS_FILE_ENV)
    if env:
        return Path(env)
    db_path = Path(db_path) if db_path else store.default_db_path()
    return db_path.with_name(db_path.stem + ".adverse_events.jsonl")


_RECORD_TEXT = ("key", "treatment_id", "reaction", "draft_number", "reported_on", "reference", "recorded_by", "role",
                "recorded_at")


def check_reference(reference: str) -> str:
    """The melde.no reference as stored: trimmed, 1 to REFERENCE_MAX_CHARS printable characters on one line."""
    text = (reference or "").strip()
    if not text:
        raise AdverseEventError("give the reference melde.no gave the report (its receipt or case number)")
    if len(text) > REFERENCE_MAX_CHARS:
        raise AdverseEventError(f"the reference has {len(text)} characters; a melde.no reference is short: give at "
                                f"most {REFERENCE_MAX_CHARS}")
    if not text.isprintable():
        raise AdverseEventError("the reference must be one line of printable characters (no line breaks, tabs or "
                                "control characters); copy only the reference itself")
    return text


def record_report(path: Path, row, *, reported_on: dt.date, reference: str, user: str, role: str,
                  access_log: Path, today: dt.date | None = None, at: dt.datetime | None = None) -> dict:
    """Record that one reaction (a row of `reactions` or a mapping with treatment_id, reaction and treated_on) was
    reported on `reported_on` under `reference`. Checked first (AdverseEventError: role, reaction, dates,
    reference); then written to the access log and appended to the status file (reviews.append_logged). A later
    record of the same session and reaction supersedes this one. Returns the record written."""
    if not user or not str(user).strip():
        raise AdverseEventError("recording a report needs the signed-in user's name")
    if not access.may([role], REPORT_CAPABILITY):
        allowed = " or ".join(access.CAPABILITIES.get(REPORT_CAPABILITY, ())) or "nobody"
        raise AdverseEventError(f"only {allowed} may record an adverse-event report (signed in as {role or 'no role'})")
    reaction = str(row["reaction"])
    if reaction not in REPORTABLE_BY_KEY:
        raise AdverseEventError(f"`{reaction}` is not a reportable reaction; choose one of: "
                                f"{', '.join(REPORTABLE_BY_KEY)}")
    treatment_id = str(row["treatment_id"] or "").strip()
    if not treatment_id or len(treatment_id) > 64:
        raise AdverseEventError("the report needs the session's treatment id (at most 64 characters)")
    if not isinstance(reported_on, dt.date) or isinstance(reported_on, dt.datetime):
        raise AdverseEventError("the date reported must be a date (YYYY-MM-DD)")
    today = today or dt.date.today()
    if reported_on > today:
        raise AdverseEventError(f"the date reported ({reported_on.isoformat()}) is in the future; give the day the "
                                "report was sent")
    treated_on = _as_date(row.get("treated_on") if hasattr(row, "get") else None)
    if treated_on is not None and reported_on < treated_on:
        raise AdverseEventError(f"the date reported ({reported_on.isoformat()}) is before the treatment "
                                f"({treated_on.isoformat()}); give the day the report was sent")
    reference = check_reference(reference)
    now = (at or dt.datetime.now()).replace(microsecond=0)
    number = draft_number(treatment_id, reaction)
    record = {"key": f"{treatment_id}|{reaction}", "treatment_id": treatment_id, "reaction": reaction,
              "draft_number": number, "reported_on": reported_on.isoformat(), "reference": reference,
              "recorded_by": str(user).strip(), "role": role, "recorded_at": now.isoformat()}
    reviews.append_logged(path, record, access_log=access_log, at=now, entry=access.Entry(
        str(user).strip(), role, "edit", f"adverse-event report recorded: {number} {reaction}",
        filters=f"reported_on {reported_on.isoformat()}"))
    return record


def _as_date(value) -> dt.date | None:
    if value is None or (not isinstance(value, (str, dt.date)) and pd.isna(value)) or value == "":
        return None
    return pd.Timestamp(value).date()


def _parse(raw: bytes) -> dict | None:
    record = reviews.json_record(raw, _RECORD_TEXT)
    if record is None:
        return None
    if record["reaction"] not in REPORTABLE_BY_KEY or record["key"] != f"{record['treatment_id']}|{record['reaction']}":
        return None
    try:
        dt.date.fromisoformat(record["reported_on"])
    except ValueError:
        return None
    return record


class Reports(list):
    """The readable records of the status file, oldest first; `bad_lines`: the 1-based numbers of the lines that
    could not be read (their reactions show as not reported, the safe side)."""

    def __init__(self, records=(), bad_lines=()):
        super().__init__(records)
        self.bad_lines: list[int] = list(bad_lines)


def read_reports(path: Path) -> Reports:
    """Every readable record of the status file, oldest first (a missing file: none)."""
    records, bad = reviews.read_lines(path, _parse, what="adverse-event report file", env=STATUS_FILE_ENV,
                                      error=AdverseEventError)
    return Reports(records, bad)


def latest(reports: list[dict]) -> dict[str, dict]:
    """{"treatment_id|reaction": its latest record} (the file's order is the order they were written in)."""
    out: dict[str, dict] = {}
    for r in reports:
        out[r["key"]] = r
    return out


def history(reports: list[dict], treatment_id: str, reaction: str) -> list[dict]:
    """Every record of one session's reaction, oldest first."""
    key = f"{treatment_id}|{reaction}"
    return [r for r in reports if r["key"] == key]


STATUS_COLUMNS = ["report_status", "reported_on", "report_reference", "recorded_by", "recorded_at"]


def with_status(frame: pd.DataFrame, reports: list[dict]) -> pd.DataFrame:
    """`reactions` with STATUS_COLUMNS from the latest record of each session and reaction (`not_reported` and
    empty when there is none)."""
    found = latest(reports)
    hits = [found.get(f"{t}|{r}") for t, r in zip(frame["treatment_id"], frame["reaction"], strict=True)]
    out = frame.copy()
    out["report_status"] = pd.Series(["reported" if h else "not_reported" for h in hits], index=out.index,
                                     dtype=object)
    for column, field in (("reported_on", "reported_on"), ("report_reference", "reference"),
                          ("recorded_by", "recorded_by"), ("recorded_at", "recorded_at")):
        out[column] = pd.Series([h[field] if h else "" for h in hits], index=out.index, dtype=object)
    return out


def case_list(con: duckdb.DuckDBPyConnection, status_file: Path, *, as_of: dt.date | None = None) -> pd.DataFrame:
    """The doctor's list: every reportable reaction with its reporting status (the page, the export)."""
    return with_status(reactions(con, as_of=as_of), read_reports(status_file))


# `export adverse-events`: one row per session x reaction (a case list, never released)
EXPORT_COLUMNS = ["reaction", "treatment_id", "draft_number", "treated_on", "onset_on", "days_to_onset",
                  "reaction_outcome", "outcome_on", "product", "lot_number", "clinician", "indication",
                  "is_off_label", "report_status", "reported_on", "report_reference", "recorded_by"]


def export_frame(con: duckdb.DuckDBPyConnection, status_file: Path, *, as_of: dt.date | None = None) -> pd.DataFrame:
    return case_list(con, status_file, as_of=as_of).reindex(columns=EXPORT_COLUMNS)


# --------------------------------------------------------------------------------------------------------------
# The draft
# --------------------------------------------------------------------------------------------------------------

# label key: (Norwegian, English)
LABELS: dict[str, tuple[str, str]] = {
    "title": ("Utkast til bivirkningsmelding", "Adverse-event report draft"),
    "subtitle": ("Til melde.no (Direktoratet for medisinsk produktsikkerhet). Utkastet er laget fra klinikkens "
                 "journaldata og er avidentifisert: sjekk hvert felt mot skjemaet før du sender.",
                 "For melde.no (the Norwegian Medical Products Agency, DMP). Drafted from the clinic's records and "
                 "de-identified: check every field against the form before sending."),
    "draft_number": ("Utkastnummer", "Draft number"),
    "section_patient": ("Pasient", "Patient"),
    "age_band": ("Aldersgruppe", "Age band"),
    "sex": ("Kjønn", "Sex"),
    "section_medicine": ("Legemiddel", "Medicine"),
    "product": ("Preparat", "Product"),
    "substance": ("Virkestoff", "Active substance"),
    "lot_number": ("Batchnummer (parti)", "Batch (lot) number"),
    "lot_expiry": ("Utløpsdato for partiet", "Lot expiry date"),
    "dose": ("Dose", "Dose"),
    "units_by_area": ("Enheter per område", "Units per area"),
    "dilution": ("Fortynning", "Dilution"),
    "route": ("Administrasjonsvei", "Route"),
    "indication": ("Indikasjon", "Indication"),
    "off_label": ("Bruk utenfor godkjent indikasjon (off-label)", "Off-label use"),
    "treated_on": ("Behandlingsdato (start og slutt)", "Treatment date (start and end)"),
    "session_kind": ("Type behandling", "Kind of session"),
    "risk_factors": ("Andre legemidler og tilstander registrert", "Other medicines and conditions recorded"),
    "section_reaction": ("Reaksjon", "Reaction"),
    "reaction": ("Reaksjon", "Reaction"),
    "description": ("Beskrivelse", "Description"),
    "onset_on": ("Først registrert", "First recorded"),
    "outcome": ("Utfall", "Outcome"),
    "seriousness": ("Alvorlighetsgrad", "Seriousness"),
    "section_reporter": ("Melder", "Reporter"),
    "reporter_role": ("Melders rolle", "Reporter's role"),
    "given_by": ("Behandlingen ble gitt av", "Treatment given by"),
    "note": ("Utkastet inneholder ikke navn, fødselsdato, fødselsnummer, pasientreferanse eller behandlings-ID. "
             "Klinikkens liste kobler utkastnummeret til behandlingen.",
             "The draft holds no name, birth date, national id, patient reference or treatment id. The clinic's "
             "list links the draft number to the session."),
}
WORDS: dict[str, tuple[str, str]] = {
    "not_recorded": ("ikke registrert", "not recorded"),
    "yes": ("ja", "yes"), "no": ("nei", "no"),
    "female": ("kvinne", "female"), "male": ("mann", "male"), "other": ("annet", "other"),
    "intramuscular": ("intramuskulært", "intramuscular"), "intradermal": ("intradermalt", "intradermal"),
    "cosmetic": ("kosmetisk (rynker)", "cosmetic (wrinkles)"), "migraine": ("migrene", "migraine"),
    "tension_headache": ("spenningshodepine", "tension headache"),
    "hyperhidrosis": ("hyperhidrose (svette)", "hyperhidrosis (sweating)"),
    "bruxism": ("bruksisme (tanngnissing)", "bruxism"),
    "glabella": ("sinnarynke", "glabella"), "forehead": ("panne", "forehead"),
    "crows_feet": ("kråkeføtter", "crow's feet"), "other_face": ("annet i ansiktet", "other face"),
    "masseter": ("tyggemuskel", "masseter"), "axillae": ("armhuler", "axillae"), "palms": ("håndflater", "palms"),
    "head_neck": ("hode og nakke", "head and neck"),
    "lege": ("lege", "doctor"), "sykepleier": ("sykepleier", "nurse"), "tannlege": ("tannlege", "dentist"),
    "doctor": ("lege", "doctor"),
    "primary": ("første behandling", "primary session"), "correction": ("korrigering (etterbehandling)",
                                                                         "correction (touch-up)"),
    "units_botox": ("E", "U"), "units_speywood": ("Speywood-enheter", "Speywood units"),
    "neuromuscular_disease": ("nevromuskulær sykdom", "neuromuscular disease"),
    "aminoglycoside_antibiotics": ("aminoglykosid-antibiotika", "aminoglycoside antibiotics"),
    "pregnant_or_breastfeeding": ("gravid eller ammer", "pregnant or breastfeeding"),
    "none_recorded_yes": ("ingen registrert (nevromuskulær sykdom, aminoglykosider, graviditet/amming besvart nei)",
                          "none recorded (neuromuscular disease, aminoglycosides, pregnancy/breastfeeding answered "
                          "no)"),
    "seriousness_text": ("vurderes av melder (død, livstruende, sykehusinnleggelse, varig skade, medfødt misdannelse, "
                         "annen medisinsk viktig hendelse)",
                         "to be judged by the reporter (death, life-threatening, hospitalisation, lasting "
                         "disability, congenital anomaly, other medically important event)"),
}


def _w(key: str, lang: str) -> str:
    nb, en = WORDS[key]
    return nb if lang == "nb" else en


def label(key: str, lang: str = "nb") -> str:
    nb, en = LABELS[key]
    return nb if lang == "nb" else en


def _date_text(d, lang: str) -> str:
    d = _as_date(d)
    if d is None:
        return _w("not_recorded", lang)
    return d.strftime("%d.%m.%Y") if lang == "nb" else d.isoformat()


def _number_text(x: float, lang: str) -> str:
    text = f"{float(x):g}"
    return text.replace(".", ",") if lang == "nb" else text


def _missing(v) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v)) or v == ""


def _flag(v) -> bool | None:
    """A yes/no value as True / False, None when not recorded (numpy and Python booleans alike)."""
    return None if _missing(v) else bool(v)


@dataclass(frozen=True)
class Draft:
    """The draft of one reaction: its number, language and (label, value) fields in the form's order, grouped in
    sections ((section title, [(label, value), ...]), ...)."""

    number: str
    lang: str
    title: str
    subtitle: str
    sections: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    note: str


def draft(row, lang: str = "nb", *, reporter_role: str = "doctor") -> Draft:
    """The pre-filled, de-identified draft of one row of `reactions` (or `case_list`), in `lang` (nb | en). Only
    the fields below go in: never patient_ref, treatment_id or the clinician's code."""
    if lang not in ("nb", "en"):
        raise AdverseEventError(f"the draft is written in nb or en, not `{lang}`")
    r = REPORTABLE_BY_KEY[row["reaction"]]
    nr = _w("not_recorded", lang)
    product = str(row["product"])
    unit_type = next((p.unit_type for p in contract.PRODUCTS if p.name == product), "botox")
    unit_word = _w(f"units_{unit_type}", lang)
    areas = [a for a in str(row["areas"] or "").split(contract.AREA_SEPARATOR) if a]
    by_area = [] if _missing(row["units_by_area"]) else [
        part.split(contract.AREA_UNITS_SEPARATOR) for part in str(row["units_by_area"]).split(contract.AREA_SEPARATOR)]
    indication = str(row["indication"])
    is_off, _ = off_label(product, indication, areas)
    off_text = _w("yes" if is_off else "no", lang)
    if is_off:
        approved = [u for u in APPROVED_USES[product]]
        listed = "; ".join(f"{_w(u.indication, lang)}: {', '.join(_w(a, lang) for a in u.areas)}" for u in approved)
        none = "ingen av klinikkens indikasjoner" if lang == "nb" else "none of the clinic's indications"
        off_text += (f" ({'godkjent for' if lang == 'nb' else 'approved for'} {product}: {listed or none})")
    risk_columns = ("neuromuscular_disease", "aminoglycoside_antibiotics", "pregnant_or_breastfeeding")
    risks = [_w(c, lang) for c in risk_columns if _flag(row[c]) is True]
    answered = all(_flag(row[c]) is not None for c in risk_columns)
    risk_text = ", ".join(risks) if risks else (_w("none_recorded_yes", lang) if answered else nr)
    days = int(row["days_to_onset"])
    onset = f"{_date_text(row['onset_on'], lang)} ({'dag' if lang == 'nb' else 'day'} {days} " \
            f"{'etter behandlingen, ved en kontroll' if lang == 'nb' else 'after the session, at a follow-up'})"
    outcome_on = _date_text(row["outcome_on"], lang)
    if row["reaction_outcome"] == "recovered":
        outcome = (f"restituert (ingen {r.label(lang).lower()} ved kontroll {outcome_on})" if lang == "nb" else
                   f"recovered (no {r.label(lang).lower()} at the follow-up on {outcome_on})")
    else:
        outcome = (f"ikke restituert ved siste kontroll som spurte ({outcome_on})" if lang == "nb" else
                   f"not recovered at the last follow-up that asked ({outcome_on})")
    description = registry.get(r.outcome).description(lang)
    if r.after_window:
        description += (f" Til stede ved en kontroll mer enn {r.window_end_days} dager etter behandlingen (etter "
                        "forventet varighet)." if lang == "nb" else
                        f" Present at a follow-up more than {r.window_end_days} days after the session (beyond its "
                        "expected course).")
    route = ROUTE_BY_INDICATION.get(indication, ROUTE_DEFAULT)
    sections = (
        (label("section_patient", lang), (
            (label("age_band", lang), nr if _missing(row["age_band"]) else str(row["age_band"])),
            (label("sex", lang), nr if _missing(row["sex"]) else _w(str(row["sex"]), lang)),
        )),
        (label("section_medicine", lang), (
            (label("product", lang), product),
            (label("substance", lang), ACTIVE_SUBSTANCE[product]),
            (label("lot_number", lang), nr if _missing(row["lot_number"]) else str(row["lot_number"])),
            (label("lot_expiry", lang), _date_text(row["lot_expiry"], lang)),
            (label("dose", lang), f"{_number_text(row['units'], lang)} {unit_word}"),
            (label("units_by_area", lang), ", ".join(f"{_w(a, lang)} {_number_text(float(u), lang)} {unit_word}"
                                                      for a, u in by_area) if by_area
             else ", ".join(_w(a, lang) for a in areas) + f" ({nr})"),
            (label("dilution", lang), nr if _missing(row["dilution_ml_per_100u"]) else
             f"{_number_text(row['dilution_ml_per_100u'], lang)} ml per 100 {unit_word}"),
            (label("route", lang), _w(route, lang)),
            (label("indication", lang), _w(indication, lang)),
            (label("off_label", lang), off_text),
            (label("treated_on", lang), _date_text(row["treated_on"], lang)),
            (label("session_kind", lang), _w("correction" if _flag(row["is_correction"]) else "primary", lang)),
            (label("risk_factors", lang), risk_text),
        )),
        (label("section_reaction", lang), (
            (label("reaction", lang), r.label(lang)),
            (label("description", lang), description),
            (label("onset_on", lang), onset),
            (label("outcome", lang), outcome),
            (label("seriousness", lang), _w("seriousness_text", lang)),
        )),
        (label("section_reporter", lang), (
            (label("reporter_role", lang), _w(reporter_role, lang) if reporter_role in WORDS else reporter_role),
            (label("given_by", lang), nr if _missing(row["profession"]) else _w(str(row["profession"]), lang)),
        )),
    )
    return Draft(row["draft_number"] if "draft_number" in row else draft_number(row["treatment_id"], r.key), lang,
                 label("title", lang), label("subtitle", lang), sections, label("note", lang))


def draft_text(d: Draft) -> str:
    """The draft as plain text to copy into the form: `Label: value` lines under each section's title."""
    lines = [f"{d.title} — {label('draft_number', d.lang)} {d.number}", d.subtitle, ""]
    for title, fields in d.sections:
        lines.append(title.upper())
        lines += [f"  {k}: {v}" for k, v in fields]
        lines.append("")
    lines.append(d.note)
    return "\n".join(lines) + "\n"


def draft_pdf(d: Draft) -> bytes:
    """The draft as a one-page A4 PDF (reportlab, the monthly report's embedded font)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from pipelines.release import pdf

    regular, bold = pdf.fonts()
    text = pdf.paragraph_text
    title = ParagraphStyle("title", fontName=bold, fontSize=15, leading=19, spaceAfter=3)
    sub = ParagraphStyle("sub", fontName=regular, fontSize=9, leading=12, textColor=colors.HexColor("#57606a"),
                         spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, spaceBefore=8, spaceAfter=3)
    cell = ParagraphStyle("cell", fontName=regular, fontSize=9, leading=11.5)
    head = ParagraphStyle("head", fontName=bold, fontSize=9, leading=11.5)
    buf = io.BytesIO()
    margin = 16 * mm
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=f"{d.title} {d.number}", author="", subject=d.title)
    width = A4[0] - 2 * margin
    story = [Paragraph(text(f"{d.title} — {label('draft_number', d.lang)} {d.number}"), title),
             Paragraph(text(d.subtitle), sub)]
    for section, fields in d.sections:
        story.append(Paragraph(text(section), h2))
        table = Table([[Paragraph(text(k), head), Paragraph(text(v), cell)] for k, v in fields],
                      colWidths=[width * 0.34, width * 0.66])
        table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d7de")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]))
        story.append(table)
    story += [Spacer(1, 6 * mm), Paragraph(text(d.note), sub)]
    doc.build(story)
    return buf.getvalue()


__all__ = ["REPORTABLE", "REPORTABLE_BY_KEY", "APPROVED_USES", "APPROVED_USES_SOURCE", "off_label", "reactions",
           "draft_number", "status_path_for", "record_report", "read_reports", "latest", "history", "with_status",
           "case_list", "export_frame", "draft", "draft_text", "draft_pdf", "Draft", "AdverseEventError",
           "EXPORT_COLUMNS", "REACTION_COLUMNS", "STATUS_COLUMNS", "check_reference"]
