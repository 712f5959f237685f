"""One export builder for the command line and the dashboard: `build(con, kind, options) -> (frame, provenance)`.

`python -m pipelines export` (pipelines/release/cli.py) parses its arguments into an `ExportOptions`, and the
Export page (dashboard/pages/export.py, through dashboard/data.py) builds the same object from its widgets; both
call `build` and write its frame and provenance with `pipelines.release.export.to_csv_bytes`. What differs between
the kinds lives in one table (`KINDS`: kind -> its provenance options and its frame); a release (`options.release`,
disclosure control) and the record export go through the same function, so the two front ends cannot drift apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.errors import UserError
from pipelines.metrics import analysis, costs, counting, registry
from pipelines.metrics.counting import Filters
from pipelines.release import disclosure, export, norwegian, records
from pipelines.release.norwegian import Said

BY_CHOICES = {"rates": ("clinician", "indication", "product", "area", "lot", "dilution", "dose_band"),
              "funnel": analysis.FUNNEL_BY, "costs": tuple(costs.COST_GROUPS)}
PERIOD_CHOICES = {"rates": ("month", "quarter", "year", "all"), "spc": ("week", "month", "quarter")}
NEEDS_OUTCOME = ("rates", "funnel", "oe", "spc", "cusum")
INTERNAL_NOTE = Said("internal: small cells not suppressed; not for use outside the clinic",
                     "intern: små celler er ikke skjult; ikke til bruk utenfor klinikken")


class ExportOptionError(UserError, ValueError):
    """Options that do not fit the export kind (the message says what to change)."""


@dataclass(frozen=True)
class ExportOptions:
    """Everything an export depends on besides its kind and the snapshot. None means "the kind's default"."""

    outcome: str | None = None  # rates, funnel, oe, spc, cusum: the registry key
    by: str | None = None  # rates: a grouping column; funnel: clinician | lot | product; costs: month | ...
    lot: str | None = None  # recall: the lot number (matched as stored: upper case)
    period: str | None = None  # rates: month | quarter | year | all; spc: week | month | quarter (default month)
    method: str = "arcsine"  # funnel limits
    overdispersion: str = "auto"  # funnel adjustment
    chart: str = "p"  # spc: p or pp (Laney p'), or g (sessions between events: one row per event)
    rules: str = "anhoej"  # spc: anhoej or mdc
    freeze: int | None = None  # spc: centre line and limits from the first N points
    consumables_nok: float | None = None  # costs: consumables per correction (default costs.DEFAULT_CONSUMABLES_NOK)
    # rates, funnel, spc: follow-up completeness below this share is marked is_low_completeness
    min_completeness: float = analysis.LOW_COMPLETENESS_BELOW
    filters: Filters = field(default_factory=Filters)
    as_of: dt.date | None = None  # default: the newest date in the data (a release: its newest month end)
    release: disclosure.Rule | None = None  # a file for use outside the clinic under this suppression rule
    internal: bool = False  # say in the provenance that the file is unsuppressed (the Export page's internal files)
    excel: bool = False  # Norwegian Excel's dialect when written
    # the file's words (headers, provenance, suppression marker, yes / no): "en" | "nb" (norwegian.py); the CLI's
    # --excel defaults to "nb", the Export page uses its own language for an Excel file
    lang: str = "en"
    user: str | None = None  # generated_by (default: the OS account running the process)
    database: Path | None = None  # the database the CLI reads (never written into the file: the snapshot version is)

    def row_period(self, kind: str) -> str | None:
        """The period of the rows of `kind` (None for kinds without one)."""
        return (self.period or "month") if kind in PERIOD_CHOICES else None


@dataclass(frozen=True)
class Kind:
    """What makes one export kind: its provenance options, and its frame (with provenance learned building it)."""

    options: Callable[[ExportOptions], dict[str, object]]
    frame: Callable[[duckdb.DuckDBPyConnection, ExportOptions, dt.date], tuple[pd.DataFrame, dict[str, object]]]


def _low_completeness(o: ExportOptions) -> Said:
    share = f"{o.min_completeness:g}"
    return Said(f"is_low_completeness = follow-up completeness below {share}",
                f"lav_oppfølging = andel fulgt opp under {share.replace('.', ',')}")


def _rates_options(o: ExportOptions) -> dict[str, object]:
    return {"by": norwegian.code(o.by), "period": norwegian.code(o.row_period("rates")),
            "interval": Said("Wilson score 95 %", "Wilson 95 %"),
            "low_completeness": _low_completeness(o)}


def _rates(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    return export.rates_frame(con, o.outcome, by=o.by, period=o.row_period("rates"), filters=o.filters,
                              as_of=as_of, low_completeness_below=o.min_completeness), {}


def _funnel_options(o: ExportOptions) -> dict[str, object]:
    by = {"by": o.by} if o.by else {}
    return {**by, "method": o.method, "overdispersion": o.overdispersion,
            "flag": Said("outside the 99.8 % limits", "utenfor 99,8 %-grensene"),
            "low_completeness": _low_completeness(o)}


def _funnel(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    return export.funnel_frame(con, o.outcome, method=o.method, overdispersion=o.overdispersion, filters=o.filters,
                               as_of=as_of, low_completeness_below=o.min_completeness, by=o.by or "clinician"), {}


def _oe_options(o: ExportOptions) -> dict[str, object]:
    shrink = f"{analysis.CASE_MIX_SHRINK_SESSIONS:g}"
    return {"expected": Said(
                "indirect standardisation over the strata indication x areas x product x first/repeat: each "
                "session's risk is its stratum's rate among the OTHER clinicians' sessions (leave-one-out) in the "
                "date range (the other filters choose whose rows are reported, never the reference), shrunk towards "
                f"their overall rate by {shrink} pseudo-sessions",
                "indirekte standardisering over gruppene indikasjon x områder x preparat x første/gjentatt: hver "
                "behandlings risiko er gruppens andel blant de ANDRE behandlernes behandlinger (utelat-én) i "
                "perioden (de andre filtrene velger hvilke rader som vises, aldri referansen), trukket mot deres "
                f"samlede andel med {shrink} pseudobehandlinger"),
            "interval": Said("exact Poisson 95 % (Garwood), the expected count taken as fixed",
                             "eksakt Poisson 95 % (Garwood), med forventet antall som fast"),
            "flag": Said("outside the 99.8 % limits of the funnel of standardised ratios (FunnelPlotR SHMI, "
                         "overdispersion auto)",
                         "utenfor 99,8 %-grensene i traktdiagrammet for standardiserte forhold (FunnelPlotR SHMI, "
                         "overspredning auto)")}


def _oe(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    frame, excluded = export.oe_frame(con, o.outcome, filters=o.filters, as_of=as_of)
    listed = "|".join(export.escape_text(c, also="/") for c in excluded)
    return frame, {"left_out_of_reference": Said(
        f"{listed or 'none'} (O/E outside the exact Poisson 99.8 % limits against everyone else in a first pass)",
        f"{listed or 'ingen'} (O/E utenfor de eksakte Poisson 99,8 %-grensene mot alle andre i en første runde)")}


def _spc_options(o: ExportOptions) -> dict[str, object]:
    return {"chart": o.chart, "period": norwegian.code(o.row_period("spc")), "rules": o.rules, "freeze": o.freeze or "",
            "parts": Said("a process change with rebase = yes starts a new part (centre line, limits and rules per "
                          "part)", "en prosessendring med rebase = ja starter en ny del (senterlinje, grenser og "
                          "regler per del)"),
            "assurance": Said("target against the latest closed period's process limits (Making Data Count)",
                              "målet mot prosessgrensene i siste lukkede periode (Making Data Count)"),
            "judged": Said("closed periods only (period_closed: every window closed at the as-of date)",
                           "bare lukkede perioder (periode_lukket: hvert vindu lukket på telledatoen)"),
            "low_completeness": _low_completeness(o)}


def _g_options(o: ExportOptions) -> dict[str, object]:
    return {"chart": "g",
            "rows": Said("one per event, in treatment order (sessions of the same day by treatment_id)",
                         "én per hendelse, i behandlingsrekkefølge (behandlinger samme dag etter treatment_id)"),
            "sessions_between": Said("the followed-up sessions with a closed window and without the event since "
                                     "the previous event (the first event: since the first session counted)",
                                     "behandlingene fulgt opp med lukket vindu og uten hendelsen siden forrige "
                                     "hendelse (første hendelse: siden første behandling som telles)"),
            "limits": Said("qicharts2 g-chart: ucl = mean + 3 sqrt(mean (mean + 1)), lcl the same below, floored at "
                           "0; centre line cl = the median; Anhoej run rules against the median",
                           "qicharts2 g-diagram: ucl = snitt + 3 sqrt(snitt (snitt + 1)), lcl tilsvarende under, "
                           "minst 0; senterlinjen cl = medianen; Anhøjs serieregler mot medianen"),
            "parts": Said("a process change with rebase = yes starts a new part at the first event on or after it",
                          "en prosessendring med rebase = ja starter en ny del ved første hendelse på eller etter "
                          "den")}


def _spc_or_g_options(o: ExportOptions) -> dict[str, object]:
    return _g_options(o) if o.chart == "g" else _spc_options(o)


def _spc(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    if o.chart == "g":
        frame = export.g_frame(con, o.outcome, filters=o.filters, as_of=as_of)
        return frame, {"sessions_since_last_event": frame.attrs.get("sessions_since_last", 0)}
    return export.spc_frame(con, o.outcome, chart=o.chart, period=o.row_period("spc"), rules=o.rules,
                            freeze=o.freeze, filters=o.filters, as_of=as_of,
                            low_completeness_below=o.min_completeness), {}


def _consumables_nok(o: ExportOptions) -> float:
    return costs.DEFAULT_CONSUMABLES_NOK if o.consumables_nok is None else o.consumables_nok


def _costs_options(o: ExportOptions) -> dict[str, object]:
    return {"by": norwegian.code(o.by or "month"), "consumables_nok": _consumables_nok(o),
            "corrections": Said(costs.SCOPE_TEXT, costs.SCOPE_TEXT_NB),
            "unknown_parts": Said(costs.UNKNOWN_TEXT, costs.UNKNOWN_TEXT_NB)}


def _costs(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    return export.costs_frame(con, by=o.by or "month", consumables_nok=_consumables_nok(o), filters=o.filters,
                              as_of=as_of), {}


def _cusum(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    return export.cusum_frame(con, o.outcome, filters=o.filters, as_of=as_of), {}


def _signals_options(o: ExportOptions) -> dict[str, object]:
    from pipelines.metrics import episodes, signals
    from pipelines.metrics import registry as reg

    watched = "|".join(reg.WATCHED_PER_CLINICIAN)
    odds, arl = f"{analysis.CUSUM_ODDS_RATIO:g}", analysis.CUSUM_ARL0
    gap, budget = episodes.CUSUM_EPISODE_GAP_DAYS, signals.FALSE_ALARM_BUDGET_PER_36_MONTHS
    arl_nb = f"{arl:,.0f}".replace(",", "\u00a0")
    return {"listed": Said(
                "control charts of the outcomes watched per clinician or per clinic (3-sigma and Anhoej run rules, "
                "closed periods, at least one expected event per period); funnel (99.8 %) and CUSUM (odds ratio "
                f"{odds}, in-control run length {arl:,.0f} sessions) of the outcomes watched per clinician: {watched}",
                "kontrolldiagrammer for utfallene som følges per behandler eller for klinikken (3-sigma og Anhøjs "
                "serieregler, lukkede perioder, minst én forventet hendelse per periode); traktdiagram (99,8 %) og "
                f"CUSUM (oddsforhold {odds.replace('.', ',')}, forventet antall behandlinger før falsk alarm "
                f"{arl_nb}) for utfallene som følges per behandler: {watched}"),
            "episode": Said("consecutive flagged periods of one rule; CUSUM crossings of one chart within "
                            f"{gap} days of each other; one funnel flag per clinician",
                            "påfølgende flaggede perioder for én regel; CUSUM-kryssinger i ett diagram innen "
                            f"{gap} dager etter hverandre; ett traktflagg per behandler"),
            "budget": Said(f"at most {budget} concerning episodes in 36 months in an in-control clinic of the "
                           "demo's size (docs/signal-budget.md)",
                           f"høyst {budget} bekymringsfulle episoder på 36 måneder i en klinikk uten reelle "
                           "endringer, av demoens størrelse (docs/signal-budget.md)")}


def _cusum_options(o: ExportOptions) -> dict[str, object]:
    """analysis.cusum_provenance() with a Norwegian wording beside each English text."""
    nb = {"reset": "til 0 etter hvert signal",
          "updated": "én gang per behandling, i behandlingsrekkefølge (behandlinger samme dag etter treatment_id); "
                     "én rad per behandling",
          "expected_risk": "andelen i gruppen (indikasjon x områder x preparat x første/gjentatt) blant de andre "
                           "behandlernes behandlinger med lukket vindu på behandlingsdagen, trukket mot deres "
                           f"samlede andel med {analysis.CUSUM_SHRINK_SESSIONS:g} pseudobehandlinger; "
                           "behandlingene telles fra referansen har "
                           f"{analysis.CUSUM_MIN_REFERENCE_EVENTS} hendelser og like mange uten hendelse",
          "threshold": "for behandlerens gjennomsnittlige forventede risiko over behandlingene så langt "
                       "(forventet antall behandlinger før falsk alarm)",
          "weight": "y ln(odds_ratio) - ln(1 - forventet + odds_ratio x forventet); cusum = max(0, forrige cusum "
                    "+ vekt), 0 igjen etter et signal (cusum >= terskel)"}
    return {k: Said(v, nb[k]) if k in nb and isinstance(v, str) else v
            for k, v in analysis.cusum_provenance().items()}


def _signals(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    from pipelines.release import reviews

    path = reviews.reviews_path_for(o.database)
    found = reviews.read_reviews(path)
    learned: dict[str, object] = {"reviews": "the latest review of each episode (review_status open | reviewed)"}
    if found.bad_lines:  # their episodes show as open: say so
        learned["reviews_unreadable_lines"] = ", ".join(str(n) for n in found.bad_lines[:20])
    return export.signals_frame(con, filters=o.filters, as_of=as_of, reviews_file=path), learned


def _records(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    frame, info = records.anonymised(con, filters=o.filters, as_of=as_of)
    return frame, {k: Said(v, _records_nb(k, v)) if isinstance(v, str) else v for k, v in info.items()}


PSEUDONYMISATION_NB = ("pasient- og behandlingsreferanser nøklet på nytt med HMAC-SHA256 under en engangsnøkkel som "
                       "ikke ble tatt vare på; ingen fritekst")
# the generalisation levels of records.HIERARCHIES (by the start of their English name) and the fixed sentences
RECORD_LEVELS_NB = (("month (YYYY-MM)", "måned (ÅÅÅÅ-MM)"), ("quarter (YYYY-Qn)", "kvartal (ÅÅÅÅ-Qn)"),
                    ("year", "år"), ("code", "kode"), ("as recorded", "som registrert"),
                    ("the areas treated", "områdene som ble behandlet"), ("body region", "kroppsregion"),
                    ("product", "preparat"), ("unit type", "enhetstype"),
                    ("bands of the product's units", "intervaller av preparatets enheter"),
                    ("broad bands", "brede intervaller"), ("10-year band", "10-årsgruppe"),
                    ("20-year band", "20-årsgruppe"), ("suppressed in every row", "skjult i alle rader"))


def _records_nb(key: str, text: str) -> str:
    """The Norwegian wording of one of records.k_anonymise's provenance lines (column names as in the Norwegian
    file's header); a line whose wording is not known here stays English."""
    col = functools.partial(norwegian.column, lang="nb")
    if key == "k_anonymity" and (m := re.fullmatch(r"k = (\d+): every row shares (.+) with at least (\d+) other rows",
                                                   text)):
        cols = ", ".join(col(c) for c in m[2].split(", "))
        return f"k = {m[1]}: hver rad deler {cols} med minst {m[3]} andre rader"
    if key == "generalised":
        parts = []
        for part in text.split("; ") if text else []:
            c, _, level = part.partition(" to ")
            for en, nb in RECORD_LEVELS_NB:
                if level.startswith(en):
                    level = nb + level[len(en):]
                    break
            parts.append(f"{col(c)} til {level}")
        return "; ".join(parts)
    if key == "locally_suppressed":
        if text == "none":
            return "ingen"
        cells = text.split(" (shown as")[0]
        listed = ", ".join(re.sub(r"^(\S+) (\d+) cells$", lambda m: f"{col(m[1])} {m[2]} celler", p)
                           for p in cells.split(", "))
        return f"{listed} (vist som `{norwegian.SUPPRESSED['nb']}`)"
    if key == "rows_left_out" and (m := re.fullmatch(r"(\d+) of (\d+) sessions \(they could not share their values "
                                                     r"with (\d+) others\)", text)):
        return f"{m[1]} av {m[2]} behandlinger (de kunne ikke dele verdiene sine med {m[3]} andre)"
    if key == "row_order" and text == "shuffled (not the order of treatment)":
        return "stokket (ikke behandlingsrekkefølgen)"
    return text


def _recall_options(o: ExportOptions) -> dict[str, object]:
    return {"lot": export.escape_text(export.recall_lot(o.lot)),
            "listed": "every session with this lot (of the products named in the filters, if any), whatever its "
                      "date, clinician or indication: a case list, for use inside the clinic only",
            "follow_up_status": f"followed_up (a contact by the as-of date) | awaiting (none yet, the session under "
                                f"{export.RECALL_FOLLOW_UP_DAYS} days old) | not_followed_up",
            "adverse_outcomes": "the follow-up columns answered yes at any contact"}


def _recall(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    return export.recall_frame(con, o.lot, products=o.filters.products, as_of=as_of), {}


def _adverse_events_options(o: ExportOptions) -> dict[str, object]:
    from pipelines.release import adverse_events as ae

    return {"listed": Said("every reportable reaction (one row per session x reaction), whatever its date, "
                           "clinician or indication: " + "; ".join(f"{r.key}: {r.definition('en')}"
                                                                   for r in ae.REPORTABLE)
                           + ". A case list, for use inside the clinic only",
                           "hver meldepliktig reaksjon (én rad per behandling x reaksjon), uansett dato, behandler "
                           "eller indikasjon: " + "; ".join(f"{r.key}: {r.definition('nb')}" for r in ae.REPORTABLE)
                           + ". En saksliste, bare til bruk i klinikken"),
            "off_label": Said(ae.APPROVED_USES_SOURCE, ae.APPROVED_USES_SOURCE_NB)}


def _adverse_events(con, o: ExportOptions, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, object]]:
    from pipelines.release import adverse_events as ae

    path = ae.status_path_for(o.database)
    found = ae.read_reports(path)
    learned: dict[str, object] = {"report_status": Said(
        "the latest record of each session and reaction in the clinic's report file (not_reported | reported)",
        "siste registrering for hver behandling og reaksjon i klinikkens meldefil (not_reported | reported)")}
    if found.bad_lines:  # their reactions show as not reported: say so
        learned["status_unreadable_lines"] = ", ".join(str(n) for n in found.bad_lines[:20])
    return ae.with_status(ae.reactions(con, as_of=as_of), found).reindex(columns=ae.EXPORT_COLUMNS), learned


KINDS: dict[str, Kind] = {
    "rates": Kind(_rates_options, _rates),
    "funnel": Kind(_funnel_options, _funnel),
    "oe": Kind(_oe_options, _oe),
    "spc": Kind(_spc_or_g_options, _spc),
    "costs": Kind(_costs_options, _costs),
    "cusum": Kind(_cusum_options, _cusum),
    "signals": Kind(_signals_options, _signals),
    "records": Kind(lambda o: {"pseudonymisation": Said(records.PSEUDONYMISATION_NOTE, PSEUDONYMISATION_NB)},
                    _records),
    "recall": Kind(_recall_options, _recall),
    "adverse-events": Kind(_adverse_events_options, _adverse_events),
}


def check(kind: str, o: ExportOptions) -> None:
    """Refuse options that do not fit `kind` (ExportOptionError, worded for the command line's flags)."""
    if kind not in KINDS:
        raise ExportOptionError(f"unknown export kind `{kind}`; choose one of: {', '.join(KINDS)}")
    if o.lang not in norwegian.LANGS:
        raise ExportOptionError(f"--lang must be one of: {', '.join(norwegian.LANGS)} (got `{o.lang}`)")
    if kind == "records":
        if o.outcome or o.by or o.period:
            raise ExportOptionError("export records takes no --outcome, --by or --period (it holds every outcome)")
        if o.release:
            raise ExportOptionError("export records is pseudonymised per export already; --release is for "
                                    "aggregate exports")
        return
    if o.lot is not None and kind != "recall":
        raise ExportOptionError(f"export {kind} takes no --lot (it is for export recall; filter by --product)")
    if kind == "recall":
        if o.release:
            raise ExportOptionError(export.not_releasable("recall"))
        if o.outcome or o.by or o.period:
            raise ExportOptionError("export recall takes no --outcome, --by or --period (it lists every session with "
                                    "the lot)")
        f = o.filters
        if f.date_from or f.date_to or f.clinicians or f.indications or f.areas:
            raise ExportOptionError("export recall lists every session with the lot; it takes only --lot and "
                                    "--product (no --from, --to, --clinician, --indication or --area)")
        try:
            export.recall_lot(o.lot)
            export.recall_products(f.products)
        except export.RecallError as exc:
            raise ExportOptionError(str(exc)) from None
        return
    if kind == "adverse-events":
        if o.release:
            raise ExportOptionError(export.not_releasable(kind))
        f = o.filters
        if o.outcome or o.by or o.period or f.date_from or f.date_to or f.clinicians or f.indications or f.areas \
                or f.products:
            raise ExportOptionError("export adverse-events lists every reportable reaction; it takes no --outcome, "
                                    "--by, --period, --from, --to, --clinician, --indication, --area or --product "
                                    "(only --as-of, --lang and --excel)")
        return
    if kind == "signals":
        if o.outcome or o.by or o.period:
            raise ExportOptionError("export signals takes no --outcome, --by or --period (it lists every watched "
                                    "outcome's episodes)")
        if o.release:
            raise ExportOptionError(export.not_releasable("signals"))
    elif kind in NEEDS_OUTCOME:
        if not o.outcome:
            raise ExportOptionError(f"export {kind} needs --outcome KEY (one of: {', '.join(registry.OUTCOMES_BY_KEY)})")
        registry.get(o.outcome)
    elif o.outcome and kind == "costs":
        raise ExportOptionError("export costs takes no --outcome")
    if o.by is not None:
        if kind not in BY_CHOICES:
            raise ExportOptionError(f"export {kind} takes no --by")
        if o.by not in BY_CHOICES[kind]:
            raise ExportOptionError(f"--by for {kind} must be one of: {', '.join(BY_CHOICES[kind])}")
    if kind == "spc" and o.chart == "g":
        if o.release:
            raise ExportOptionError(export.not_releasable("g"))
        if o.period or o.freeze or o.rules != "anhoej":
            raise ExportOptionError("export spc --chart g has one row per event: it takes no --period or --freeze, "
                                    "and its rules are Anhoej's against the median (leave out --rules mdc)")
    elif o.chart not in ("p", "pp"):
        raise ExportOptionError(f"--chart must be p, pp or g (got `{o.chart}`)")
    if o.period is not None:
        if kind not in PERIOD_CHOICES:
            raise ExportOptionError(f"export {kind} takes no --period")
        if o.period not in PERIOD_CHOICES[kind]:
            raise ExportOptionError(f"--period for {kind} must be one of: {', '.join(PERIOD_CHOICES[kind])}")
    f = o.filters
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ExportOptionError("--from is after --to")
    if o.release is not None and o.internal:
        raise ExportOptionError("an export is either a release or an internal file, not both")
    try:
        analysis.check_min_completeness(o.min_completeness, "--min-completeness")
    except ValueError as exc:
        raise ExportOptionError(str(exc)) from None


def provenance_options(kind: str, o: ExportOptions) -> dict[str, object]:
    """The provenance lines of `kind`'s own options (before any learned while building the frame)."""
    if kind not in KINDS:
        raise ExportOptionError(f"unknown export kind `{kind}`; choose one of: {', '.join(KINDS)}")
    return KINDS[kind].options(o)


def build(con: duckdb.DuckDBPyConnection, kind: str, o: ExportOptions) -> tuple[pd.DataFrame, dict[str, object]]:
    """The frame of one export and its provenance lines (what, from which snapshot, as of when, with which filters
    and options, generated when and by whom).

    A release (`o.release`) is checked first (pipelines.release.export.check_release: a whole calendar month,
    quarter or year, rows no longer; NotForRelease with what is allowed, also for a per-session kind), counted as of
    `o.as_of` (default: the newest month end in the data), reduced to aggregate columns with small cells suppressed
    and counts rounded (pipelines.release.export.release). `o.internal`: an unsuppressed file, said so."""
    check(kind, o)
    spec = KINDS[kind]
    if o.release is not None:
        as_of = export.check_release(kind, o.filters, as_of=o.as_of, data_as_of=counting.default_as_of(con),
                                     period=o.row_period(kind))
    else:
        as_of = o.as_of or counting.default_as_of(con)
    options = spec.options(o)
    frame, learned = spec.frame(con, o, as_of)
    options.update(learned)
    if o.release is not None:
        groups = [c for c in ("period_start", "month", o.by, "clinician") if c and c in frame.columns]
        frame = export.release(frame, kind, list(dict.fromkeys(groups)), o.release, outcome_key=o.outcome,
                               method=o.method, overdispersion=o.overdispersion, chart=o.chart, rules=o.rules,
                               freeze=o.freeze)
        options.update(export.release_provenance(o.release, o.filters))
        options.pop("low_completeness", None)  # a release has no is_low_completeness column
    elif o.internal and kind != "records":
        options["release"] = INTERNAL_NOTE
    prov = export.provenance(con, kind, as_of=as_of, filters=o.filters, options=options,
                             outcome_key=o.outcome if kind in NEEDS_OUTCOME else None, generated_by=o.user)
    return frame, prov


def csv_bytes(con: duckdb.DuckDBPyConnection, kind: str, o: ExportOptions) -> tuple[bytes, int]:
    """(file bytes, data rows) of one export, exactly as `python -m pipelines export` writes the file."""
    frame, prov = build(con, kind, o)
    return export.to_csv_bytes(frame, prov, excel=o.excel, lang=o.lang), len(frame)


@dataclass(frozen=True)
class Preview:
    """What a file will hold, before it is downloaded: its provenance lines and header, its first rows as the
    file's own text cells, how many data rows it has, and (a release) how many cells and rows it suppresses."""

    provenance_lines: tuple[str, ...]
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    rows_n: int
    suppressed_cells_n: int  # cells marked suppressed, the `suppression` column itself not counted
    suppressed_rows_n: int  # rows with at least one such cell


AT_DOWNLOAD = Said("(the time of the download)", "(tidspunktet for nedlastingen)")


def preview(con: duckdb.DuckDBPyConnection, kind: str, o: ExportOptions, rows: int = 50) -> Preview:
    """The file of `csv_bytes` with these options, cut to its first `rows` data rows and read back: the same
    builder and writer, so the preview holds exactly the file's text (generated_at reads "the time of the download"
    instead of a time)."""
    frame, prov = build(con, kind, o)
    prov["generated_at"] = AT_DOWNLOAD
    text = export.to_csv_text(frame.head(rows), prov, excel=o.excel, lang=o.lang)
    lines = text.split("\n")
    provenance_lines = tuple(line for line in lines[:len(prov)])
    body = list(csv.reader(io.StringIO("\n".join(lines[len(prov):])), delimiter=";" if o.excel else ","))
    cells, row_marks = suppressed(frame)
    return Preview(provenance_lines, tuple(body[0]) if body else (), tuple(tuple(r) for r in body[1:]), len(frame),
                   cells, row_marks)


def suppressed(frame: pd.DataFrame) -> tuple[int, int]:
    """(cells marked suppressed outside the `suppression` column, rows holding at least one) of a frame."""
    marked = frame.drop(columns=["suppression"], errors="ignore").isin([disclosure.MARK]).to_numpy()
    return int(marked.sum()), int(marked.any(axis=1).sum()) if marked.size else 0
