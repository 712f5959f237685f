"""THE registry of outcomes: each one declared once, read by the SQL, the dashboard, the exports and the docs.

An outcome says, per treatment session:
- who is **eligible** (the denominator's population): an SQL condition on the session model `s` (see
  sql/sessions.sql);
- its **window**: the days after treatment in which the event happens (DOMAIN.md), and up to which day a follow-up
  contact counts as having asked about it (`reported_within_days`: a review at two weeks asks about the first
  week's bruising). A session counts only once that window has closed by the as-of date;
- which follow-up columns **assess** it (`assessed_by`; `assessed_sql` where the rule is not "every one of them
  answered"), and when the **event** happened: SQL aggregates over its follow-up contacts `f` (sql/contacts.sql)
  inside the window (`{in_window}`; `{assessed}` is the contact's assessment), and/or a condition on the session;
- what **loss to follow-up** means: `excluded` (the rate is among followed-up sessions; the crude rate over all
  eligible sessions is the lower bound) or `event` (counted as the bad outcome, as for headache response);
- labels and descriptions in English and Norwegian, and the published reference range with its source;
- how it is **watched** (`watch`), i.e. which signals it may put on the overview's list (the false-alarm budget,
  docs/signal-budget.md): `clinician` (the clinic's control chart, each clinician's funnel position and
  risk-adjusted CUSUM), `clinic` (the clinic's control chart only; funnels and CUSUMs stay on the Clinicians page
  without listing) or `case` (too rare or too grave for a rate to be the alarm: every event is reviewed one by one
  in the case review, and no chart puts it on the list).

The counting principles (pipelines/metrics/counting.py applies them to every outcome alike):
1. **Being followed up never depends on having the event.** A session is followed up for an outcome when a
   follow-up contact inside its window assessed that outcome; nothing else makes it followed up. An event seen
   elsewhere (a correction session within 28 days; a "yes" on a contact that left the outcome's other columns
   blank) counts in the crude rate (`crude_event_n / eligible_n`) and, for a followed-up session, in the
   numerator, but never adds a session to the denominator. (Were a correction to make its session followed up,
   a month with one correction and no registered reviews would read 1/1 = 100 %.)
2. **A blank answer is not "no".** A contact assessed an outcome when every column that records it
   (`assessed_by`) is answered: a yes/no column not blank, `effect` not `not_assessed`, a score present. A
   follow-up file without the column assesses the outcome on none of its contacts (the load says so), and with
   no followed-up session the rate is missing ("not recorded"), never 0 %.
3. **Several contacts in the window**: a complication reported at any of them happened (any "yes" is the event);
   a judgement of response (headache, sweating) is the one of the latest contact that assessed it, so more
   contacts are not more chances to "respond".
4. Only the session's own attributes (`session_assessed_sql`, e.g. the risk questions recorded) can make a session
   assessed without a contact, and they too must say whether it was assessed, not whether the event happened.

Adding an outcome is one entry in OUTCOMES. Nothing else in the code names an outcome's definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines import contract
from pipelines.errors import UserError
from pipelines.sqltext import literal


@dataclass(frozen=True)
class PublishedRange:
    """The published rate range an outcome is compared with (percent; one end may be open), and its source."""

    low_pct: float | None
    high_pct: float | None
    text_en: str
    text_nb: str
    source: str
    is_estimate: bool = False
    source_nb: str = ""  # the source in Norwegian where a Norwegian wording exists (a citation stays as it is)

    def source_text(self, lang: str = "en") -> str:
        """The source as the page shows it: the Norwegian wording when there is one; "" when there is none."""
        text = self.source_nb if lang == "nb" and self.source_nb else self.source
        if lang == "nb":  # the citations' descriptions in Norwegian (the citation itself stays as published)
            for english, norwegian in NB_WORDING.items():
                text = text.replace(english, norwegian)
        return "" if text == "none" else text


@dataclass(frozen=True)
class Outcome:
    key: str
    label_en: str
    label_nb: str
    description_en: str
    description_nb: str
    group: str  # effect | eye | injection_site | systemic | cost | response | safety
    eligible_sql: str
    eligible_en: str
    eligible_nb: str
    window_days: tuple[int, int]
    # aggregate over contacts f: {in_window} is the window condition, {assessed} the contact's assessment
    event_agg: str | None = None
    # the follow_ups columns that record the outcome: a contact assessed it when every one is answered (answered())
    assessed_by: tuple[str, ...] = ()
    assessed_sql: str | None = None  # a condition on a contact f replacing assessed_by's rule (e.g. HDSS or effect)
    session_event_sql: str | None = None  # condition on the session s that also counts as the event
    session_assessed_sql: str | None = None  # condition on s: the outcome was assessed on the session itself
    needs_follow_up: bool = True
    reported_within_days: int | None = None
    window_days_by_indication: dict[str, tuple[int, int]] = field(default_factory=dict)
    lost_to_follow_up: str = "excluded"  # or "event"
    reference: PublishedRange | None = None
    higher_is_better: bool = False
    # the clinical problem the outcome belongs to: outcomes of one family are one problem on the signals list
    # (eyelid and brow ptosis are ptosis); an outcome of its own family leaves it empty (its key is the family)
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.key)

    @property
    def assessed(self) -> str:
        """Condition on a contact f: it assessed this outcome (principle 2: every column that records it answered)."""
        if self.assessed_sql:
            return self.assessed_sql
        if not self.assessed_by:
            return "false"
        return " AND ".join(answered(c) for c in self.assessed_by)

    @property
    def followed_agg(self) -> str | None:
        """Aggregate over contacts f: a contact inside the window assessed the outcome (principle 1: this alone makes
        a session followed up; the event never does)."""
        if not self.needs_follow_up:
            return None
        return f"bool_or({{in_window}} AND ({self.assessed}))"

    @property
    def close_days(self) -> int:
        return max(self.window_days[1], self.reported_within_days or 0)

    def close_days_sql(self, indication: str = "s.indication") -> str:
        if not self.window_days_by_indication:
            return str(self.close_days)
        whens = " ".join(f"WHEN {literal(ind)} THEN {max(w[1], self.reported_within_days or 0)}"
                         for ind, w in self.window_days_by_indication.items())
        return f"(CASE {indication} {whens} ELSE {self.close_days} END)"

    def in_window_sql(self) -> str:
        """Condition on a contact f: seen inside the window (from its start to the reporting limit)."""
        if not self.window_days_by_indication:
            return f"(f.days_after BETWEEN {self.window_days[0]} AND {self.close_days})"
        start = " ".join(f"WHEN {literal(i)} THEN {w[0]}" for i, w in self.window_days_by_indication.items())
        return (f"(f.days_after BETWEEN (CASE f.indication {start} ELSE {self.window_days[0]} END) "
                f"AND {self.close_days_sql('f.indication')})")

    def window_text(self, lang: str = "en") -> str:
        def one(w: tuple[int, int]) -> str:
            return f"{w[0]}-{w[1]}"
        if not self.needs_follow_up:
            text = f"{one(self.window_days)} days after treatment"
            return text if lang == "en" else f"{one(self.window_days)} dager etter behandling"
        parts = [f"{one(self.window_days)}"]
        for ind, w in self.window_days_by_indication.items():
            parts.append(f"{ind}: {one(w)}")
        base = ", ".join(parts)
        if lang == "en":
            text = f"{base} days after treatment"
            if self.reported_within_days and self.reported_within_days > self.window_days[1]:
                text += f", as reported at a follow-up contact up to day {self.reported_within_days}"
            return text
        text = f"{base} dager etter behandling"
        if self.reported_within_days and self.reported_within_days > self.window_days[1]:
            text += f", slik det er rapportert ved en kontroll innen dag {self.reported_within_days}"
        return text

    @property
    def watch(self) -> str:
        """clinician | clinic | case: which signals may put it on the list (WATCHED_PER_CLINICIAN, ...)."""
        if self.key in WATCHED_PER_CLINICIAN:
            return "clinician"
        return "case" if self.key in WATCHED_CASE_BY_CASE else "clinic"

    def label(self, lang: str = "en") -> str:
        return self.label_nb if lang == "nb" else self.label_en

    def description(self, lang: str = "en") -> str:
        return self.description_nb if lang == "nb" else self.description_en


# Every value the registry writes into SQL is a value of the data contract, quoted through sqltext.literal; a value
# the contract does not know is an error when this module is imported, not a rate that silently counts nothing.
_VALUES = {"indication": contract.INDICATIONS, "area": contract.AREAS, "effect": contract.EFFECTS}


def value(kind: str, text: str) -> str:
    """A contract value (an indication, area or effect) as an SQL literal."""
    if text not in _VALUES[kind]:
        raise ValueError(f"`{text}` is not a value of `{kind}` in the data contract ({', '.join(_VALUES[kind])})")
    return literal(text)


FOLLOW_UP_COLUMNS = contract.TABLES_BY_NAME["follow_ups"].column_names


def answered(column: str) -> str:
    """Condition on a contact f: its `column` was answered. A blank is no answer; `effect` is required and its blank
    is `not_assessed`."""
    if column not in FOLLOW_UP_COLUMNS:
        raise ValueError(f"`{column}` is not a column of follow_ups in the data contract")
    if column == "effect":
        return f"f.effect <> {value('effect', 'not_assessed')}"
    return f"f.{column} IS NOT NULL"


def latest(judgement: str) -> str:
    """Aggregate over contacts f: `judgement` (a boolean on f) at the latest contact inside the window that assessed
    the outcome (same-day contacts: the larger follow_up_id); false when there is none."""
    return (f"coalesce(arg_max({judgement}, (f.seen_on, f.follow_up_id)) "
            "FILTER (WHERE {in_window} AND ({assessed})), false)")


def among(column: str, kind: str, texts: tuple[str, ...]) -> str:
    """`column IN (...)` over contract values."""
    return f"{column} IN ({', '.join(value(kind, t) for t in texts)})"


def _areas_sql(areas: tuple[str, ...]) -> str:
    return "list_has_any(s.area_list, [" + ", ".join(value("area", a) for a in areas) + "])"


ALL_SESSIONS = "true"
ALL_SESSIONS_EN = "all sessions (primary and corrections)"
ALL_SESSIONS_NB = "alle behandlinger (første behandling og korrigeringer)"
UPPER_FACE = _areas_sql(contract.UPPER_FACE_AREAS)
UPPER_FACE_EN = "sessions that treated the glabella, forehead or crow's feet"
UPPER_FACE_NB = "behandlinger av sinnarynke, panne eller kråkeføtter"
FACE = _areas_sql(contract.FACE_AREAS)
PRIMARY_COSMETIC = f"s.is_primary AND s.indication = {value('indication', 'cosmetic')}"
PRIMARY_COSMETIC_EN = "primary cosmetic sessions (corrections excluded)"
PRIMARY_COSMETIC_NB = "første kosmetiske behandling (korrigeringer ikke med)"
CORRECTION_28D = "coalesce(s.first_correction_after_days <= 28, false)"
# a contact whose HDSS can judge response: a score, and a baseline of 3 or 4 (from 1 or 2 a 2-point drop is
# impossible: the scale starts at 1)
HDSS_PAIR = "(f.hdss IS NOT NULL AND f.baseline_hdss IN (3, 4))"


def flag(key: str, column: str, label_en: str, label_nb: str, description_en: str, description_nb: str,
         group: str, window: tuple[int, int], *, eligible: tuple[str, str, str] = (ALL_SESSIONS, ALL_SESSIONS_EN,
                                                                                 ALL_SESSIONS_NB),
         reported_within: int | None = 28, reference: PublishedRange | None = None, family: str = "") -> Outcome:
    """An outcome recorded as a yes/no column of follow_ups: assessed where the column is answered, the event a yes."""
    return Outcome(
        key=key, label_en=label_en, label_nb=label_nb, description_en=description_en, description_nb=description_nb,
        group=group, eligible_sql=eligible[0], eligible_en=eligible[1], eligible_nb=eligible[2],
        window_days=window, reported_within_days=reported_within, assessed_by=(column,),
        event_agg=f"bool_or({{in_window}} AND coalesce(f.{column}, false))",
        reference=reference, family=family,
    )


BRIN_2009 = "Brin et al., J Am Acad Dermatol 2009;61:961 (pooled trials, n=1,678)"
VISTABEL_SMPC = "Vistabel summary of product characteristics"
VISTABEL_SMPC_NB = "preparatomtalen for Vistabel"
NB_WORDING = {BRIN_2009: "Brin et al., J Am Acad Dermatol 2009;61:961 (samlede studier, n=1 678)",
              VISTABEL_SMPC: VISTABEL_SMPC_NB}

OUTCOMES: tuple[Outcome, ...] = (
    Outcome(
        key="insufficient_effect",
        label_en="Insufficient effect", label_nb="Manglende effekt",
        description_en="Effect judged partial or absent at the review, or a correction session within 28 days "
                       "(the nerve was only partly blocked and a repeat was needed). Followed up = the effect was "
                       "judged at a contact 10-28 days after treatment; a correction alone does not make a session "
                       "followed up (it counts in the crude rate).",
        description_nb="Effekten vurdert som delvis eller uteblitt ved kontrollen, eller en korrigering innen "
                       "28 dager (nerven ble bare delvis hemmet og behandlingen måtte gjentas). Fulgt opp = "
                       "effekten vurdert ved en kontroll 10-28 dager etter behandling; en korrigering alene gjør "
                       "ikke behandlingen fulgt opp (den telles i rå andel).",
        group="effect",
        eligible_sql=PRIMARY_COSMETIC, eligible_en=PRIMARY_COSMETIC_EN, eligible_nb=PRIMARY_COSMETIC_NB,
        window_days=(10, 28),
        assessed_by=("effect",),
        event_agg=f"bool_or({{in_window}} AND {among('f.effect', 'effect', ('partial', 'none'))})",
        session_event_sql=CORRECTION_28D,
        reference=PublishedRange(2, 17, "2-17 % depending on the threshold", "2-17 % avhengig av terskel",
                            "READY-1, Aesthet Surg J 2024 (n=297): 97.7 % at least 1 grade, 82.9 % at least 2 "
                            "grades better at month 1",
                            source_nb="READY-1, Aesthet Surg J 2024 (n=297): 97,7 % minst 1 grad, 82,9 % minst 2 "
                                      "grader bedre etter 1 måned"),
    ),
    Outcome(
        key="correction",
        label_en="Correction (free touch-up)", label_nb="Korrigering (gratis etterbehandling)",
        description_en="A correction session within 28 days of a primary session. The clinic corrects free of "
                       "charge at about two weeks, so every correction is a cost.",
        description_nb="En korrigering innen 28 dager etter første behandling. Klinikken korrigerer gratis etter "
                       "ca. to uker, så hver korrigering er en kostnad.",
        group="cost",
        eligible_sql="s.is_primary", eligible_en="primary sessions (all indications)",
        eligible_nb="første behandlinger (alle indikasjoner)",
        window_days=(0, 28), needs_follow_up=False,
        session_event_sql=CORRECTION_28D,
        reference=PublishedRange(2, 17, "2-17 % touch-ups at two weeks", "2-17 % etterbehandling etter to uker",
                            "READY-1, Aesthet Surg J 2024"),
    ),
    flag("asymmetry", "asymmetry", "Asymmetry", "Asymmetri",
         "Visible difference in effect between the two sides of the face at the review.",
         "Synlig forskjell i effekt mellom de to sidene av ansiktet ved kontrollen.",
         "effect", (10, 28), reported_within=None,
         eligible=(f"{FACE} AND {among('s.indication', 'indication', ('cosmetic', 'bruxism'))}",
                   "sessions that treated the face",
                   "behandlinger i ansiktet"),
         reference=PublishedRange(2, 4, "no robust incidence; 25 % of toxin complaints (Save Face 2017-18)",
                             "ingen sikker forekomst; 25 % av klagene (Save Face 2017-18)",
                             "no published source; clinic estimate", is_estimate=True,
                             source_nb="ingen publisert kilde; klinikkens anslag")),
    Outcome(
        key="ptosis",
        label_en="Ptosis (eyelid or brow)", label_nb="Ptose (øyelokk eller øyenbryn)",
        description_en="Drooping eyelid or brow from the toxin spreading downwards.",
        description_nb="Hengende øyelokk eller øyenbryn fordi legemiddelet har sunket nedover.",
        group="eye",
        eligible_sql=UPPER_FACE, eligible_en=UPPER_FACE_EN, eligible_nb=UPPER_FACE_NB,
        window_days=(0, 28), assessed_by=("eyelid_ptosis", "brow_ptosis"),
        event_agg="bool_or({in_window} AND (coalesce(f.eyelid_ptosis, false) OR coalesce(f.brow_ptosis, false)))",
        reference=PublishedRange(0.5, 5.4, "0.5-5.4 % (eyelid 1.2 %, brow 0.6 % pooled)",
                            "0,5-5,4 % (øyelokk 1,2 %, øyenbryn 0,6 % samlet)",
                            BRIN_2009 + "; first glabellar RCT 5.4 %",
                            source_nb=BRIN_2009 + "; første glabella-RCT 5,4 %"),
    ),
    flag("eyelid_ptosis", "eyelid_ptosis", "Eyelid ptosis", "Hengende øyelokk",
         "Drooping upper eyelid.", "Hengende øvre øyelokk.", "eye", (0, 28), reported_within=None,
         eligible=(UPPER_FACE, UPPER_FACE_EN, UPPER_FACE_NB),
         reference=PublishedRange(0.5, 5.4, "0.5-5.4 %; SmPC: common (1-10 %)", "0,5-5,4 %; preparatomtale: vanlig",
                             BRIN_2009 + "; " + VISTABEL_SMPC, source_nb=BRIN_2009 + "; " + VISTABEL_SMPC_NB),
         family="ptosis"),
    flag("brow_ptosis", "brow_ptosis", "Brow ptosis", "Hengende øyenbryn",
         "Drooping brow.", "Hengende øyenbryn.", "eye", (0, 28), reported_within=None,
         eligible=(UPPER_FACE, UPPER_FACE_EN, UPPER_FACE_NB),
         reference=PublishedRange(0.6, 0.6, "about 0.6 %", "omtrent 0,6 %", BRIN_2009), family="ptosis"),
    flag("dry_eye", "dry_eye", "Dry eyes", "Tørre øyne",
         "Dry eyes after the toxin reached the eye muscles.", "Tørre øyne etter at legemiddelet nådde øyemusklene.",
         "eye", (0, 28), reported_within=None, eligible=(UPPER_FACE, UPPER_FACE_EN, UPPER_FACE_NB),
         reference=PublishedRange(1, 10, "common (1-10 %)", "vanlig (1-10 %)", VISTABEL_SMPC,
                                  source_nb=VISTABEL_SMPC_NB)),
    flag("double_vision", "double_vision", "Double vision", "Dobbeltsyn",
         "Double or blurred vision.", "Dobbeltsyn eller tåkesyn.", "eye", (0, 28), reported_within=None,
         eligible=(UPPER_FACE, UPPER_FACE_EN, UPPER_FACE_NB),
         reference=PublishedRange(0.1, 1, "0.1-1 %", "0,1-1 %", VISTABEL_SMPC + "; " + BRIN_2009,
                                  source_nb=VISTABEL_SMPC_NB + "; " + BRIN_2009)),
    flag("bruising", "bruising", "Bruising", "Blåmerke",
         "A bruise (haematoma) at an injection site in the first week.",
         "Blåmerke ved et innstikksted den første uken.", "injection_site", (0, 7),
         reference=PublishedRange(3, None, "about 3 % in trials; higher when patients are asked",
                             "omtrent 3 % i studier; høyere når pasienten blir spurt", BRIN_2009)),
    flag("bleeding", "bleeding", "Bleeding", "Blødning",
         "Bleeding at an injection site beyond a drop, in the first week.",
         "Blødning fra et innstikksted utover en dråpe, den første uken.", "injection_site", (0, 7),
         reference=PublishedRange(None, None, "no published rate; use the clinic's own baseline",
                             "ingen publisert forekomst; bruk klinikkens egen", "none")),
    flag("pain", "pain", "Pain at the injection site", "Smerte ved innstikkstedet",
         "Pain at an injection site beyond the injection itself, in the first week.",
         "Smerte ved et innstikksted utover selve stikket, den første uken.", "injection_site", (0, 7),
         reference=PublishedRange(1.6, 10, "1.6 % in trials; SmPC up to more than 10 %",
                             "1,6 % i studier; preparatomtalen opptil over 10 %", BRIN_2009 + "; " + VISTABEL_SMPC,
                             source_nb=BRIN_2009 + "; " + VISTABEL_SMPC_NB)),
    flag("itching", "itching", "Itching", "Kløe",
         "Itching at an injection site in the first week.", "Kløe ved et innstikksted den første uken.",
         "injection_site", (0, 7),
         reference=PublishedRange(None, None, "no published rate; use the clinic's own baseline",
                             "ingen publisert forekomst; bruk klinikkens egen", "none")),
    flag("infection", "infection", "Infection", "Infeksjon",
         "Infection at an injection site within two weeks.", "Infeksjon ved et innstikksted innen to uker.",
         "injection_site", (0, 14),
         reference=PublishedRange(None, None, "rare; no published rate", "sjelden; ingen publisert forekomst", "none")),
    flag("allergic_reaction", "allergic_reaction", "Allergic reaction", "Allergisk reaksjon",
         "Allergic reaction (strong swelling, redness or severe headache) within three days.",
         "Allergisk reaksjon (kraftig hevelse, rødhet eller sterk hodepine) innen tre døgn.", "systemic", (0, 3),
         reference=PublishedRange(None, 0.1, "rare (below 0.1 %)", "sjelden (under 0,1 %)", "product SmPCs",
                                  source_nb="preparatomtalene")),
    Outcome(
        key="unsatisfactory_result",
        label_en="Unsatisfactory result", label_nb="Ikke-tilfredsstillende resultat",
        description_en="The patient rated satisfaction 1 or 2 of 5 at a follow-up contact.",
        description_nb="Pasienten ga 1 eller 2 av 5 i tilfredshet ved en kontroll.",
        group="effect",
        eligible_sql="s.is_primary", eligible_en="primary sessions (all indications)",
        eligible_nb="første behandlinger (alle indikasjoner)",
        window_days=(7, 42),
        assessed_by=("satisfaction",),
        event_agg="bool_or({in_window} AND f.satisfaction <= 2)",
        reference=PublishedRange(None, None, "no published rate; named as a risk in the patient information",
                            "ingen publisert forekomst; nevnt som risiko i pasientinformasjonen", "none"),
    ),
    Outcome(
        key="headache_non_response",
        label_en="Headache non-response", label_nb="Manglende bedring av hodepine",
        description_en="Headache days per month at follow-up not at least 50 % below the baseline diary "
                       "(migraine at 10-12 weeks, tension headache at 4-12 weeks); with several contacts in the "
                       "window the latest one with a headache-days count decides. Patients lost to follow-up "
                       "count as non-responders.",
        description_nb="Hodepinedager per måned ved kontroll ikke minst 50 % lavere enn før behandling (migrene "
                       "etter 10-12 uker, spenningshodepine etter 4-12 uker); ved flere kontroller i vinduet "
                       "avgjør den siste med antall hodepinedager. Pasienter uten kontroll regnes som uten bedring.",
        group="response",
        eligible_sql=f"s.is_primary AND {among('s.indication', 'indication', ('migraine', 'tension_headache'))} "
                     "AND s.baseline_headache_days > 0",
        eligible_en="primary migraine and tension-headache sessions with a baseline headache diary",
        eligible_nb="første behandling for migrene og spenningshodepine med hodepinedagbok før behandling",
        window_days=(28, 84), window_days_by_indication={"migraine": (70, 84)},
        assessed_by=("headache_days",),
        event_agg=latest("f.headache_days > 0.5 * f.baseline_headache_days"),
        lost_to_follow_up="event",
        reference=PublishedRange(55.2, 55.2, "55.2 % non-responders on treatment (44.8 % responders vs 34.2 % on "
                            "placebo); no published figure for tension headache",
                            "55,2 % uten bedring (44,8 % med bedring mot 34,2 % på placebo); ingen tall for "
                            "spenningshodepine", "Diener et al., Pain Ther 2020 (pooled PREEMPT, N=1,384), "
                            "chronic migraine at week 24",
                            source_nb="Diener et al., Pain Ther 2020 (samlet PREEMPT, N=1 384), kronisk migrene "
                                      "ved uke 24"),
    ),
    Outcome(
        key="hyperhidrosis_non_response",
        label_en="Sweating non-response", label_nb="Manglende effekt på svetting",
        description_en="Hyperhidrosis severity (HDSS) not down by at least 2 points at 2-6 weeks, from a baseline "
                       "HDSS of 3 or 4; otherwise (lower or no baseline, or no score at the contact) the effect not "
                       "judged full. The latest contact in the window with a usable HDSS pair or an effect "
                       "judgement decides; with neither the session is not followed up.",
        description_nb="Alvorlighetsgrad (HDSS) ikke redusert med minst 2 poeng etter 2-6 uker, fra HDSS 3 eller 4 "
                       "før behandling; ellers (lavere eller manglende utgangsverdi, eller ingen skår ved kontrollen) "
                       "effekten ikke vurdert som full. Siste kontroll i vinduet med brukbart HDSS-par eller "
                       "effektvurdering avgjør; uten noen av dem er behandlingen ikke fulgt opp.",
        group="response",
        eligible_sql=f"s.is_primary AND s.indication = {value('indication', 'hyperhidrosis')}",
        eligible_en="primary hyperhidrosis sessions", eligible_nb="første behandling for hyperhidrose",
        window_days=(14, 42),
        assessed_by=("hdss", "effect"), assessed_sql=f"({HDSS_PAIR} OR {answered('effect')})",
        event_agg=latest(f"CASE WHEN {HDSS_PAIR} THEN f.hdss > f.baseline_hdss - 2 "
                         f"ELSE f.effect <> {value('effect', 'full')} END"),
        reference=PublishedRange(25, 25, "25 % non-responders on the HDSS endpoint (75 % had HDSS at least 2 "
                            "points better at week 4, 25 % on placebo; baseline HDSS 3-4). For context: on sweat "
                            "weight (at least 50 % less) 94 % responded (Naumann & Lowe, BMJ 2001)",
                            "25 % uten effekt målt med HDSS (75 % fikk HDSS minst 2 poeng bedre etter 4 uker, 25 % "
                            "på placebo; HDSS 3-4 før behandling). Til sammenligning: målt som svettevekt (minst "
                            "50 % mindre) fikk 94 % effekt (Naumann & Lowe, BMJ 2001)",
                            "Lowe et al., J Am Acad Dermatol 2007;56:604-611 (N=322, 52-week RCT, axillary "
                            "hyperhidrosis, 50 or 75 U per axilla)",
                            source_nb="Lowe et al., J Am Acad Dermatol 2007;56:604-611 (N=322, randomisert studie "
                                      "over 52 uker, svette i armhulene, 50 eller 75 E per armhule)"),
    ),
    Outcome(
        key="secondary_non_response",
        label_en="Secondary non-response (suspected antibodies)",
        label_nb="Sekundær svikt (mistenkte antistoffer)",
        description_en="No effect at the review in a patient who had full effect from a treatment on an earlier "
                       "day: antibodies against the toxin are suspected. Areas treated the same day are one visit.",
        description_nb="Ingen effekt ved kontroll hos en pasient som hadde full effekt av en behandling en tidligere "
                       "dag: antistoffer mot legemiddelet mistenkes. Områder behandlet samme dag er ett besøk.",
        group="effect",
        eligible_sql="s.is_primary AND s.responded_before",
        eligible_en="primary sessions of patients with full effect from a primary session on an earlier day",
        eligible_nb="første behandlinger hos pasienter som hadde full effekt av en første behandling en tidligere "
                    "dag",
        window_days=(10, 28),
        assessed_by=("effect",),
        event_agg=f"bool_or({{in_window}} AND f.effect = {value('effect', 'none')})",
        reference=PublishedRange(0, 1, "0-1 % in cosmetic use", "0-1 % ved kosmetisk bruk",
                            "Rahman et al., Plast Reconstr Surg 2022;149:837"),
    ),
    Outcome(
        key="treated_despite_risk",
        label_en="Treated despite a listed risk", label_nb="Behandlet tross kjent risiko",
        description_en="Session given to a patient recorded with a neuromuscular disease, aminoglycoside "
                       "antibiotics, or pregnancy / breastfeeding. A safety count to review case by case; "
                       "'followed up' here means all three risk questions were answered.",
        description_nb="Behandling gitt til en pasient registrert med nevromuskulær sykdom, aminoglykosid-"
                       "antibiotika eller graviditet / amming. En sikkerhetstelling som gjennomgås sak for sak; "
                       "'fulgt opp' betyr her at alle tre risikospørsmålene er besvart.",
        group="safety",
        eligible_sql=ALL_SESSIONS, eligible_en=ALL_SESSIONS_EN, eligible_nb=ALL_SESSIONS_NB,
        window_days=(0, 0), needs_follow_up=False,
        session_assessed_sql="(s.neuromuscular_disease IS NOT NULL AND s.aminoglycoside_antibiotics IS NOT NULL "
                             "AND s.pregnant_or_breastfeeding IS NOT NULL)",
        session_event_sql="(coalesce(s.neuromuscular_disease, false) OR coalesce(s.aminoglycoside_antibiotics, "
                          "false) OR coalesce(s.pregnant_or_breastfeeding, false))",
        reference=PublishedRange(0, 0, "should be 0 unless documented", "bør være 0 med mindre begrunnet",
                            "patient information sheet; product SmPCs",
                            source_nb="pasientinformasjonen; preparatomtalene"),
    ),
    Outcome(
        key="expired_lot",
        label_en="Treated with an expired lot", label_nb="Behandlet med utløpt parti",
        description_en="Session treated after the expiry date of its lot (`treated_on` after `lot_expiry`). A "
                       "safety count to review case by case; 'followed up' here means the lot's expiry date was "
                       "recorded: a session without it is not assessed (a blank is not a no).",
        description_nb="Behandling gitt etter utløpsdatoen til partiet (`treated_on` etter `lot_expiry`). En "
                       "sikkerhetstelling som gjennomgås sak for sak; 'fulgt opp' betyr her at partiets "
                       "utløpsdato er registrert: en behandling uten den er ikke vurdert (blankt er ikke nei).",
        group="safety",
        eligible_sql=ALL_SESSIONS, eligible_en=ALL_SESSIONS_EN, eligible_nb=ALL_SESSIONS_NB,
        window_days=(0, 0), needs_follow_up=False,
        session_assessed_sql="(s.lot_expiry IS NOT NULL)",
        session_event_sql="(s.treated_on > s.lot_expiry)",
        reference=PublishedRange(0, 0, "should be 0: an expired product is not used", "bør være 0: utløpt "
                            "legemiddel brukes ikke", "product SmPCs (shelf life)"),
    ),
)

WATCH_LEVELS = ("clinician", "clinic", "case")
# The outcomes each clinician is watched for (funnel and CUSUM on the signals list): common enough for a
# doubling to show within months at one clinician's volume, and something a clinician's technique changes.
# Correction is the cost side of insufficient effect (watched per clinician); ptosis (eyelid or brow) is watched
# through eyelid ptosis, its common part, so one problem does not raise two alarms.
WATCHED_PER_CLINICIAN = ("insufficient_effect", "asymmetry", "eyelid_ptosis", "bruising", "unsatisfactory_result")
# Too rare (or too grave) for a rate to be the alarm: each event is for review, case by case.
WATCHED_CASE_BY_CASE = ("double_vision", "infection", "allergic_reaction", "secondary_non_response",
                        "treated_despite_risk", "expired_lot")

OUTCOMES_BY_KEY: dict[str, Outcome] = {o.key: o for o in OUTCOMES}
# every family is named by an outcome of its own key (its label is the family's label on the signals list)
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(o.family for o in OUTCOMES))
if not set(FAMILIES) <= set(OUTCOMES_BY_KEY):
    raise ValueError(f"an outcome family must be the key of an outcome: {sorted(set(FAMILIES) - set(OUTCOMES_BY_KEY))}")
GROUPS = ("effect", "cost", "eye", "injection_site", "systemic", "response", "safety")


class UnknownOutcome(UserError, ValueError):
    """An outcome key that is not in the registry (the message lists the keys)."""


def get(key: str) -> Outcome:
    try:
        return OUTCOMES_BY_KEY[key]
    except KeyError:
        raise UnknownOutcome(f"unknown outcome `{key}`; choose one of: {', '.join(OUTCOMES_BY_KEY)}") from None
