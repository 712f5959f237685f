"""The Norwegian wording of an export: column headers, provenance labels, the suppression marker, yes / no.

An export is written in English (`lang="en"`, the default: the column names of docs/metrics.md, which scripts read)
or in Norwegian (`lang="nb"`: the Export page in Norwegian, and `python -m pipelines export --excel` unless
`--lang en`). Only the words change: the rows, their order and the figures are the same in both.

`Said(en, nb)` is a provenance value with both wordings: it *is* the English text (a `str`), so code that reads a
provenance value as text keeps working, and the writer (pipelines.release.export.to_csv_text) picks `.nb` for a
Norwegian file. A value that is not a `Said` (a code such as `arcsine`, a number, a date, a user name) is written
as it is in both languages.
"""

from __future__ import annotations

from pipelines.metrics import registry

LANGS = ("en", "nb")


class Said(str):
    """A text in English (the str value) and in Norwegian (`.nb`)."""

    nb: str

    def __new__(cls, en: str, nb: str) -> Said:
        obj = super().__new__(cls, en)
        obj.nb = nb
        return obj

    def __reduce__(self):  # pickles (st.cache_data) with both wordings
        return (Said, (str(self), self.nb))

    def in_lang(self, lang: str) -> str:
        return self.nb if lang == "nb" else str(self)


def in_lang(value: object, lang: str) -> object:
    """A provenance value in `lang` (a Said picks its wording; anything else is returned as it is)."""
    return value.in_lang(lang) if isinstance(value, Said) else value


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown export language `{lang}`; choose one of: {', '.join(LANGS)}")
    return lang


YES_NO = {"en": ("yes", "no"), "nb": ("ja", "nei")}
SUPPRESSED = {"en": "suppressed", "nb": "skjult"}  # the marker of a hidden cell (disclosure.MARK, records)
# cell values that are codes of a side or a level: written in Norwegian in a Norwegian file
VALUES_NB = {"high": "høy", "low": "lav"}

# every column of every export kind (pipelines.release.export *_COLUMNS, costs.COST_COLUMNS, records) -> Norwegian
COLUMNS_NB: dict[str, str] = {
    # groups and dates
    "period_start": "periodestart", "month": "måned", "clinician": "behandler", "indication": "indikasjon",
    "product": "preparat", "area": "område", "areas": "områder", "treated_on": "behandlingsdato",
    # rates
    "numerator_n": "teller", "denominator_n": "nevner", "rate": "andel", "ci_low": "ki_nedre", "ci_high": "ki_øvre",
    "followup_completeness": "andel_fulgt_opp", "metric": "mål", "eligible_n": "aktuelle",
    "followed_up_n": "fulgt_opp",
    "event_n": "hendelser", "awaiting_n": "venter_på_vindu", "crude_rate": "rå_andel",
    "crude_event_n": "rå_hendelser", "is_low_completeness": "lav_oppfølging",
    # funnel
    "target": "klinikkens_andel", "lcl_95": "nedre_grense_95", "ucl_95": "øvre_grense_95",
    "lcl_998": "nedre_grense_99_8", "ucl_998": "øvre_grense_99_8", "flag": "flagg", "phi": "phi_overspredning",
    "tau2": "tau2", "z": "z", "flag_95": "flagg_95", "method": "metode",
    "overdispersion_applied": "overspredning_brukt",
    "flag_funnelplotr": "flagg_funnelplotr",
    # control charts
    "cl": "senterlinje", "lcl": "nedre_kontrollgrense", "ucl": "øvre_kontrollgrense", "sigma_signal": "signal_3_sigma",
    "runs_signal": "signal_serieregler", "longest_run": "lengste_serie", "longest_run_max": "lengste_serie_grense",
    "crossings": "kryssinger", "crossings_min": "kryssinger_minst", "part": "del", "baseline": "grunnlinje",
    "astronomical": "astronomisk_punkt", "shift": "skift", "trend": "trend", "two_of_three": "to_av_tre",
    "signal": "signal", "signal_rules": "signalregler", "period_closed": "periode_lukket",
    "event_date": "hendelsesdato", "sessions_between": "behandlinger_mellom", "n_useful": "nyttige_punkter",
    # CUSUM
    "cusum": "cusum", "threshold": "terskel", "outcome": "utfall", "expected": "forventet",
    "sessions_n": "behandlinger", "weight": "vekt",
    # O/E
    "observed_n": "observert", "expected_n": "forventet", "oe_ratio": "o_e",
    # costs
    "correction_n": "korrigeringer", "correction_cost_nok": "korrigeringskostnad_kr",
    "primary_n": "første_behandlinger", "cost_per_100_primary_nok": "kostnad_per_100_første_behandlinger_kr",
    "revenue_nok": "omsetning_kr", "cost_share": "andel_av_omsetning", "product_cost_nok": "preparatkostnad_kr",
    "chair_cost_nok": "stoltid_kr", "consumables_nok": "forbruksmateriell_kr", "unpriced_n": "uten_pris",
    "unknown_chair_time_n": "ukjent_stoltid", "late_correction_n": "korrigeringer_etter_28_dager",
    # signals
    "kind": "type", "rule": "regel", "direction": "retning", "concern": "bekymring", "first_date": "første_dato",
    "last_date": "siste_dato", "signals_n": "signaler", "value": "verdi", "limit": "grense", "rare": "sjelden",
    # records
    "patient_key": "pasientnøkkel", "session_key": "behandlingsnøkkel", "units": "enheter",
    "is_primary": "første_behandling", "is_repeat": "gjentatt", "age_band": "aldersgruppe", "sex": "kjønn",
    # adverse events (pipelines/release/adverse_events.py EXPORT_COLUMNS)
    "reaction": "reaksjon", "draft_number": "utkastnummer", "onset_on": "først_registrert",
    "days_to_onset": "dager_til_registrert", "reaction_outcome": "forløp", "outcome_on": "forløp_dato",
    "is_off_label": "utenfor_godkjent_bruk", "report_status": "meldestatus", "reported_on": "meldt_dato",
    "report_reference": "meldereferanse", "recorded_by": "registrert_av",
    # a release
    "suppression": "skjuling",
}
RECORD_FLAGS_NB = {"in_denominator": "i_nevner", "in_numerator": "i_teller"}  # records: <outcome>__<flag>


def column(name: str, lang: str) -> str:
    """A column's header in `lang`: the name itself in English; its Norwegian name (records' outcome flags as
    `<outcome>__i_nevner`, the outcome key kept: it names the registry's outcome) in Norwegian."""
    if lang != "nb":
        return name
    if name in COLUMNS_NB:
        return COLUMNS_NB[name]
    outcome, sep, flag = name.rpartition("__")
    if sep and outcome in registry.OUTCOMES_BY_KEY and flag in RECORD_FLAGS_NB:
        return f"{outcome}__{RECORD_FLAGS_NB[flag]}"
    return name


# the provenance lines' labels (pipelines.release.export.provenance, build.KINDS options, records, a release)
PROVENANCE_NB: dict[str, str] = {
    "export": "eksport", "outcome": "utfall", "eligible": "aktuelle", "window": "vindu",
    "lost_to_follow_up": "ikke_fulgt_opp", "as_of": "telt_per", "filters": "filtre",
    "snapshot_version": "datasett_versjon", "snapshot_published_at": "datasett_publisert",
    "generated_at": "laget", "generated_by": "laget_av",
    "by": "etter", "period": "periode", "interval": "intervall", "low_completeness": "lav_oppfølging",
    "method": "metode", "overdispersion": "overspredning", "flag": "flagg", "expected": "forventet",
    "left_out_of_reference": "utelatt_fra_referansen", "chart": "diagram", "rules": "regler", "freeze": "låst",
    "judged": "vurdert", "consumables_nok": "forbruksmateriell_kr", "corrections": "korrigeringer",
    "unknown_parts": "ukjente_deler", "listed": "listet", "episode": "episode", "budget": "budsjett",
    "pseudonymisation": "pseudonymisering", "k_anonymity": "k_anonymitet", "generalised": "generalisert",
    "locally_suppressed": "skjult_lokalt", "rows_left_out": "rader_utelatt", "row_order": "radrekkefølge",
    "odds_ratio": "odds_ratio", "in_control_arl": "arl_i_kontroll", "reset": "nullstilles",
    "updated": "oppdateres", "expected_risk": "forventet_risiko", "threshold": "terskel", "weight": "vekt",
    "release_period": "utleveringsperiode", "suppression": "skjuling", "rounding": "avrunding",
    "release": "utlevering", "off_label": "utenfor_godkjent_bruk", "report_status": "meldestatus",
    "status_unreadable_lines": "uleselige_linjer_i_meldefilen",
}


# option codes written in a provenance line (--by, --period): their Norwegian words
CODES_NB = {"month": "måned", "quarter": "kvartal", "year": "år", "week": "uke", "all": "hele perioden",
            "clinician": "behandler", "product": "preparat", "indication": "indikasjon", "area": "område"}


def code(value: str | None) -> object:
    """An option code for a provenance line, with its Norwegian word where there is one ('' for None)."""
    if not value:
        return ""
    return Said(value, CODES_NB[value]) if value in CODES_NB else value


def provenance_key(key: str, lang: str) -> str:
    return PROVENANCE_NB.get(key, key) if lang == "nb" else key
