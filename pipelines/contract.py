"""The data contract: the tables a clinic export may fill, their columns, types and allowed values.

This module is the single place that says what an input file must look like. The loader's parsing and
validation SQL, the DuckDB schema and ``docs/data-contract.md`` are all generated from it
(``python -m pipelines docs`` rewrites the document; a test checks that it is up to date).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------------------------
# Allowed values
# --------------------------------------------------------------------------------------------------------------

INDICATIONS: dict[str, tuple[str, ...]] = {
    # canonical value: accepted spellings (matched case-insensitively, after trimming)
    "cosmetic": ("cosmetic", "kosmetisk", "rynker", "rynkebehandling", "wrinkles"),
    "migraine": ("migraine", "migrene", "chronic_migraine", "kronisk migrene"),
    "tension_headache": ("tension_headache", "tension headache", "spenningshodepine"),
    "hyperhidrosis": ("hyperhidrosis", "hyperhidrose", "svette", "sweating"),
    "bruxism": ("bruxism", "bruksisme", "tanngnissing"),
}
HEADACHE_INDICATIONS = ("migraine", "tension_headache")

AREAS: dict[str, tuple[str, ...]] = {
    "glabella": ("glabella", "sinnarynke", "sinnarynker", "glabellar"),
    "forehead": ("forehead", "panne", "pannen"),
    "crows_feet": ("crows_feet", "crow's feet", "crows feet", "kråkeføtter", "smilerynker"),
    "other_face": ("other_face", "annet_ansikt", "other face", "annet ansikt"),
    "masseter": ("masseter", "tyggemuskel"),
    "axillae": ("axillae", "armhuler", "armhule", "axilla"),
    "palms": ("palms", "håndflater", "hender"),
    "head_neck": ("head_neck", "hode_nakke", "head and neck", "hode og nakke"),
}
AREA_SEPARATOR = "|"
UPPER_FACE_AREAS = ("glabella", "forehead", "crows_feet")
FACE_AREAS = ("glabella", "forehead", "crows_feet", "other_face", "masseter")

EFFECTS: dict[str, tuple[str, ...]] = {
    "full": ("full", "good", "god", "fullgod"),
    "partial": ("partial", "delvis"),
    "none": ("none", "ingen", "no effect", "ingen effekt"),
    "not_assessed": ("not_assessed", "ikke_vurdert", "ikke vurdert", "not assessed"),
}

PROFESSIONS: dict[str, tuple[str, ...]] = {
    "lege": ("lege", "doctor", "physician"),
    "sykepleier": ("sykepleier", "nurse"),
    "tannlege": ("tannlege", "dentist"),
}

SEXES: dict[str, tuple[str, ...]] = {
    "female": ("female", "f", "k", "kvinne", "woman"),
    "male": ("male", "m", "mann", "man"),
    "other": ("other", "annet", "x"),
}

AGE_BANDS: dict[str, tuple[str, ...]] = {
    band: (band,) for band in ("18-29", "30-39", "40-49", "50-59", "60-69", "70+")
}

TRUE_SPELLINGS = ("yes", "ja", "true", "1", "y", "j", "sann")
FALSE_SPELLINGS = ("no", "nei", "false", "0", "n", "usann")


@dataclass(frozen=True)
class Product:
    name: str
    unit_type: str  # "botox" (onabotulinumtoxinA-like units) or "speywood"
    botox_equivalent_factor: float  # native units x factor = Botox-equivalent units
    max_units_per_session: float  # above this a row is refused as implausible


# Units are not interchangeable between products (DOMAIN.md): Speywood units (Dysport / Azzalure / Alluzience,
# and the liquid relabotulinumtoxinA Relfydess, dosed on the same scale) are about 2.5-3 per Botox unit.
PRODUCTS: tuple[Product, ...] = (
    Product("Botox", "botox", 1.0, 400),
    Product("Vistabel", "botox", 1.0, 400),
    Product("Bocouture", "botox", 1.0, 400),
    Product("Xeomin", "botox", 1.0, 400),
    Product("Letybo", "botox", 1.0, 400),
    Product("Azzalure", "speywood", 0.37, 1000),
    Product("Dysport", "speywood", 0.37, 1000),
    Product("Alluzience", "speywood", 0.37, 1000),
    Product("Relfydess", "speywood", 0.37, 1000),
)
PRODUCT_NAMES = tuple(p.name for p in PRODUCTS)

# Dose bands (issue 13): a session's dose against the label dose of the areas it treated, in Botox-equivalent units
# (DOMAIN.md; units x the product's factor). The label dose of a session is the sum over its areas; its band is
# `below_label` under 75 % of it, `at_label` from 75 % to 125 %, `above_label` above 125 %. Areas without a label
# dose carry a usual clinical dose (marked estimate).
LABEL_DOSE_BOTOX_UNITS: dict[str, float] = {
    "glabella": 20,  # 5 sites x 4 U (Vistabel SmPC)
    "forehead": 20,  # with the glabella (Botox Cosmetic label)
    "crows_feet": 24,  # 3 sites x 4 U per side (Vistabel SmPC)
    "other_face": 10,  # estimate: lips, chin, jaw line
    "masseter": 50,  # off-label, 20-30 U per side
    "axillae": 100,  # 50 U per axilla (Botox SmPC)
    "palms": 200,  # estimate: about 100 U per palm, off-label
    "head_neck": 155,  # chronic migraine, 31 sites (PREEMPT)
}
DOSE_BANDS: tuple[tuple[str, float | None], ...] = (("below_label", 0.75), ("at_label", 1.25), ("above_label", None))
PRODUCT_SPELLINGS: dict[str, tuple[str, ...]] = {p.name: (p.name,) for p in PRODUCTS}

# Dates earlier than this are refused as implausible (botulinum toxin for wrinkles is approved from 2002).
EARLIEST_DATE = "1990-01-01"

# How a date may be written (pipelines/ingest/validate.py `_date`): ISO or the Norwegian day.month.year, either with a
# time of day, which is dropped. Slash dates are refused, never guessed (validate.py `_slash_date`).
DATE_SPELLINGS_TEXT = "`2024-03-05` or `05.03.2024`"
SLASH_DATES_TEXT = (
    "Dates with slashes (`01/02/2024`) are refused, never guessed: a Norwegian export means 1 February, an American "
    "one 2 January. The row is rejected with the two readings and how to write the date (`2024-02-01` or "
    "`01.02.2024`); correct the export's date format and load it again."
)


# --------------------------------------------------------------------------------------------------------------
# Columns and tables
# --------------------------------------------------------------------------------------------------------------

KINDS = ("id", "code", "text", "date", "number", "integer", "bool", "enum", "areas", "area_units")
AREA_UNITS_SEPARATOR = ":"  # units_by_area: `glabella:20|forehead:10`


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool
    meaning: str
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_value: float | None = None
    max_value: float | None = None
    example: str = ""
    min_exclusive: bool = False  # the value must be strictly above min_value
    may_be_future: bool = False  # a date that may lie after the load date (an expiry date)

    @property
    def sql_type(self) -> str:
        return {
            "id": "VARCHAR",
            "code": "VARCHAR",
            "text": "VARCHAR",
            "date": "DATE",
            "number": "DOUBLE",
            "integer": "INTEGER",
            "bool": "BOOLEAN",
            "enum": "VARCHAR",
            "areas": "VARCHAR",
            "area_units": "VARCHAR",
        }[self.kind]

    def describe_type(self) -> str:
        if self.kind == "date":
            future = "; may lie in the future" if self.may_be_future else ""
            return f"date ({DATE_SPELLINGS_TEXT}; never with slashes{future})"
        if self.kind == "area_units":
            values = ", ".join(f"`{v}`" for v in self.allowed)
            return (f"units per area, `area{AREA_UNITS_SEPARATOR}units` separated by `{AREA_SEPARATOR}` (areas: "
                    f"{values}; each once, among the session's `areas`; units > 0, adding up to `units`)")
        if self.kind == "bool":
            return "yes/no (yes/no, ja/nei, true/false, 1/0)"
        if self.kind in ("enum", "areas"):
            values = ", ".join(f"`{v}`" for v in self.allowed)
            prefix = "one or more of" if self.kind == "areas" else "one of"
            suffix = f", separated by `{AREA_SEPARATOR}`" if self.kind == "areas" else ""
            return f"{prefix} {values}{suffix}"
        if self.kind in ("number", "integer"):
            bounds = []
            if self.min_value is not None:
                bounds.append(f"{'>' if self.min_exclusive else '>='} {self.min_value:g}")
            if self.max_value is not None:
                bounds.append(f"<= {self.max_value:g}")
            word = "whole number" if self.kind == "integer" else "number (decimal comma accepted)"
            return word + (f" ({', '.join(bounds)})" if bounds else "")
        return {"id": "text id (max 64 characters)", "code": "code (case-insensitive)", "text": "text"}[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    meaning: str
    load_order: int  # reference data first, then treatments, then follow-ups
    signature: tuple[str, ...]  # columns whose presence identifies the table from a header

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _yes_no(name: str, meaning: str, required: bool = False) -> Column:
    return Column(name, "bool", required, meaning, example="no")


CLINICIANS = Table(
    name="clinicians",
    key=("clinician",),
    meaning="Reference: the clinic's clinicians (codes only, never names) and what their chair time costs.",
    load_order=1,
    signature=("clinician", "profession"),
    columns=(
        Column("clinician", "code", True, "clinician code, e.g. `C07` or `ÅSH`", example="C07"),
        Column("profession", "enum", True, "profession", allowed=PROFESSIONS, example="lege"),
        Column("cost_per_minute_nok", "number", True, "what a minute of this clinician's chair time costs",
               min_value=0, max_value=10_000, example="25"),
    ),
)

PRODUCT_PRICES = Table(
    name="product_prices",
    key=("product", "valid_from"),
    meaning="Reference: the clinic's invoice price per native unit of each product, from a date on.",
    load_order=1,
    signature=("valid_from", "cost_per_unit_nok"),
    columns=(
        Column("product", "enum", True, "product brand", allowed=PRODUCT_SPELLINGS, example="Botox"),
        Column("valid_from", "date", True, "first date the price applies", example="2024-01-01"),
        Column("cost_per_unit_nok", "number", True, "cost per native unit", min_value=0, max_value=10_000,
               example="30"),
    ),
)

TREATMENTS = Table(
    name="treatments",
    key=("treatment_id",),
    meaning="One row per injection session (primary or correction).",
    load_order=2,
    signature=("treatment_id", "treated_on"),
    columns=(
        Column("treatment_id", "id", True, "unique id of the session", example="T000123"),
        Column("patient_ref", "id", True,
               "pseudonymous patient reference (a keyed hash; never a national id, name, phone or e-mail)",
               example="p_5f1c9a"),
        Column("treated_on", "date", True, "date of the session", example="2024-03-05"),
        Column("clinician", "code", True, "clinician code; must exist in `clinicians`", example="C07"),
        Column("indication", "enum", True, "why the patient was treated", allowed=INDICATIONS, example="cosmetic"),
        Column("areas", "areas", True, "the areas treated", allowed=AREAS, example="glabella|forehead"),
        Column("product", "enum", True, "product brand", allowed=PRODUCT_SPELLINGS, example="Vistabel"),
        Column("units", "number", True, "native units of that product; must be > 0 and plausible for one session",
               min_value=0, min_exclusive=True, example="20"),
        Column("corrects_treatment_id", "id", False,
               "empty for a primary session; for a correction (touch-up), the id of the session it corrects",
               example=""),
        Column("price_nok", "number", True, "amount charged (0 for a free correction)", min_value=0,
               max_value=200_000, example="2900"),
        Column("minutes", "number", False, "chair time", min_value=0, max_value=600, example="20"),
        Column("baseline_headache_days", "number", False,
               "headache days per month before treatment (headache indications)", min_value=0, max_value=31,
               example=""),
        Column("baseline_hdss", "integer", False,
               "Hyperhidrosis Disease Severity Scale before treatment, 1-4 (hyperhidrosis)", min_value=1,
               max_value=4, example=""),
        Column("age_band", "enum", False, "age band", allowed=AGE_BANDS, example="40-49"),
        Column("sex", "enum", False, "sex", allowed=SEXES, example="female"),
        Column("prior_treatments", "integer", False, "number of earlier botulinum-toxin treatments", min_value=0,
               max_value=1000, example="3"),
        _yes_no("neuromuscular_disease", "known nerve or muscle disease (ALS, myasthenia gravis, neuropathy)"),
        _yes_no("aminoglycoside_antibiotics", "uses aminoglycoside antibiotics"),
        _yes_no("pregnant_or_breastfeeding", "pregnant or breastfeeding"),
        # traceability (issue 13): the vial's lot, its expiry, how it was diluted and where the units went
        Column("lot_number", "code", False,
               "the product's lot (batch) number as printed on the vial; a recall finds the sessions by it",
               example="C5487C3"),
        Column("lot_expiry", "date", False,
               "the lot's expiry date; a session after it counts as `expired_lot` (blank: not assessed)",
               example="2025-06-30", may_be_future=True),
        Column("dilution_ml_per_100u", "number", False,
               "saline used to reconstitute, in ml per 100 native units (e.g. 2.5 ml per 100 U of Botox)",
               min_value=0, min_exclusive=True, max_value=10, example="2.5"),
        Column("units_by_area", "area_units", False,
               "native units per area treated, e.g. `glabella:20|forehead:10`; the areas must be among the "
               "session's `areas` and the units must add up to `units`", allowed=AREAS,
               example="glabella:12|forehead:8"),
    ),
)

FOLLOW_UPS = Table(
    name="follow_ups",
    key=("follow_up_id",),
    meaning="One row per follow-up contact (review visit, phone call, message) after a session.",
    load_order=3,
    signature=("follow_up_id",),
    columns=(
        Column("follow_up_id", "id", True, "unique id of the contact", example="F000456"),
        Column("treatment_id", "id", True, "the session followed up; must exist in `treatments`", example="T000123"),
        Column("seen_on", "date", True, "date of the contact; not before the session", example="2024-03-19"),
        Column("effect", "enum", True, "effect of the treatment as judged at this contact", allowed=EFFECTS,
               example="full"),
        _yes_no("asymmetry", "visible asymmetry between the two sides"),
        _yes_no("eyelid_ptosis", "drooping eyelid"),
        _yes_no("brow_ptosis", "drooping brow"),
        _yes_no("bruising", "bruise (haematoma) at an injection site"),
        _yes_no("bleeding", "bleeding at an injection site beyond a drop"),
        _yes_no("pain", "pain at an injection site beyond the injection itself"),
        _yes_no("itching", "itching at an injection site"),
        _yes_no("infection", "infection at an injection site"),
        _yes_no("allergic_reaction", "allergic reaction (strong swelling, redness, severe headache)"),
        _yes_no("dry_eye", "dry eyes"),
        _yes_no("double_vision", "double or blurred vision"),
        Column("headache_days", "number", False, "headache days per month at follow-up (headache indications)",
               min_value=0, max_value=31, example=""),
        Column("hdss", "integer", False, "Hyperhidrosis Disease Severity Scale at follow-up, 1-4", min_value=1,
               max_value=4, example=""),
        Column("satisfaction", "integer", False, "patient satisfaction, 1 (very dissatisfied) to 5 (very satisfied)",
               min_value=1, max_value=5, example="4"),
    ),
)

# The outcomes a process change or a target may name: the keys of pipelines/metrics/registry.py (this base module
# imports nothing of the project; tests/test_process_changes.py checks the two lists agree).
OUTCOME_KEYS: tuple[str, ...] = (
    "insufficient_effect", "correction", "asymmetry", "ptosis", "eyelid_ptosis", "brow_ptosis", "dry_eye",
    "double_vision", "bruising", "bleeding", "pain", "itching", "infection", "allergic_reaction",
    "unsatisfactory_result", "headache_non_response", "hyperhidrosis_non_response", "secondary_non_response",
    "treated_despite_risk", "expired_lot",
)
OUTCOME_SPELLINGS: dict[str, tuple[str, ...]] = {k: (k,) for k in OUTCOME_KEYS}

PROCESS_CHANGES = Table(
    name="process_changes",
    key=("changed_on", "description"),
    meaning="Reference: what changed in the clinic and when (a new product, a new technique, a new follow-up "
            "routine, training), drawn on the time charts; `rebase = yes` starts a new chart part from that date "
            "(centre line and limits recomputed).",
    load_order=2,  # after clinicians: a change may name a clinician
    signature=("changed_on", "description"),
    columns=(
        Column("changed_on", "date", True, "the day the change took effect", example="2025-03-01"),
        Column("description", "text", True, "what changed, in a few words (no patient, no names)",
               example="switched glabella product to Bocouture"),
        Column("outcome", "enum", False, "the outcome it concerns (empty: every outcome)", allowed=OUTCOME_SPELLINGS,
               example="ptosis"),
        Column("product", "enum", False, "the product it concerns (empty: any)", allowed=PRODUCT_SPELLINGS,
               example="Bocouture"),
        Column("clinician", "code", False, "the clinician it concerns (empty: the whole clinic); must exist in "
               "`clinicians`", example=""),
        _yes_no("rebase", "start a new chart part from this date (the process before it is no longer the "
                "baseline); empty means no"),
    ),
)

TARGETS = Table(
    name="targets",
    key=("outcome",),
    meaning="Reference: the clinic's own target rate per outcome, drawn on the time charts and read against the "
            "process limits (Making Data Count assurance: consistently meets, consistently fails, hit and miss).",
    load_order=1,
    signature=("outcome", "target_pct"),
    columns=(
        Column("outcome", "enum", True, "the outcome", allowed=OUTCOME_SPELLINGS, example="ptosis"),
        Column("target_pct", "number", True, "the target rate in percent (an adverse outcome meets it at or below, "
               "a response at or above)", min_value=0, max_value=100, example="2"),
    ),
)

TABLES: tuple[Table, ...] = (CLINICIANS, PRODUCT_PRICES, TREATMENTS, FOLLOW_UPS, PROCESS_CHANGES, TARGETS)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
COMPLICATION_FLAGS: tuple[str, ...] = tuple(c.name for c in FOLLOW_UPS.columns if c.kind == "bool")

# Header words that name direct identifiers. A file with such a column is refused as a whole.
IDENTIFIER_HEADER_WORDS = (
    "name", "navn", "fornavn", "etternavn", "firstname", "lastname", "surname", "fullname",
    "address", "adresse", "postadresse", "street", "gate",
    "email", "epost", "mail",
    "phone", "telefon", "tlf", "mobil", "mobile", "telephone",
    "fnr", "fodselsnummer", "fødselsnummer", "personnummer", "ssn", "nationalid", "personid",
    "birthdate", "fodselsdato", "fødselsdato", "dob",
)


def table_for_header(columns: list[str]) -> Table | None:
    """The table whose signature columns all appear in a (normalised) header, preferring the most specific."""
    present = set(columns)
    matches = [t for t in TABLES if set(t.signature) <= present]
    if not matches:
        return None
    return max(matches, key=lambda t: len(t.signature))


def canonical_lookup(allowed: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Lower-cased accepted spelling -> canonical value."""
    out: dict[str, str] = {}
    for canonical, spellings in allowed.items():
        out[canonical.lower()] = canonical
        for s in spellings:
            out[s.lower()] = canonical
    return out
