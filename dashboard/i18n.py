"""Norwegian (bokmål) and English texts of the dashboard, and number / date formatting per language.

Pure: no streamlit import. `t(key, lang, **values)` looks a text up and fills its `{placeholders}`; every key has
both languages with the same placeholders. A text with a count ("1 day ago" / "2 days ago") is in PLURALS and is
looked up with `tn(key, count, lang, **values)`, which picks the form by the language's CLDR plural rule (Babel).
tests/test_i18n.py checks both tables, that every key the code uses exists and that every key is used.
Numbers, percentages, amounts, dates and month names are formatted through Babel (CLDR) for nb_NO and en_US.
Outcome labels, descriptions, eligibility, windows and reference texts come from the registry
(pipelines/metrics/registry.py), never from here.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable

import babel
from babel import dates as babel_dates
from babel import numbers as babel_numbers

LANGS = ("nb", "en")
DEFAULT_LANG = "nb"
LANG_NAMES = {"nb": "Norsk", "en": "English"}
LOCALES = {"nb": "nb_NO", "en": "en_US"}  # Babel / CLDR locale of each language (en_GB writes "Sept 2026")
NBSP = "\u00a0"
MINUS = "\u2212"
PERCENT_SUFFIX = NBSP + "%"
PLURAL_FORMS = ("one", "other")  # the CLDR plural categories of both languages (tests/test_i18n.py checks it)

# key: (English, Norwegian)
TEXTS: dict[str, tuple[str, str]] = {
    # --- app, navigation -------------------------------------------------------------------------------------
    "app_title": ("Clinic outcomes", "Behandlingsresultater"),
    "app_caption": ("Botulinum-toxin treatment: outcomes, corrections and costs",
                    "Behandling med botulinumtoksin: resultater, korrigeringer og kostnader"),
    "nav_section_quality": ("Outcomes", "Resultater"),
    "nav_section_management": ("Management", "Drift"),
    "nav_section_data": ("Data and methods", "Data og metode"),
    "page_overview": ("Overview", "Oversikt"),
    "page_complications": ("Complications", "Komplikasjoner"),
    "page_lots": ("Products and lots", "Preparater og partier"),
    "page_adverse_events": ("Adverse events", "Bivirkningsmeldinger"),
    "page_clinicians": ("Clinicians", "Behandlere"),
    "page_costs": ("Corrections and costs", "Korrigeringer og kostnader"),
    "page_responses": ("Headache and sweating", "Hodepine og svette"),
    "page_data_quality": ("Data quality", "Datakvalitet"),
    "page_export": ("Export", "Eksport"),
    "page_about": ("About the metrics", "Om målene"),
    "page_my_results": ("My results", "Mine resultater"),
    # --- sidebar filters ---------------------------------------------------------------------------------------
    "language": ("Language", "Språk"),
    "filters": ("Filters", "Filtre"),
    # typed date fields (dashboard/filters.py date_field: no browser calendar, whose names follow the browser)
    "filter_from": ("Treated from", "Behandlet fra"),
    "filter_to": ("Treated up to", "Behandlet til"),
    "date_placeholder": ("yyyy-mm-dd", "dd.mm.åååå"),
    "date_unreadable": ("“{text}” is not a date: type it as {example}.",
                        "«{text}» er ikke en dato: skriv den som {example}."),
    "date_required": ("Type the date, e.g. {example}.", "Skriv datoen, for eksempel {example}."),
    "date_outside": ("{date} is outside the data: type a date from {first} to {last}.",
                     "{date} er utenfor dataene: skriv en dato fra {first} til {last}."),
    "date_after_to": ("{date} is after the end date {to}: change the end date first, or type an earlier date.",
                      "{date} er etter sluttdatoen {to}: endre sluttdatoen først, eller skriv en tidligere dato."),
    "date_before_from": ("{date} is before the start date {start}: change the start date first, or type a later "
                         "date.",
                         "{date} er før startdatoen {start}: endre startdatoen først, eller skriv en senere dato."),
    "filter_period_help": ("Sessions treated in this period are counted. Outcomes count only once their "
                           "observation window has closed.",
                           "Behandlinger i denne perioden telles. Et utfall telles først når "
                           "observasjonsvinduet er lukket."),
    "filter_clinicians": ("Clinicians", "Behandlere"),
    "filter_indications": ("Indication", "Indikasjon"),
    "filter_areas": ("Area treated", "Behandlet område"),
    "filter_products": ("Product", "Preparat"),
    "filter_all": ("All", "Alle"),
    "filter_reset": ("Reset filters", "Nullstill filtre"),
    "snapshot_caption": ("Snapshot v{version}, published {published}. Counted as of {as_of}.",
                         "Datasett v{version}, publisert {published}. Telt per {as_of}."),
    # the reporting period (dashboard/filters.py Report): judged and marked, never a filter (issue 16)
    "report_period": ("Reporting month", "Rapporteringsmåned"),
    "report_period_help": ("The month (or months) the quality meeting looks at. It does not narrow the data: every "
                           "chart keeps the whole history and marks this period, and the overview judges and counts "
                           "it. The newest month is offered once every session's window in it has closed.",
                           "Måneden (eller månedene) kvalitetsmøtet ser på. Den snevrer ikke inn dataene: hvert "
                           "diagram beholder hele historikken og markerer perioden, og oversikten vurderer og teller "
                           "den. Nyeste måned kan velges når vinduet til hver behandling i den er lukket."),
    "report_last": ("Last month ({period})", "Siste måned ({period})"),
    "report_quarter": ("Quarter ({period})", "Kvartalet ({period})"),
    "report_year": ("This year ({period})", "I år ({period})"),
    "share_hint": ("The address bar holds the filters: copy it to share this view.",
                   "Adressefeltet inneholder filtrene: kopier det for å dele denne visningen."),
    # --- states ------------------------------------------------------------------------------------------------
    "no_database": ("No database has been published yet. Load the clinic's exports with "
                    "`python -m pipelines load FILE...` or generate demo data with `python -m pipelines demo`.",
                    "Ingen database er publisert ennå. Last inn klinikkens eksportfiler med "
                    "`python -m pipelines load FIL...` eller lag demodata med `python -m pipelines demo`."),
    "republishing": ("The data is being republished right now. Reload the page in a moment.",
                     "Dataene publiseres på nytt akkurat nå. Last siden på nytt om et øyeblikk."),
    "bad_database": ("The published database cannot be read by this version of the dashboard ({error}). "
                     "Load the exports again with `python -m pipelines load`.",
                     "Den publiserte databasen kan ikke leses av denne versjonen av dashbordet ({error}). "
                     "Last inn eksportfilene på nytt med `python -m pipelines load`."),
    "empty_database": ("The database has no treatments yet. Load the clinic's exports with "
                       "`python -m pipelines load FILE...`.",
                       "Databasen har ingen behandlinger ennå. Last inn klinikkens eksportfiler med "
                       "`python -m pipelines load FIL...`."),
    "no_match": ("No sessions match the filters. Widen the period or remove a filter in the sidebar.",
                 "Ingen behandlinger passer filtrene. Utvid perioden eller fjern et filter i sidemenyen."),
    "no_eligible": ("No session in the filters is eligible for this outcome with a closed window yet.",
                    "Ingen behandling i filtrene er aktuell for dette utfallet med lukket vindu ennå."),
    # --- common words ------------------------------------------------------------------------------------------
    "outcome": ("Outcome", "Utfall"),
    "clinician": ("Clinician", "Behandler"),
    "clinic": ("Clinic", "Klinikken"),
    "indication": ("Indication", "Indikasjon"),
    "area": ("Area", "Område"),
    "product": ("Product", "Preparat"),
    "month": ("Month", "Måned"),
    "period": ("Period", "Periode"),
    "period_week": ("Week", "Uke"),
    "period_month": ("Month", "Måned"),
    "period_quarter": ("Quarter", "Kvartal"),
    "period_year": ("Year", "År"),
    "period_week_of": ("week of {date}", "uke fra {date}"),
    "rate": ("Rate", "Andel"),
    "interval": ("95 % interval", "95 % intervall"),
    "reference": ("Published reference", "Publisert referanse"),
    "reference_band": ("Published reference range", "Publisert referanseområde"),
    "reference_none": ("none published", "ingen publisert"),
    "estimate": ("estimate", "anslag"),
    "sessions": ("Sessions", "Behandlinger"),
    "events": ("Events", "Hendelser"),
    "events_of": ("{num} of {den}", "{num} av {den}"),
    "completeness": ("Follow-up completeness", "Oppfølging gjennomført"),
    "completeness_short": ("Followed up", "Fulgt opp"),
    "trend": ("Trend", "Utvikling"),
    "yes": ("yes", "ja"),
    "no": ("no", "nei"),
    "none": ("none", "ingen"),
    "small_n_badge": ("n < {n}", "n < {n}"),
    "open_chart": ("Open chart", "Åpne diagram"),
    "open_chart_short": ("Chart", "Diagram"),
    "showing": ("{first}-{last} of {total}", "{first}-{last} av {total}"),
    "hover_rate": ("Rate: {rate} ({num} of {den})", "Andel: {rate} ({num} av {den})"),
    "hover_ci": ("95 % interval: {low} to {high}", "95 % intervall: {low} til {high}"),
    "hover_completeness": ("Followed up: {pct} ({num} of {den} eligible)",
                           "Fulgt opp: {pct} ({num} av {den} aktuelle)"),
    "hover_limits": ("Limits: {low} to {high} (centre {cl})", "Grenser: {low} til {high} (senter {cl})"),
    "hover_reference": ("Reference: {text}", "Referanse: {text}"),
    "hover_signal": ("Signal: {rules}", "Signal: {rules}"),
    "lost_as_event": ("Lost to follow-up counts as {label}.", "Uten oppfølging regnes som {label}."),
    "lost_excluded": ("Lost to follow-up is left out of the rate (the rate is among sessions followed up); "
                      "completeness is shown beside it.",
                      "Behandlinger uten oppfølging er holdt utenfor andelen (andelen gjelder de som er fulgt "
                      "opp); andelen fulgt opp vises ved siden av."),
    # --- MDC readings ------------------------------------------------------------------------------------------
    "reading_common_cause": ("Common cause", "Vanlig variasjon"),
    "reading_special_cause_concerning": ("Special cause: concerning", "Spesiell variasjon: bekymring"),
    "reading_special_cause_improving": ("Special cause: improving", "Spesiell variasjon: forbedring"),
    "reading_none": ("Too few periods", "For få perioder"),
    "reading_short_common_cause": ("Common cause", "Vanlig variasjon"),
    "reading_short_special_cause_concerning": ("Special: concerning", "Spesiell: bekymring"),
    "reading_short_special_cause_improving": ("Special: improving", "Spesiell: bedring"),
    "reading_short_none": ("Too few periods", "For få perioder"),
    "reading_help": ("NHS \"Making Data Count\" reading of the latest month of the p-chart: common cause "
                     "(only random variation), or special cause (a point beyond the 3-sigma limits, a shift or "
                     "trend of 7 points, or 2 of 3 points beyond 2 sigma) on the concerning or improving side.",
                     "Tolkning etter NHS «Making Data Count» av siste måned i p-diagrammet: vanlig variasjon "
                     "(bare tilfeldig), eller spesiell variasjon (et punkt utenfor 3-sigma-grensene, et skift "
                     "eller en trend på 7 punkter, eller 2 av 3 punkter utenfor 2 sigma) i bekymringsfull eller "
                     "gunstig retning."),
    # --- closed periods and low follow-up completeness (pipelines/metrics/analysis.py periods_closed,
    # mark_low_completeness) ---------------------------------------------------------------------------------
    "reading_closed_note": ("Only closed periods are read: a period in which some sessions' windows are still "
                            "open is never judged.",
                            "Bare lukkede perioder tolkes: en periode der noen behandlingers vindu ennå er åpent, "
                            "vurderes aldri."),
    "spc_incomplete_label": ("incomplete", "ufullstendig"),
    "legend_incomplete": ("Incomplete period (not judged)", "Ufullstendig periode (ikke vurdert)"),
    "hover_incomplete": ("Incomplete: not every window of this period has closed yet, so it is drawn apart and "
                         "not judged (no limits, no rules, not in the centre line)",
                         "Ufullstendig: ikke alle vinduer i perioden er lukket ennå, så den tegnes for seg og "
                         "vurderes ikke (ingen grenser, ingen regler, ikke med i senterlinjen)"),
    "spc_incomplete_note": ("Incomplete, drawn hollow apart from the line and not judged: {periods}. Some sessions' "
                            "windows were still open on {as_of}; a period is judged once all of them have closed.",
                            "Ufullstendig, tegnet hul utenfor linjen og ikke vurdert: {periods}. Noen behandlingers "
                            "vindu var ennå åpent {as_of}; en periode vurderes når alle er lukket."),
    "hover_low_completeness": ("Follow-up completeness {pct}: least reliable",
                               "Oppfølging {pct}: minst pålitelig"),
    "legend_low_completeness": ("Follow-up below {pct}: least reliable", "Oppfølging under {pct}: minst pålitelig"),
    "legend_low_completeness_plain": ("Low follow-up: least reliable", "Lav oppfølging: minst pålitelig"),
    "col_completeness_help": ("Share of the clinician's eligible sessions with a follow-up. ⚠ below {pct}: the rate "
                              "among followed-up sessions is least reliable.",
                              "Andel av klinikerens aktuelle behandlinger som er fulgt opp. ⚠ under {pct}: andelen "
                              "blant dem som er fulgt opp, er minst pålitelig."),
    "method_judged": ("Closed periods and low follow-up", "Lukkede perioder og lav oppfølging"),
    "method_judged_text": ("A period is judged (control-chart rules, the variation reading, the signals list) only "
                           "when every session in it has its window closed at the data's date: its last day plus "
                           "the outcome's longest window. The newest, part-closed period is drawn hollow apart from "
                           "the line, labelled incomplete, and adds nothing to the centre line, the limits, the run "
                           "rules or Laney's sigma; the spc export says so in `period_closed`. Periods and "
                           "clinicians with follow-up completeness below {pct} are marked (a square marker, ⚠ in "
                           "tables, `is_low_completeness` in exports): the rate among followed-up sessions is least "
                           "reliable there. The threshold is `[clinic] min_completeness` in the secrets, and "
                           "`--min-completeness` for an export.",
                           "En periode vurderes (regler i styringsdiagrammet, tolkningen av variasjon, "
                           "signallisten) bare når hver behandling i den har lukket vindu på dataenes dato: siste "
                           "dag pluss utfallets lengste vindu. Den nyeste, delvis lukkede perioden tegnes hul "
                           "utenfor linjen, merket ufullstendig, og teller ikke med i senterlinjen, grensene, "
                           "serie-reglene eller Laneys sigma; spc-eksporten sier det i `period_closed`. Perioder og "
                           "klinikere med oppfølging under {pct} merkes (firkantet punkt, ⚠ i tabeller, "
                           "`is_low_completeness` i eksport): andelen blant dem som er fulgt opp, er minst "
                           "pålitelig der. Grensen er `[clinic] min_completeness` i secrets, og "
                           "`--min-completeness` for en eksport."),
    # --- signals -----------------------------------------------------------------------------------------------
    "signals": ("Signals", "Signaler"),
    "signals_none": ("No signals under the current filters.", "Ingen signaler med gjeldende filtre."),
    "signals_none_since": ("No new signals to review since {date}.", "Ingen nye signaler å gjennomgå siden {date}."),
    "signals_cusum_pending": ("The CUSUM charts of every outcome and clinician are still being checked; their "
                              "signals are added to the list when ready.",
                              "CUSUM for alle utfall og behandlere sjekkes fortsatt; signalene legges til i listen "
                              "når de er klare."),
    "signals_cusum_skipped": ("CUSUM could not be computed for {outcomes}: the event is too rare for the "
                              "chart's threshold rule.",
                              "CUSUM kunne ikke beregnes for {outcomes}: hendelsen er for sjelden for "
                              "terskelregelen."),
    "kind_spc": ("Control chart", "Styringsdiagram"),
    "kind_funnel": ("Funnel plot", "Traktplott"),
    "kind_cusum": ("CUSUM", "CUSUM"),
    "kind_short_spc": ("p-chart", "p-diagram"),
    "kind_short_funnel": ("Funnel", "Trakt"),
    "kind_short_cusum": ("CUSUM", "CUSUM"),
    "rule_sigma": ("Outside the 3-sigma limits: {value} against the limit {limit}",
                   "Utenfor 3-sigma-grensene: {value} mot grensen {limit}"),
    "rule_rare_note": ("Rare event: fewer than one expected per month, so runs of empty months are expected. The "
                       "Complications page draws it as a g-chart of the sessions between events (for the roles that "
                       "see sessions).",
                       "Sjelden hendelse: under én forventet per måned, så serier av tomme måneder er ventet. Siden "
                       "Komplikasjoner viser det som et g-diagram over behandlingene mellom hendelsene (for rollene "
                       "som ser behandlinger)."),
    "side_above": ("above", "over"),
    "side_below": ("below", "under"),
    "rule_mdc_astronomical": ("The latest point is outside the control limits ({value}): rare with common-cause "
                              "variation alone",
                              "Siste punkt ligger utenfor kontrollgrensene ({value}): sjelden ved vanlig variasjon"),
    "rule_mdc_shift": ("The latest 7 or more points lie on one side of the centre line: the level has probably "
                       "changed",
                       "De siste 7 eller flere punktene ligger på samme side av midtlinjen: nivået har trolig "
                       "endret seg"),
    "rule_mdc_trend": ("7 or more points in a row rise or fall: a trend",
                       "7 eller flere punkter på rad stiger eller faller: en trend"),
    "rule_mdc_two_of_three": ("2 of the latest 3 points lie near the control limit on one side (beyond 2 sigma)",
                              "2 av de siste 3 punktene ligger nær kontrollgrensen på samme side (utenfor 2 sigma)"),
    "rule_cusum": ("Risk-adjusted CUSUM reached {value} (threshold {limit})",
                   "Risikojustert CUSUM nådde {value} (terskel {limit})"),
    "rule_sigma_above": ("Above the upper control limit: {value} against the limit {limit}",
                         "Over den øvre kontrollgrensen: {value} mot grensen {limit}"),
    "rule_sigma_below": ("Below the lower control limit: {value} against the limit {limit}",
                         "Under den nedre kontrollgrensen: {value} mot grensen {limit}"),
    "rule_funnel_998_limit": ("Outside the 99.8 % funnel limit: {value} ({num} of {den}) against the limit {limit} "
                              "(clinic {target})",
                              "Utenfor traktgrensen (99,8 %): {value} ({num} av {den}) mot grensen {limit} "
                              "(klinikken {target})"),
    "signals_caption_grouped": ("One row per clinician (or the clinic) and clinical problem: eyelid and brow ptosis "
                                "are ptosis. The row describes its latest episode; earlier ones are behind the "
                                "button. Open the chart to judge it, or the cases to review them. What is listed, "
                                "and why, is on the About page: about {budget} false alarms a year in a clinic of "
                                "the demo's size. The rules behind the words: points outside the 3-sigma control "
                                "limits, Anhøj's run rules (a long run on one side of the centre line, too few "
                                "crossings), the funnel plot's 99.8 % limit and the risk-adjusted CUSUM.",
                                "Én rad per behandler (eller klinikken) og klinisk problem: hengende øyelokk og "
                                "øyenbryn er ptose. Raden beskriver siste episode; tidligere episoder ligger bak "
                                "knappen. Åpne diagrammet for å vurdere, eller behandlingene for å gå gjennom dem. "
                                "Hva som listes, og hvorfor, står på Om målene: omtrent {budget} falske alarmer i "
                                "året i en klinikk på demoens størrelse. Reglene bak ordene: punkter utenfor "
                                "3-sigma-kontrollgrensene, Anhøjs serieregler (en lang serie på samme side av "
                                "midtlinjen, for få kryssinger), traktplottets 99,8 %-grense og risikojustert "
                                "CUSUM."),
    "signals_scope": ("Show", "Vis"),
    "scope_since": ("New since {date}", "Nye siden {date}"),
    "scope_report": ("In {period}", "I {period}"),
    "scope_all": ("All", "Alle"),
    "signals_show_improving": ("Also improving", "Vis også forbedringer"),
    "signals_show_improving_help": ("The list holds the concerning rows; switch on to add those on the improving "
                                    "side.",
                                    "Listen viser de bekymringsfulle radene; slå på for å ta med dem i gunstig "
                                    "retning."),
    "since_label": ("Last meeting", "Forrige møte"),
    "since_help": ("The day of the last quality meeting: \"new\" is what became known after it (a signal is "
                   "known once the windows of its sessions have closed). Type it as 30.11.2026 and press Enter; "
                   "it stays in the address.",
                   "Dagen for forrige kvalitetsmøte: «ny» er det som ble kjent etter den (et signal er kjent når "
                   "vinduene til behandlingene bak det er lukket). Skriv den som 30.11.2026 og trykk Enter; "
                   "den blir stående i adressen."),
    "since_month_label": ("Last meeting (month)", "Forrige møte (måned)"),
    "since_month_help": ("The month of the last quality meeting: \"new\" is what became known after its last day "
                         "(your role sees months, not days).",
                         "Måneden for forrige kvalitetsmøte: «ny» er det som ble kjent etter siste dag i måneden "
                         "(rollen din ser måneder, ikke dager)."),
    "signal_new": ("new", "ny"),
    "col_problem": ("Problem", "Problem"),
    "open_cases": ("Cases", "Saker"),
    "col_when": ("When", "Når"),
    "col_what_fired": ("What fired", "Hva slo ut"),
    "col_kind": ("Chart", "Diagram"),
    # --- overview ----------------------------------------------------------------------------------------------
    "overview_caption": ("Rates per treatment session for {period}. A session counts once its observation "
                         "window has closed ({as_of}); the interval is Wilson's 95 % score interval.",
                         "Andeler per behandling for {period}. En behandling telles når observasjonsvinduet er "
                         "lukket ({as_of}); intervallet er Wilsons 95 % intervall."),
    "period_all": ("all data", "alle data"),
    "period_range": ("{start} to {end}", "{start} til {end}"),
    "kpi_sessions": ("Sessions in the period", "Behandlinger i perioden"),
    "kpi_sessions_help": ("Primary sessions and corrections selected by the filters.",
                          "Første behandlinger og korrigeringer som filtrene velger."),
    "kpi_completeness": ("Follow-up completeness", "Oppfølging gjennomført"),
    "kpi_completeness_value": ("{low} to {high}", "{low} til {high}"),
    "kpi_completeness_help": ("Share of eligible sessions with a follow-up contact inside the outcome's window, "
                              "lowest and highest over the outcomes that need a follow-up.",
                              "Andel aktuelle behandlinger med en kontroll innenfor utfallets vindu, laveste og "
                              "høyeste blant utfallene som krever oppfølging."),
    "kpi_signals_review": ("Signals to review", "Signaler å gjennomgå"),
    "kpi_signals_review_help": ("The concerning rows of the list below (one per clinician and clinical problem), "
                                "in the list's choice. While the CUSUM check runs the count is provisional: it "
                                "can only grow.",
                                "De bekymringsfulle radene i listen under (én per behandler og klinisk problem), "
                                "for valget i listen. Mens CUSUM sjekkes er tallet foreløpig: det kan bare øke."),
    "kpi_signals_scope": ("list: {scope}", "i listen: {scope}"),
    "kpi_signals_provisional": ("provisional (CUSUM running)", "foreløpig (CUSUM sjekkes)"),
    "kpi_sessions_report": ("{n} in {period}", "{n} i {period}"),
    "kpi_special_short": ("Concerning variation", "Bekymringsfull variasjon"),
    "kpi_special_delta": ("outcomes, read at {period}", "utfall, vurdert for {period}"),
    "report_caption": ("Reporting month: {period} (the sidebar changes it; the charts keep the whole history).",
                       "Rapporteringsmåned: {period} (endres i sidepanelet; diagrammene viser hele historikken)."),
    "col_report_rate": ("{period}", "{period}"),
    "col_report_rate_plain": ("Reporting month", "Rapporteringsmåned"),
    "col_report_rate_help": ("The rate of the reporting period's sessions. ○: some of their windows are still "
                             "open, so the rate is of the sessions closed so far and is not judged.",
                             "Andelen for behandlingene i rapporteringsperioden. ○: noen av vinduene er ennå "
                             "åpne, så andelen gjelder behandlingene som er lukket så langt, og vurderes ikke."),
    "report_open_note": ("○ {period}: some sessions' windows are still open; the rate is provisional and not "
                         "judged.",
                         "○ {period}: noen behandlingers vindu er ennå åpent; andelen er foreløpig og vurderes "
                         "ikke."),
    "episode_span": ("{first} – {last}", "{first} – {last}"),
    "kpi_special_help": ("Outcomes whose latest month shows special-cause variation on the concerning side (Making "
                         "Data Count); the table shows the reading of each.",
                         "Utfall der siste måned viser spesiell variasjon i bekymringsfull retning (Making Data "
                         "Count); tabellen viser tolkningen for hvert utfall."),
    "headline_rates": ("Outcome rates", "Utfallsrater"),
    "tab_table": ("Table", "Tabell"),
    "tab_chart": ("Against the reference", "Mot referansen"),
    "col_outcome": ("Outcome", "Utfall"),
    "col_rate": ("Rate", "Andel"),
    "col_interval": ("95 % interval", "95 % intervall"),
    "col_reference": ("Reference", "Referanse"),
    "col_reading": ("Variation", "Variasjon"),
    "col_events": ("Events / sessions", "Hendelser / behandlinger"),
    "col_events_short": ("Events / n", "Hendelser / n"),
    "col_completeness": ("Followed up", "Fulgt opp"),
    "col_trend": ("Trend", "Trend"),
    "col_trend_help": ("The monthly rate over the whole period.", "Månedlig andel over hele perioden."),
    "col_link": ("Chart", "Diagram"),
    "col_small": ("Note", "Merknad"),
    "forest_title": ("Rates with 95 % intervals against the published reference range",
                     "Andeler med 95 % intervall mot publisert referanseområde"),
    "forest_complications": ("Complications, effect and safety", "Komplikasjoner, effekt og sikkerhet"),
    "forest_response": ("Non-response (headache, sweating)", "Manglende respons (hodepine, svette)"),
    # --- quality meeting: signal reviews, process changes, targets (issue 12) -------------------------------------
    "page_signals": ("Quality meeting", "Kvalitetsmøte"),
    "event_edit": ("change recorded", "endring registrert"),
    "overview_reviews": ("Quality meeting, every signal episode of any period (a row in the list can hold several): "
                         "{reviewed} reviewed, {open} open.",
                         "Kvalitetsmøtet, alle signalepisoder fra hele perioden (en rad i listen kan romme flere): "
                         "{reviewed} gjennomgått, {open} åpne."),
    "signals_page_caption": ("For the quality meeting: review each signal episode, record what changed in the "
                             "clinic, and read the targets against the process.",
                             "For kvalitetsmøtet: gå gjennom hver signalepisode, registrer hva som er endret i "
                             "klinikken, og les målene mot prosessen."),
    "signals_review_title": ("Signal episodes", "Signalepisoder"),
    "signals_review_caption": ("The overview's list under the current filters. A review belongs to one episode; a "
                               "new episode of the same rule, outcome and clinician is open again. Every review "
                               "is kept (the latest counts) and written to the access log.",
                               "Listen fra oversikten med gjeldende filtre. En gjennomgang gjelder én episode; en "
                               "ny episode av samme regel, utfall og behandler er åpen igjen. Alle gjennomganger "
                               "tas vare på (den siste gjelder) og skrives i tilgangsloggen."),
    "signals_review_pending": ("The episodes of every chart and CUSUM are still being computed; they appear here "
                               "when ready.", "Episodene i alle diagrammer og CUSUM beregnes fortsatt; de vises her "
                               "når de er klare."),
    "review_show": ("Show", "Vis"),
    "review_status_open": ("Open", "Åpne"),
    "review_status_reviewed": ("Reviewed", "Gjennomgått"),
    "review_status_all": ("All", "Alle"),
    "conclusion_common_cause": ("Common-cause variation", "Vanlig variasjon"),
    "conclusion_cause_found": ("Cause found", "Årsak funnet"),
    "conclusion_action_taken": ("Action taken", "Tiltak iverksatt"),
    "conclusion_investigating": ("Being investigated", "Under utredning"),
    "review_conclusion": ("Conclusion", "Konklusjon"),
    "review_owner": ("Action owner", "Ansvarlig for tiltak"),
    "review_due": ("Due date", "Frist"),
    "review_note": ("Note", "Notat"),
    "review_note_help": ("What was looked at and concluded. No patient names or references.",
                         "Hva som ble vurdert og konkludert. Ingen pasientnavn eller -referanser."),
    "review_save": ("Save review", "Lagre gjennomgang"),
    "review_saved": ("Review saved.", "Gjennomgangen er lagret."),
    "review_not_saved": ("The review was not saved: {error}", "Gjennomgangen ble ikke lagret: {error}"),
    "review_history": ("Earlier reviews of this episode, newest first", "Tidligere gjennomganger av episoden, "
                                                                        "nyeste først"),
    "col_reviewed_at": ("Reviewed at", "Gjennomgått"),
    "col_reviewed_by": ("By", "Av"),
    "reviews_bad_lines": ("Lines {lines} of the review file cannot be read; their episodes show as open.",
                          "Linje {lines} i gjennomgangsfilen kan ikke leses; episodene deres vises som åpne."),
    "process_changes_title": ("Process changes", "Endringer i klinikken"),
    "process_changes_caption": ("What changed in the clinic and when. Every time chart shows the changes as dated "
                                "marks; a change that starts a new part re-computes the centre line and limits "
                                "from its date. Saved through the loader's own checks, like a file.",
                                "Hva som er endret i klinikken, og når. Alle tidsdiagrammer viser endringene som "
                                "daterte merker; en endring som starter en ny del beregner senterlinje og grenser "
                                "på nytt fra datoen. Lagres gjennom innlesingens egne kontroller, som en fil."),
    "process_changes_none": ("No process changes recorded yet.", "Ingen endringer registrert ennå."),
    "col_changed_on": ("Date", "Dato"),
    "col_description": ("What changed", "Hva ble endret"),
    "col_rebase": ("New chart part", "Ny del i diagrammet"),
    "rebase_help": ("The process before this date is no longer the baseline: the control charts start a new part "
                    "(own centre line and limits) from here.",
                    "Prosessen før denne datoen er ikke lenger grunnlaget: styringsdiagrammene starter en ny del "
                    "(egen senterlinje og grenser) herfra."),
    "process_change_demo": ("In the demo the database holds only what the demo generator made (its process "
                            "changes come from its files); adding one here would end demo mode.",
                            "I demoen inneholder databasen bare det demogeneratoren laget (endringene kommer fra "
                            "filene); å legge til en her ville avslutte demomodus."),
    "process_change_add": ("Add process change", "Legg til endring"),
    "process_change_saved": ("Process change saved; the charts show it from the new snapshot.",
                             "Endringen er lagret; diagrammene viser den fra det nye øyeblikksbildet."),
    "process_change_not_saved": ("The process change was not saved: {error}",
                                 "Endringen ble ikke lagret: {error}"),
    "change_hover": ("{date}: {text}", "{date}: {text}"),
    "change_hover_rebase": ("{date}: {text} (new chart part from here)", "{date}: {text} (ny del i diagrammet "
                                                                         "herfra)"),
    "legend_clinic_target": ("Target {value}", "Mål {value}"),
    "targets_title": ("Targets", "Mål"),
    "targets_caption": ("The clinic's own target per outcome (the targets table) against the process limits of the "
                        "latest month (Making Data Count assurance), beside the variation reading.",
                        "Klinikkens eget mål per utfall (måltabellen) mot prosessgrensene i siste måned (Making Data "
                        "Count-sikkerhet), ved siden av variasjonstolkningen."),
    "targets_none": ("No targets set: load a targets file (outcome, target_pct).",
                     "Ingen mål satt: les inn en målfil (outcome, target_pct)."),
    "col_target": ("Target", "Mål"),
    "col_assurance": ("Assurance", "Måloppnåelse"),
    "assurance_consistently_meets": ("Consistently meets the target", "Når målet hver gang"),
    "assurance_consistently_fails": ("Consistently fails the target", "Bommer på målet hver gang"),
    "assurance_hit_and_miss": ("Hit and miss", "Treffer og bommer"),
    "assurance_none": ("No target", "Intet mål"),
    # --- complications -----------------------------------------------------------------------------------------
    "complications_caption": ("For the responsible doctor: one outcome over time, what it is made of, and the "
                              "sessions behind it.",
                              "For medisinsk ansvarlig: ett utfall over tid, hva det består av og behandlingene "
                              "bak."),
    "choose_outcome": ("Outcome", "Utfall"),
    "chart_type": ("Chart", "Diagram"),
    "chart_p": ("p-chart", "p-diagram"),
    "chart_pp": ("p′-chart (Laney)", "p′-diagram (Laney)"),
    "chart_short_p": ("p", "p"),
    "chart_short_pp": ("p′ (Laney)", "p′ (Laney)"),
    "chart_help": ("p-chart: binomial 3-sigma limits. Laney's p′-chart widens them by the between-period "
                   "variation, for large denominators where a p-chart flags almost everything.",
                   "p-diagram: binomiske 3-sigma-grenser. Laneys p′-diagram utvider dem med variasjonen mellom "
                   "periodene, for store nevnere der et p-diagram flagger nesten alt."),
    # the g-chart of a rare outcome (sessions between events; issue 13)
    "chart_short_auto": ("Auto", "Auto"),
    "chart_short_g": ("g", "g"),
    "chart_help_g": ("Auto: the p-chart, or the g-chart when the outcome is rare (a monthly chart would expect "
                     "fewer than one event a month). p-chart: binomial 3-sigma limits. Laney's p′-chart widens "
                     "them by the between-period variation, for large denominators where a p-chart flags almost "
                     "everything. g-chart: one point per event, the sessions without it since the previous one.",
                     "Auto: p-diagrammet, eller g-diagrammet når utfallet er sjeldent (et månedsdiagram ville "
                     "vente under én hendelse i måneden). p-diagram: binomiske 3-sigma-grenser. Laneys p′-diagram "
                     "utvider dem med variasjonen mellom periodene, for store nevnere der et p-diagram flagger nesten "
                     "alt. g-diagram: ett punkt per hendelse, behandlingene uten hendelsen siden forrige."),
    "export_g_note": ("One row per event of the outcome with its treatment date and the followed-up sessions "
                      "without it since the previous one (qicharts2 g-chart limits, Anhøj's rules against the "
                      "median). For rare outcomes; an internal file, never a release.",
                      "Én rad per hendelse med behandlingsdatoen og behandlingene fulgt opp uten hendelsen siden "
                      "forrige (qicharts2 g-diagramgrenser, Anhøjs regler mot medianen). For sjeldne utfall; en "
                      "intern fil, aldri en frigivelse."),
    "g_title": ("{outcome}: sessions between events (g-chart)",
                "{outcome}: behandlinger mellom hendelser (g-diagram)"),
    "g_subtitle": ("One point per event: the followed-up sessions without it since the previous one. Centre line "
                   "the median, upper limit from the mean (qicharts2); Anhøj's run rules against the median",
                   "Ett punkt per hendelse: behandlingene som ble fulgt opp uten hendelsen siden forrige. "
                   "Senterlinjen er medianen, øvre grense fra gjennomsnittet (qicharts2); Anhøjs serieregler mot "
                   "medianen"),
    "g_empty": ("No event in the period: {n} followed-up sessions without it.",
                "Ingen hendelse i perioden: {n} behandlinger fulgt opp uten den."),
    "g_hover_limits": ("Median {cl}, upper limit {ucl}", "Median {cl}, øvre grense {ucl}"),
    "g_hover_long_gap": ("Unusually long without the event (above the upper limit)",
                         "Uvanlig lenge uten hendelsen (over øvre grense)"),
    "legend_g_points": ("Sessions between events", "Behandlinger mellom hendelser"),
    "legend_g_ucl": ("Upper 3-sigma limit", "Øvre 3-sigma-grense"),
    "legend_median": ("Median", "Median"),
    "legend_g_long_gap": ("Long gap (better)", "Langt opphold (bedre)"),
    "legend_g_open": ("Since the last event", "Siden siste hendelse"),
    "g_open_label": ("so far", "så langt"),
    "axis_sessions_between": ("Sessions between events", "Behandlinger mellom hendelser"),
    "g_auto_note": ("A rare outcome: a monthly chart would expect fewer than one event a month, so most months are "
                    "0 % and a single event crosses the limit. The g-chart of the sessions between events is shown "
                    "instead (choose p for the monthly chart).",
                    "Et sjeldent utfall: et månedsdiagram ville vente under én hendelse i måneden, så de fleste "
                    "månedene er 0 % og én enkelt hendelse krysser grensen. Derfor vises g-diagrammet over "
                    "behandlingene mellom hendelsene (velg p for månedsdiagrammet)."),
    "g_rare_note": ("A rare outcome: fewer than one event is expected a month, so most months are 0 % and a single "
                    "event crosses the limit. The g-chart of the sessions between events lists single events and "
                    "is shown to the roles that see sessions.",
                    "Et sjeldent utfall: under én hendelse er ventet i måneden, så de fleste månedene er 0 % og én "
                    "enkelt hendelse krysser grensen. g-diagrammet over behandlingene mellom hendelsene viser "
                    "enkelthendelser og vises for rollene som ser behandlinger."),
    "rules": ("Rules", "Regler"),
    "rules_anhoej": ("Anhøj", "Anhøj"),
    "rules_mdc": ("NHS MDC", "NHS MDC"),
    "rules_help": ("Anhøj: 3-sigma limits plus the run rules (longest run, number of crossings). Making Data "
                   "Count (NHS): 3-sigma limits, shift of 7, trend of 7, 2 of 3 beyond 2 sigma.",
                   "Anhøj: 3-sigma-grenser og seriereglene (lengste serie, antall kryssinger). Making Data "
                   "Count (NHS): 3-sigma-grenser, skift på 7, trend på 7, 2 av 3 utenfor 2 sigma."),
    "period_choice": ("Period", "Periode"),
    "definition": ("Definition", "Definisjon"),
    "eligible": ("Denominator", "Nevner"),
    "window": ("Window", "Vindu"),
    "spc_title": ("{outcome}: {chart} by {period}", "{outcome}: {chart} per {period}"),
    "spc_rules_anhoej": ("signals: outside the limits and Anhøj run rules",
                         "signaler: utenfor grensene og Anhøjs serieregler"),
    "spc_rules_mdc": ("signals: Making Data Count rules", "signaler: Making Data Count-regler"),
    "spc_runs_note": ("Anhøj: {text}", "Anhøj: {text}"),
    "runs_longest_note": ("longest run {run} > {limit}", "lengste serie {run} > {limit}"),
    "legend_rate": ("Rate", "Andel"),
    "legend_centre": ("Centre line", "Senterlinje"),
    "legend_limits": ("3-sigma limits", "3-sigma-grenser"),
    "legend_limits_2": ("2-sigma limits", "2-sigma-grenser"),
    "legend_signal_concerning": ("Signal: concerning", "Signal: bekymring"),
    "legend_signal_improving": ("Signal: improving", "Signal: forbedring"),
    "legend_selected": ("Selected for review", "Valgt for gjennomgang"),
    "axis_rate": ("% of sessions", "% av behandlingene"),
    "axis_sessions": ("Sessions (denominator)", "Behandlinger (nevner)"),
    "axis_treatment_date": ("Treatment date", "Behandlingsdato"),
    "spc_empty": ("No closed periods to chart yet.", "Ingen lukkede perioder å vise ennå."),
    "breakdown": ("Breakdown", "Fordeling"),
    "breakdown_caption": ("The same rate split by indication, area treated and product (a session treating "
                          "several areas counts once in each). The dashed line is the rate over all of them.",
                          "Samme andel fordelt på indikasjon, behandlet område og preparat (en behandling av "
                          "flere områder telles én gang i hvert). Stiplet linje er andelen for alle."),
    "breakdown_title": ("{outcome} by {by}", "{outcome} etter {by}"),
    "by_indication": ("indication", "indikasjon"),
    "by_area": ("area", "område"),
    "by_product": ("product", "preparat"),
    "by_clinician": ("clinician", "behandler"),
    "by_month": ("month", "måned"),
    "by_quarter": ("quarter", "kvartal"),
    "by_week": ("week", "uke"),
    "overall": ("All", "Alle"),
    "case_review": ("Sessions behind a point", "Behandlinger bak et punkt"),
    "review_period": ("Period", "Periode"),
    "review_which": ("Sessions", "Behandlinger"),
    "review_numerator": ("With the event", "Med hendelsen"),
    "review_denominator": ("All in the rate", "Alle i andelen"),
    "review_lost": ("Lost to follow-up", "Uten oppfølging"),
    "review_none": ("No sessions of this kind in the period.", "Ingen slike behandlinger i perioden."),
    "col_treatment_id": ("Treatment", "Behandling"),
    "col_patient_ref": ("Patient (pseudonym)", "Pasient (pseudonym)"),
    "col_treated_on": ("Treated", "Behandlet"),
    "col_areas": ("Areas", "Områder"),
    "col_units": ("Units", "Enheter"),
    "col_repeat": ("Repeat", "Gjentatt"),
    "col_event": ("Event", "Hendelse"),
    "col_contacts": ("Contacts", "Kontakter"),
    "col_last_effect": ("Effect at last contact", "Effekt ved siste kontakt"),
    "report_band": ("Reporting month: {period}", "Rapporteringsmåned: {period}"),
    # the case review over the whole period, per clinician, with why each session counts (issue 16)
    "review_whole_period": ("Whole period", "Hele perioden"),
    "review_clinician": ("Clinician", "Behandler"),
    "review_all_clinicians": ("All clinicians", "Alle behandlere"),
    "col_why": ("Why it counts", "Hvorfor den telles"),
    "col_why_help": ("What put the session in the numerator (or why it is in the rate without the event), from "
                     "the outcome's definition: the follow-up answer and its day, the correction's day, a risk "
                     "answered yes, or no follow-up by the window's last day.",
                     "Hva som gjør at behandlingen telles som hendelse (eller hvorfor den er med i andelen uten "
                     "hendelsen), etter utfallets definisjon: svaret ved kontrollen og dagen, dagen for "
                     "korrigeringen, en risiko besvart med ja, eller ingen oppfølging innen vinduets siste dag."),
    "col_treatment": ("Treated with", "Behandlet med"),
    "col_treatment_help": ("Areas, product and units (native units of the product).",
                           "Områder, preparat og enheter (preparatets egne enheter)."),
    "why_correction": ("correction on day {day}", "korrigert dag {day}"),
    "why_risks": ("treated despite {risks}", "behandlet til tross for {risks}"),
    "why_recorded": ("{answers} at the follow-up on day {day}", "{answers} ved kontrollen dag {day}"),
    "why_lost_event": ("no follow-up by day {day}: counts as the event",
                       "ingen oppfølging innen dag {day}: telles som hendelse"),
    "why_lost": ("no follow-up by day {day}: left out of the rate",
                 "ingen oppfølging innen dag {day}: holdt utenfor andelen"),
    "why_no_event": ("no event at the follow-up on day {day}", "ingen hendelse ved kontrollen dag {day}"),
    "why_no_event_plain": ("no event", "ingen hendelse"),
    "answer_effect": ("effect {value}", "effekt {value}"),
    "answer_headache": ("{n} headache days (before: {base})", "{n} hodepinedager (før: {base})"),
    "answer_hdss": ("HDSS {n} (before: {base})", "HDSS {n} (før: {base})"),
    "answer_satisfaction": ("satisfaction {n} of 5", "fornøydhet {n} av 5"),
    "risk_neuromuscular": ("a neuromuscular disease", "nevromuskulær sykdom"),
    "risk_aminoglycoside": ("aminoglycoside antibiotics", "aminoglykosid-antibiotika"),
    "risk_pregnant": ("pregnancy or breastfeeding", "graviditet eller amming"),
    "review_download": ("Download the review list (CSV)", "Last ned gjennomgangslisten (CSV)"),
    "review_download_help": ("Every session of this list (all pages) with why it counts, for the quality meeting: "
                             "internal, with pseudonymous references; the download is recorded in the access log.",
                             "Alle behandlingene i listen (alle sider) med hvorfor de telles, til kvalitetsmøtet: "
                             "internt, med pseudonyme referanser; nedlastingen føres i tilgangsloggen."),
    # --- products and lots (dashboard/pages/lots.py, issue 13) ---------------------------------------------------
    "lots_caption": ("For the responsible doctor: one outcome by lot, product, dilution and dose band, the lots "
                     "and products against the clinic rate, the sessions treated with an expired lot, and the "
                     "recall list of a lot.",
                     "For ansvarlig lege: ett utfall etter parti, preparat, fortynning og dosenivå, partiene og "
                     "preparatene mot klinikkens andel, behandlinger med utløpt parti og tilbakekallingslisten for "
                     "et parti."),
    "lots_caption_product_only": ("One outcome by product, and the products against the clinic rate.",
                                  "Ett utfall etter preparat, og preparatene mot klinikkens andel."),
    "lots_for_the_doctor": ("Lots, dilutions, dose bands and the recall list are for the responsible doctor.",
                            "Partier, fortynning, dosenivå og tilbakekallingslisten er for ansvarlig lege."),
    "lots_by": ("Rate by", "Andel etter"),
    "lots_funnel_by": ("Funnel by", "Traktplott etter"),
    "lots_rates": ("Rate by group", "Andel per gruppe"),
    "lots_funnel": ("Against the clinic rate", "Mot klinikkens andel"),
    "lots_funnel_caption": ("Each lot or product's rate by its number of sessions, with the 95 % and 99.8 % limits "
                            "around the clinic rate. A lot above the upper limit has more events than chance "
                            "explains: check its storage, reconstitution and supplier, and consider a recall list.",
                            "Hvert partis eller preparats andel etter antall behandlinger, med 95 %- og 99,8 %-"
                            "grenser rundt klinikkens andel. Et parti over øvre grense har flere hendelser enn "
                            "tilfeldighet forklarer: sjekk oppbevaring, oppblanding og leverandør, og vurder en "
                            "tilbakekallingsliste."),
    "lots_flagged_high": ("Above the 99.8 % limit ({by}): {units}. More {outcome} than chance explains.",
                          "Over 99,8 %-grensen ({by}): {units}. Mer {outcome} enn tilfeldighet forklarer."),
    "lots_not_recorded": ("{n} eligible sessions have no {what} recorded and are not in the chart.",
                          "{n} aktuelle behandlinger har ikke registrert {what} og er ikke med i figuren."),
    "lots_dilution_value": ("{ml} ml per 100 U", "{ml} ml per 100 E"),
    "by_lot": ("lot", "parti"),
    "by_dilution": ("dilution", "fortynning"),
    "by_dose_band": ("dose band", "dosenivå"),
    "dose_band_below_label": ("Below the label dose (under 75 %)", "Under preparatomtalens dose (under 75 %)"),
    "dose_band_at_label": ("At the label dose (75-125 %)", "Preparatomtalens dose (75-125 %)"),
    "dose_band_above_label": ("Above the label dose (over 125 %)", "Over preparatomtalens dose (over 125 %)"),
    "lots_expired": ("Sessions treated with an expired lot", "Behandlinger med utløpt parti"),
    "lots_expired_none": ("No session was treated after its lot's expiry date (sessions without an expiry date "
                          "recorded are not assessed).",
                          "Ingen behandling ble gitt etter partiets utløpsdato (behandlinger uten registrert "
                          "utløpsdato er ikke vurdert)."),
    "col_lot": ("Lot", "Parti"),
    "col_lot_expiry": ("Lot expiry", "Partiets utløpsdato"),
    "lots_recall": ("Recall list", "Tilbakekallingsliste"),
    "lots_recall_caption": ("Every session treated with a lot, whatever the filters in the sidebar: patient "
                            "reference, date, clinician, follow-up status and any adverse outcome. A case list: "
                            "viewing and downloading it are logged.",
                            "Alle behandlinger med et parti, uansett filtre i sidepanelet: pasientreferanse, dato, "
                            "behandler, oppfølgingsstatus og eventuelle bivirkninger. En saksliste: visning og "
                            "nedlasting logges."),
    "lots_recall_lot": ("Lot number", "Partinummer"),
    "lots_recall_none": ("No session has lot {lot}.", "Ingen behandling har parti {lot}."),
    # --- adverse events (pages/adverse_events.py, pipelines/release/adverse_events.py) -------------------------
    "ae_caption": ("Serious or unexpected reactions to report to the medicines agency (melde.no): double vision, "
                   "allergic reaction, infection, and ptosis still present after its usual window. Open a "
                   "de-identified draft, send it through melde.no, then record the date and the reference here. A "
                   "case list: viewing, drafts and files are logged.",
                   "Alvorlige eller uventede reaksjoner som skal meldes til DMP (melde.no): dobbeltsyn, allergisk "
                   "reaksjon, infeksjon, og ptose som varer utover det vanlige. Åpne et avidentifisert utkast, send "
                   "det via melde.no, og registrer dato og referanse her. En saksliste: visning, utkast og filer "
                   "logges."),
    "ae_for_the_doctor": ("Adverse-event reports are for the responsible doctor.",
                          "Bivirkningsmeldinger er for ansvarlig lege."),
    "ae_none": ("No reportable reaction has been recorded.", "Ingen meldepliktig reaksjon er registrert."),
    "ae_status_not_reported": ("Not reported", "Ikke meldt"),
    "ae_status_reported": ("Reported", "Meldt"),
    "ae_bad_lines": ("Lines {lines} of the report file cannot be read; their reactions show as not reported.",
                     "Linje {lines} i meldefilen kan ikke leses; reaksjonene deres vises som ikke meldt."),
    "ae_unreadable": ("The report file cannot be read: {error}", "Meldefilen kan ikke leses: {error}"),
    "ae_pick": ("Reaction", "Reaksjon"),
    "ae_draft": ("Draft for melde.no", "Utkast til melde.no"),
    "ae_draft_caption": ("Copy the text into the form, or download it as PDF. It holds no name, birth date, patient "
                         "reference or treatment id: the draft number links it to the session in this list.",
                         "Kopier teksten inn i skjemaet, eller last den ned som PDF. Den inneholder ikke navn, "
                         "fødselsdato, pasientreferanse eller behandlings-ID: utkastnummeret kobler den til "
                         "behandlingen i denne listen."),
    "ae_download_pdf": ("Download the draft (PDF)", "Last ned utkastet (PDF)"),
    "ae_record": ("Record that it was reported", "Registrer at den er meldt"),
    "ae_reported_on": ("Date reported", "Meldt dato"),
    "ae_reference": ("melde.no reference", "Referanse fra melde.no"),
    "ae_reference_help": ("The receipt or case number melde.no gave the report (one line, at most {n} characters).",
                          "Kvitterings- eller saksnummeret melde.no ga meldingen (én linje, høyst {n} tegn)."),
    "ae_save": ("Save", "Lagre"),
    "ae_saved": ("Recorded as reported.", "Registrert som meldt."),
    "ae_not_saved": ("Not saved: {error}", "Ikke lagret: {error}"),
    "ae_history": ("Earlier records of this reaction (the latest counts)",
                   "Tidligere registreringer av denne reaksjonen (den siste gjelder)"),
    "col_draft_number": ("Draft", "Utkast"),
    "col_reaction": ("Reaction", "Reaksjon"),
    "col_onset_on": ("First recorded", "Først registrert"),
    "col_off_label": ("Off-label", "Off-label"),
    "col_report_status": ("Status", "Status"),
    "col_reported_on": ("Reported", "Meldt"),
    "col_report_reference": ("Reference", "Referanse"),
    "col_recorded_by": ("Recorded by", "Registrert av"),
    "col_recorded_at": ("Recorded at", "Registrert"),
    # --- clinicians --------------------------------------------------------------------------------------------
    "open_cases_of": ("{clinician}'s sessions: {outcome}, whole period", "Behandlingene til {clinician}: {outcome}, "
                      "hele perioden"),
    "col_cases": ("Cases", "Saker"),
    "open_cases_help": ("The clinician's sessions with the event over the whole period, with why each counts.",
                        "Behandlerens behandlinger med hendelsen i hele perioden, med hvorfor hver telles."),
    "clinicians_caption": ("Each clinician against the clinic rate: a funnel plot, not a league table. "
                           "Clinicians are listed by code, never ranked by rate.",
                           "Hver behandler mot klinikkens andel: et traktplott, ikke en rangering. Behandlerne "
                           "står etter kode, aldri sortert etter andel."),
    "funnel_method": ("Funnel limits", "Traktgrenser"),
    "method_arcsine": ("Arcsine (FunnelPlotR)", "Arcsin (FunnelPlotR)"),
    "method_exact": ("Exact binomial (Spiegelhalter)", "Eksakt binomisk (Spiegelhalter)"),
    "method_normal": ("Normal approximation", "Normaltilnærming"),
    "method_help": ("How the 95 % and 99.8 % limits around the clinic rate are computed.",
                    "Hvordan 95 % og 99,8 % grensene rundt klinikkens andel beregnes."),
    "overdispersion": ("Overdispersion", "Overspredning"),
    "od_auto": ("Automatic", "Automatisk"),
    "od_on": ("Always adjust", "Juster alltid"),
    "od_off": ("Never adjust", "Juster aldri"),
    "od_help": ("Widen the limits by the between-clinician variance (random effects, DerSimonian-Laird) when "
                "the clinicians vary more than chance allows. Automatic adjusts exactly when FunnelPlotR does.",
                "Utvid grensene med variansen mellom behandlerne (tilfeldige effekter, DerSimonian-Laird) når de "
                "varierer mer enn tilfeldighet tilsier. Automatisk justerer når FunnelPlotR gjør det."),
    "funnel_title": ("{outcome}: each clinician against the clinic rate of {target}",
                     "{outcome}: hver behandler mot klinikkens andel på {target}"),
    "funnel_subtitle": ("Funnel plot, {method} limits at 95 % and 99.8 %; overdispersion {od}",
                        "Traktplott, {method} grenser på 95 % og 99,8 %; overspredning {od}"),
    "od_applied": ("applied (φ = {phi}, τ² = {tau2})", "justert for (φ = {phi}, τ² = {tau2})"),
    "od_not_applied": ("not applied (φ = {phi})", "ikke justert (φ = {phi})"),
    "legend_target": ("Clinic rate", "Klinikkens andel"),
    "legend_95": ("95 % limits", "95 % grenser"),
    "legend_998": ("99.8 % limits", "99,8 % grenser"),
    "legend_inside": ("Within the limits", "Innenfor grensene"),
    "legend_high": ("Above the 99.8 % limit", "Over 99,8 % grensen"),
    "legend_low": ("Below the 99.8 % limit", "Under 99,8 % grensen"),
    "legend_focus": ("Selected clinician", "Valgt behandler"),
    "funnel_position": ("Funnel position", "Plass i trakten"),
    "pos_high": ("above 99.8 %", "over 99,8 %"),
    "pos_low": ("below 99.8 %", "under 99,8 %"),
    "pos_high95": ("above 95 %", "over 95 %"),
    "pos_low95": ("below 95 %", "under 95 %"),
    "pos_inside": ("within", "innenfor"),
    "pos_funnelplotr_differs": ("{ours} (FunnelPlotR's funnel: {theirs})", "{ours} (FunnelPlotRs trakt: {theirs})"),
    "funnel_robust_note": ("The funnel's clinic rate and overdispersion are estimated without {clinicians}: judged "
                           "against the others alone, they lie outside the limits, and left in they would widen the "
                           "limits they are judged by (phi {phi} without them, {phi_all} with them, as FunnelPlotR "
                           "estimates it).",
                           "Traktens klinikkandel og overspredning er beregnet uten {clinicians}: målt mot de andre "
                           "alene ligger de utenfor grensene, og tatt med ville de utvidet grensene de selv måles "
                           "mot (phi {phi} uten dem, {phi_all} med dem, slik FunnelPlotR beregner den)."),
    "funnel_empty": ("No funnel: the outcome has no events (or only events) under these filters.",
                     "Ingen trakt: utfallet har ingen hendelser (eller bare hendelser) med disse filtrene."),
    "clinician_table": ("Clinicians", "Behandlere"),
    "col_oe": ("Observed / expected", "Observert / forventet"),
    "col_oe_help": ("Observed events divided by the events expected from each session's case mix (indication, "
                    "areas, product, first or repeat treatment) at the rates of the OTHER clinicians in the "
                    "period (never the clinician's own, whatever the filters): indirect standardisation, exact "
                    "Poisson 95 % interval. 1.0 = as expected.",
                    "Observerte hendelser delt på forventet ut fra hver behandlings pasientsammensetning "
                    "(indikasjon, områder, preparat, første eller gjentatt behandling) med andelene til de ANDRE "
                    "behandlerne i perioden (aldri behandlerens egne, uansett filter): indirekte standardisering, "
                    "eksakt Poisson 95 % intervall. 1,0 = som forventet."),
    "col_oe_interval": ("O/E 95 %", "O/F 95 %"),
    "col_cusum": ("CUSUM status", "CUSUM-status"),
    "cusum_in control": ("in control", "i kontroll"),
    "cusum_watch": ("watch", "følg med"),
    "cusum_signal": ("signal", "signal"),
    "cusum_signals_text": ("{n}, last {last}", "{n}, sist {last}"),
    "cusum_too_rare": ("CUSUM not drawn: the event is too rare for the threshold rule (one event would already "
                       "signal).",
                       "CUSUM ikke tegnet: hendelsen er for sjelden for terskelregelen (én hendelse ville "
                       "allerede gi signal)."),
    "cusum_no_events": ("CUSUM not drawn: no events (or only events) under these filters, or the other "
                        "clinicians' sessions so far hold too few events (or too few without one) to say what to "
                        "expect.",
                        "CUSUM ikke tegnet: ingen hendelser (eller bare hendelser) med disse filtrene, eller de "
                        "andre behandlernes behandlinger så langt har for få hendelser (eller for få uten) til å si "
                        "hva som er forventet."),
    "tab_funnel": ("Funnel plot", "Traktplott"),
    "tab_oe": ("Case-mix adjusted", "Justert for pasientsammensetning"),
    "tab_cusum": ("CUSUM", "CUSUM"),
    "oe_title": ("{outcome}: observed / expected events after case mix",
                 "{outcome}: observerte / forventede hendelser etter pasientsammensetning"),
    "oe_subtitle": ("Expected at the other clinicians' rates (leave-one-out); exact Poisson 95 % interval; "
                    "1 = as expected",
                    "Forventet med de andre behandlernes andeler (utelat én); eksakt Poisson 95 % intervall; "
                    "1 = som forventet"),
    "axis_oe": ("Observed / expected", "Observert / forventet"),
    "focus_clinician": ("CUSUM for clinician", "CUSUM for behandler"),
    "cusum_title": ("{outcome}: risk-adjusted CUSUM for {clinician}",
                    "{outcome}: risikojustert CUSUM for {clinician}"),
    "cusum_subtitle": ("Updated per session in treatment order; a point is a treatment day at its highest value. "
                       "Looks for a doubling of the odds of the event; threshold {h} gives an in-control average "
                       "run length of {arl}; restarts from 0 after a signal",
                       "Oppdatert per behandling i behandlingsrekkefølge; et punkt er en behandlingsdag ved "
                       "dagens høyeste verdi. Ser etter en dobling av oddsen for hendelsen; terskel {h} gir i "
                       "snitt {arl} mellom falske alarmer; starter på 0 igjen etter et signal"),
    "axis_cusum": ("CUSUM", "CUSUM"),
    "legend_cusum": ("CUSUM (updated per session; a point = a treatment day, its highest value)",
                     "CUSUM (oppdatert per behandling; et punkt = en behandlingsdag, dagens høyeste verdi)"),
    "legend_threshold": ("Threshold", "Terskel"),
    "legend_cusum_signal": ("Signal", "Signal"),
    # the CUSUM by month, for roles without case access (docs/security.md)
    "legend_cusum_month": ("CUSUM (at month end)", "CUSUM (ved månedsslutt)"),
    "legend_cusum_signal_month": ("Signal that month", "Signal den måneden"),
    "hover_cusum_month_end": ("CUSUM at month end: {value} / {threshold}",
                              "CUSUM ved månedsslutt: {value} / {threshold}"),
    "hover_cusum_peak": ("Highest that month: {value}", "Høyeste den måneden: {value}"),
    "cusum_subtitle_month": ("By month for your role (no single days or sessions): the value at each month's end. "
                             "Threshold {h}, in-control average run length {arl}; restarts from 0 after "
                             "a signal",
                             "Per måned for din rolle (ingen enkeltdager eller behandlinger): verdien ved hver "
                             "månedsslutt. Terskel {h}, i snitt {arl} mellom falske alarmer; starter "
                             "på 0 igjen etter et signal"),
    "axis_month": ("Month", "Måned"),
    "period_whole_months": ("For your role the period covers whole calendar months: {start} to {end}.",
                            "For din rolle gjelder perioden hele kalendermåneder: {start} til {end}."),
    # small cells hidden for roles without session-level access (pipelines/metrics/small_cells.py, docs/security.md)
    "cell_hidden": ("hidden (small cell)", "skjult (liten celle)"),
    "cusum_subtitle_span": ("By month for your role: the value at the end of each month, months with fewer than "
                            "{n} of the clinician's sessions joined to the next. Threshold {h}, in-control average "
                            "run length {arl}; restarts from 0 after a signal",
                            "Per måned for din rolle: verdien ved månedsslutt, måneder med færre enn {n} av "
                            "behandlerens behandlinger slått sammen med neste. Terskel {h}, i snitt {arl} "
                            "mellom falske alarmer; starter på 0 igjen etter et signal"),
    "legend_cusum_signal_span": ("Signal in the month(s) shown", "Signal i måned(ene) som vises"),
    "hover_cusum_span_peak": ("Highest in these months: {value}", "Høyeste i disse månedene: {value}"),
    "method_cells": ("Small cells for roles without case access", "Små celler for roller uten tilgang til saker"),
    "method_cells_text": ("The clinic manager sees no figure over fewer than {sessions}: a month, quarter, "
                          "clinician, indication, product or cost row with fewer sessions shows no rate, count or "
                          "interval and is not drawn, and where the hidden rows of a chart would add up to 1-{m} "
                          "sessions one more row is hidden, so a total minus the rows shown gives nothing back. "
                          "Centre lines, limits and funnel targets are then computed from the rows shown, and a "
                          "clinician's CUSUM is shown per span of months holding at least {n} of their sessions. "
                          "Event counts of 1-4 among {n} or more sessions are shown: they are the clinic's own "
                          "figures. The responsible doctor sees every cell.",
                          "Daglig leder ser ingen tall for færre enn {sessions}: en måned, et kvartal, en "
                          "behandler, indikasjon, et preparat eller en kostnadsrad med færre behandlinger viser ingen "
                          "andel, antall eller intervall og tegnes ikke, og der de skjulte radene i et diagram til "
                          "sammen ville utgjøre 1-{m} behandlinger, skjules én rad til, slik at en sum minus radene "
                          "som vises ikke gir noe tilbake. Midtlinjer, grenser og traktmål regnes da av radene som "
                          "vises, og en behandlers CUSUM vises per periode av måneder med minst {n} av behandlerens "
                          "behandlinger. Antall hendelser på 1-4 blant {n} eller flere behandlinger vises: det er "
                          "klinikkens egne tall. Ansvarlig lege ser alle celler."),
    # --- costs -------------------------------------------------------------------------------------------------
    "costs_caption": ("For the clinic manager: free corrections and what they cost. cost = units × the product's "
                      "price per unit on the correction date + chair minutes × the clinician's cost per minute + "
                      "consumables.",
                      "For daglig leder: gratis korrigeringer og hva de koster. kostnad = enheter × preparatets "
                      "pris per enhet på korrigeringsdatoen + stoltid i minutter × behandlerens kostnad per "
                      "minutt + forbruksmateriell."),
    "consumables": ("Consumables per correction (NOK)", "Forbruksmateriell per korrigering (kr)"),
    "consumables_help": ("A fixed amount per correction for needles, swabs and the like. Changing it recomputes "
                         "every cost on this page and in the export.",
                         "Et fast beløp per korrigering for kanyler, kompresser og lignende. Endringen beregner "
                         "alle kostnader på siden og i eksporten på nytt."),
    "kpi_correction_rate": ("Correction rate", "Korrigeringsandel"),
    "kpi_correction_rate_help": ("Primary sessions corrected within 28 days (the outcome 'correction'), "
                                 "with its 95 % interval.",
                                 "Første behandlinger korrigert innen 28 dager (utfallet «korrigering»), med 95 % "
                                 "intervall."),
    "kpi_cost": ("Correction cost", "Korrigeringskostnad"),
    "kpi_cost_per_100": ("Per 100 treatments", "Per 100 behandlinger"),
    "kpi_cost_per_100_help": ("Correction cost per 100 primary treatments.",
                              "Kostnad for korrigeringer per 100 første behandlinger."),
    "kpi_cost_share": ("Share of revenue", "Andel av omsetningen"),
    "kpi_cost_share_help": ("Correction cost as a share of the treatment revenue (price charged) in the period.",
                            "Kostnad for korrigeringer som andel av behandlingsinntektene i perioden."),
    "correction_rate_title": ("Correction rate by month of the primary treatment",
                              "Korrigeringsandel etter måned for første behandling"),
    "correction_rate_subtitle": ("Share of primary sessions corrected within 28 days; band = 95 % interval",
                                 "Andel første behandlinger korrigert innen 28 dager; bånd = 95 % intervall"),
    "cost_month_title": ("Correction cost by month of the correction", "Kostnad for korrigeringer per måned"),
    "cost_month_subtitle": ("Product, chair time and consumables (NOK)",
                            "Preparat, stoltid og forbruksmateriell (kr)"),
    "cost_product": ("Product", "Preparat"),
    "cost_chair": ("Chair time", "Stoltid"),
    "cost_consumables": ("Consumables", "Forbruksmateriell"),
    "axis_nok": ("NOK", "kr"),
    "axis_nok_per_100": ("NOK per 100 treatments", "kr per 100 behandlinger"),
    "cost_by_title": ("Correction cost per 100 primary treatments, by {by}",
                      "Korrigeringskostnad per 100 første behandlinger, etter {by}"),
    "cost_by_subtitle": ("Corrections are counted with the clinician and product of the session they correct",
                         "Korrigeringer telles hos behandleren og preparatet for behandlingen de korrigerer"),
    "col_corrections": ("Corrections", "Korrigeringer"),
    "col_primary": ("Primary treatments", "Første behandlinger"),
    "col_cost": ("Correction cost (NOK)", "Kostnad (kr)"),
    "col_revenue": ("Revenue (NOK)", "Omsetning (kr)"),
    "col_cost_share": ("Share of revenue", "Andel av omsetning"),
    "assumptions": ("Price and cost assumptions", "Forutsetninger for pris og kostnad"),
    "product_prices": ("Product prices (per native unit, dated)", "Preparatpriser (per enhet, datert)"),
    "clinician_costs": ("Clinician chair-time cost", "Behandlernes kostnad for stoltid"),
    "col_valid_from": ("Valid from", "Gjelder fra"),
    "col_cost_per_unit": ("NOK / unit", "kr / enhet"),
    "col_factor": ("Botox factor", "Botox-faktor"),
    "col_in_force": ("In force now", "Gjelder nå"),
    "col_profession": ("Profession", "Yrke"),
    "col_cost_per_minute": ("NOK per minute", "kr per minutt"),
    "costs_empty": ("No corrections or treatments in the filters.", "Ingen korrigeringer eller behandlinger i "
                    "filtrene."),
    # --- costs: is it improving, counts that differ, intervals, the incomplete month, amounts (issue 16, item 6) --
    "cost_compare_title": ("Is it improving? Correction cost per 100 primary treatments",
                           "Blir det bedre? Korrigeringskostnad per 100 første behandlinger"),
    "cost_compare_year": ("This year so far ({period})", "I år så langt ({period})"),
    "cost_compare_12": ("Last 12 months ({period})", "Siste 12 måneder ({period})"),
    "cost_compare_delta": ("{change} ({share}) against {period}", "{change} ({share}) mot {period}"),
    "cost_compare_lower": ("lower, the 95 % intervals do not overlap",
                           "lavere, 95 %-intervallene overlapper ikke"),
    "cost_compare_higher": ("higher, the 95 % intervals do not overlap",
                            "høyere, 95 %-intervallene overlapper ikke"),
    "cost_compare_unclear": ("no clear change, the 95 % intervals overlap",
                             "ingen tydelig endring, 95 %-intervallene overlapper"),
    "cost_compare_none": ("nothing to compare with {period} (no whole month, or too few treatments)",
                          "ingenting å sammenligne med {period} (ingen hel måned, eller for få behandlinger)"),
    "cost_compare_detail": ("{period}: {value} per 100 (95 % interval {low} – {high}; corrections: {corrections}, "
                            "primary treatments: {primary})",
                            "{period}: {value} per 100 (95 %-intervall {low} – {high}; korrigeringer: {corrections}, "
                            "første behandlinger: {primary})"),
    "cost_compare_help": ("Whole calendar months up to the newest month that has ended, against the same months a "
                          "year earlier: an unfinished month would compare part of a month with a whole one. The "
                          "sidebar's dates do not apply here; its other filters do. The interval reflects how many "
                          "corrections there were (few corrections, wide interval), not how much each one cost. "
                          "Corrections of the last weeks' treatments may still come.",
                          "Hele kalendermåneder til og med den siste avsluttede måneden, mot de samme månedene ett "
                          "år tidligere: en uferdig måned ville sammenligne en del av en måned med en hel. "
                          "Datoene i sidepanelet gjelder ikke her; de andre filtrene gjør det. Intervallet viser "
                          "usikkerheten fra antallet korrigeringer (få korrigeringer, bredt intervall), ikke hvor "
                          "mye hver enkelt kostet. Korrigeringer av de siste ukenes behandlinger kan fortsatt komme."),
    "costs_counts_differ": ("Why two counts: the correction rate counts {rate_n} corrections of {rate_den} primary "
                            "treatments whose {days}-day window has closed (corrected within {days} days, by the "
                            "month of the treatment); the costs count all {cost_n} correction sessions given "
                            "({late} after day {days}) against all {primary_n} primary treatments in the period "
                            "(by the month of the correction).",
                            "Hvorfor to tall: korrigeringsandelen teller {rate_n} korrigeringer av {rate_den} "
                            "første behandlinger der {days}-dagersvinduet er lukket (korrigert innen {days} dager, "
                            "etter behandlingsmåned); kostnadene teller alle {cost_n} korrigeringene som er gitt "
                            "({late} etter dag {days}) mot alle {primary_n} første behandlinger i perioden (etter "
                            "korrigeringsmåned)."),
    "cost_incomplete_month": ("{month}: incomplete, data to {day}", "{month}: ufullstendig, data til {day}"),
    "col_corrections_of_primary": ("Corrections / primary treatments", "Korrigeringer / første behandlinger"),
    "col_per_100_interval": ("Per 100 treatments (NOK), 95 % interval",
                             "Per 100 behandlinger (kr), 95 %-intervall"),
    "cost_group_caption": ("Each figure with its 95 % interval (the line on the bar) and its number of primary "
                           "treatments (n): with few treatments a clinician or product can look high or low by "
                           "chance. Listed by code, not ranked.",
                           "Hvert tall med 95 %-intervallet (streken på stolpen) og antallet første behandlinger "
                           "(n): med få behandlinger kan en behandler eller et preparat se høy eller lav ut ved en "
                           "tilfeldighet. Sortert etter kode, ikke rangert."),
    "amount_invalid": ("“{text}” is not an amount in kroner: write it as {example} (digits, at most one decimal "
                       "sign and two decimals). The page uses {used}.",
                       "«{text}» er ikke et beløp i kroner: skriv det som {example} (sifre, høyst ett "
                       "desimaltegn og to desimaler). Siden bruker {used}."),
    "amount_out_of_range": ("{text} is outside 0 – {most}: the page uses {used}.",
                            "{text} er utenfor 0 – {most}: siden bruker {used}."),
    "whatif_invalid": ("Not an amount, so left as loaded: {cells}. Write kroner as {example}.",
                       "Ikke et beløp, så det innlastede beholdes: {cells}. Skriv kroner som {example}."),
    # --- responses ---------------------------------------------------------------------------------------------
    "responses_caption": ("Responder rates for migraine, tension headache and hyperhidrosis, and how much the "
                          "headache days change. Responder rate = 1 - the registry's non-response rate.",
                          "Andel med effekt for migrene, spenningshodepine og hyperhidrose, og hvor mye "
                          "hodepinedagene endres. Andel med effekt = 1 - andelen uten bedring i registeret."),
    "responder_rate": ("Responder rate", "Andel med effekt"),
    "responders": ("Responders", "Med effekt"),
    "non_responders": ("Non-responders", "Uten effekt"),
    "responder_of": ("{num} of {den} responded", "{num} av {den} fikk effekt"),
    "responder_reference": ("Trials: {text}", "Studier: {text}"),
    "responder_reference_migraine": ("44.8 % responders (PREEMPT, week 24)", "44,8 % med effekt (PREEMPT, uke 24)"),
    "responder_reference_hyperhidrosis": ("75 % responders on HDSS (axillary, week 4; 94 % on sweat weight)",
                                          "75 % med effekt målt med HDSS (armhuler, uke 4; 94 % målt som "
                                          "svettevekt)"),
    "responder_reference_tension_headache": ("no published figure (off-label)",
                                             "ingen publisert andel (utenfor godkjent bruk)"),
    "not_in_filter": ("Not in the current filters.", "Ikke med i gjeldende filtre."),
    "responder_time_title": ("Responder rate by quarter of treatment", "Andel med effekt per kvartal"),
    "responder_time_subtitle": ("Band = 95 % interval; dotted line = published trial rate",
                                "Bånd = 95 % intervall; prikket linje = publisert andel i studier"),
    "headache_change": ("Change in headache days", "Endring i hodepinedager"),
    "headache_change_caption": ("Headache days per month at follow-up against the baseline diary. The lowest count "
                                "reported inside the window is used (the contact that decides response). Sessions "
                                "with no count at follow-up are shown separately, never as zero change.",
                                "Hodepinedager per måned ved kontroll mot dagboken før behandling. Laveste antall "
                                "rapportert innenfor vinduet brukes (kontrollen som avgjør effekt). Behandlinger "
                                "uten antall ved kontroll vises for seg, aldri som uendret."),
    "change_title": ("Mean change in headache days per month, by quarter",
                     "Gjennomsnittlig endring i hodepinedager per måned, per kvartal"),
    "change_subtitle": ("Error bars = 95 % interval of the mean", "Feilstolper = 95 % intervall for snittet"),
    "axis_change_days": ("Change in days per month", "Endring i dager per måned"),
    "distribution_title": ("Distribution of the change from baseline", "Fordeling av endringen fra før behandling"),
    "distribution_subtitle": ("Sessions per 10 % band; solid = at least 50 % fewer days (responder)",
                              "Behandlinger per 10 %-intervall; fylt = minst 50 % færre dager (effekt)"),
    "axis_pct_change": ("Change in headache days from baseline (%)", "Endring i hodepinedager fra før (%)"),
    "col_baseline": ("Baseline days / month", "Dager / måned før"),
    "col_follow_up": ("At follow-up", "Ved kontroll"),
    "col_change": ("Mean change", "Snittendring"),
    "col_pct_median": ("Median change", "Median endring"),
    "col_measured": ("With a count", "Med antall"),
    "col_lost_n": ("Lost to follow-up", "Uten oppfølging"),
    "hdss_title": ("Hyperhidrosis: drop in HDSS points", "Hyperhidrose: fall i HDSS-poeng"),
    "hdss_subtitle": ("Baseline (3 or 4) minus the score of the latest contact in the window; a drop of 2 or more "
                      "is a response",
                      "Før (3 eller 4) minus skåren ved siste kontroll i vinduet; et fall på 2 eller mer er "
                      "effekt"),
    "axis_hdss_drop": ("Drop in HDSS points", "Fall i HDSS-poeng"),
    # --- data quality ------------------------------------------------------------------------------------------
    "dq_caption": ("What was loaded, what was refused and why, how complete the follow-up is, and how fresh the "
                   "data is.",
                   "Hva som er lastet inn, hva som ble avvist og hvorfor, hvor komplett oppfølgingen er og hvor "
                   "ferske dataene er."),
    "fresh_snapshot": ("Snapshot", "Datasett"),
    "fresh_published": ("published {when}", "publisert {when}"),
    "fresh_treatment": ("Newest treatment", "Nyeste behandling"),
    "fresh_follow_up": ("Newest follow-up", "Nyeste kontroll"),
    "fresh_load": ("Last load", "Siste innlasting"),
    "today": ("today", "i dag"),
    "at_time": ("at {time}", "kl. {time}"),
    "rejected_summary": ("What still needs a fix", "Hva som må rettes"),
    "col_reason_kind": ("Kind of problem", "Type problem"),
    "col_files": ("Files", "Filer"),
    "col_first_rejected": ("First rejected", "Først avvist"),
    "kind_unknown reference": ("unknown reference (load the missing clinician / treatment, then retry)",
                               "ukjent referanse (last inn manglende behandler / behandling, prøv igjen)"),
    "kind_malformed": ("malformed line (correct the file)", "ødelagt linje (rett filen)"),
    "kind_duplicate in load": ("duplicate in the same load", "duplikat i samme innlasting"),
    "kind_date order": ("dates in the wrong order", "datoer i feil rekkefølge"),
    "kind_empty required value": ("required value missing", "påkrevd verdi mangler"),
    "kind_invalid value": ("invalid value", "ugyldig verdi"),
    "loads": ("Loads", "Innlastinger"),
    "col_loaded_at": ("Loaded at", "Lastet inn"),
    "col_file": ("File", "Fil"),
    "col_table": ("Table", "Tabell"),
    "col_rows_read": ("Read", "Lest"),
    "col_rows_loaded": ("Rows loaded", "Rader lastet"),
    "col_rows_rejected": ("Rejected", "Avvist"),
    "col_rows_inserted": ("New", "Nye"),
    "col_rows_updated": ("Updated", "Endret"),
    "rejected": ("Rejected rows waiting for a fix", "Avviste rader som venter på retting"),
    "rejected_caption": ("Each row the loader refused, with the file, row, column and reason. Fix the export "
                         "and load it again.",
                         "Hver rad innlastingen avviste, med fil, rad, kolonne og årsak. Rett eksporten og last "
                         "den inn igjen."),
    "rejected_none": ("No rejected rows.", "Ingen avviste rader."),
    "col_row": ("Row", "Rad"),
    "col_record": ("Record", "Post"),
    "col_column": ("Column", "Kolonne"),
    "col_reason": ("Reason", "Årsak"),
    "col_rejected_at": ("Rejected", "Avvist"),
    "completeness_title": ("Follow-up completeness by month and clinician",
                           "Oppfølging etter måned og behandler"),
    "completeness_caption": ("Share of the eligible sessions with a follow-up contact inside the window of the "
                             "chosen outcome. Months whose window is still open are not shown.",
                             "Andel aktuelle behandlinger med kontroll innenfor vinduet for valgt utfall. "
                             "Måneder der vinduet fortsatt er åpent vises ikke."),
    "completeness_outcome": ("Completeness for", "Oppfølging for"),
    "completeness_heatmap_title": ("{outcome}: share followed up", "{outcome}: andel fulgt opp"),
    "table_counts": ("Rows per table", "Rader per tabell"),
    "col_rows": ("Rows", "Rader"),
    # --- export ------------------------------------------------------------------------------------------------
    "export_caption": ("CSV files for quality audit: the same frames and provenance lines as "
                       "`python -m pipelines export`, with the current filters. The lines starting with # say "
                       "what the file is, from which snapshot, as of when and with which filters.",
                       "CSV-filer for kvalitetsrevisjon: samme tabeller og opphavslinjer som "
                       "`python -m pipelines export`, med gjeldende filtre. Linjene som starter med # sier hva "
                       "filen er, fra hvilket datasett, per når og med hvilke filtre."),
    "excel_format": ("Norwegian Excel format", "Norsk Excel-format"),
    "excel_help": ("Opens directly in Norwegian Excel with every figure as a number: semicolon separator, decimal "
                   "comma, whole counts without decimals, rates rounded to 6 decimals, yes / no instead of True / "
                   "False, headers and provenance lines in the page's language. Off: a plain CSV with the English "
                   "column names that analysis scripts read.",
                   "Åpnes direkte i norsk Excel med hvert tall som tall: semikolon som skilletegn, desimalkomma, hele "
                   "antall uten desimaler, andeler avrundet til 6 desimaler, ja / nei i stedet for True / False, "
                   "overskrifter og opphavslinjer på sidens språk. Av: en vanlig CSV med de engelske kolonnenavnene "
                   "som analyseskript leser."),
    "export_rates": ("Rates", "Andeler"),
    "export_rates_help": ("Counts, rate, Wilson interval, crude rate and follow-up completeness per period.",
                          "Antall, andel, Wilson-intervall, rå andel og oppfølging per periode."),
    "export_funnel": ("Funnel", "Trakt"),
    "export_funnel_help": ("Per clinician: rate, clinic target, 95 % and 99.8 % limits, z, flags.",
                           "Per behandler: andel, klinikkens andel, 95 % og 99,8 % grenser, z, flagg."),
    "export_spc": ("Control chart", "Styringsdiagram"),
    "export_spc_help": ("Per period: rate, centre line, limits, run rules and Making Data Count rules, the chart "
                        "part (a re-basing process change starts a new one) and the changes dated in the period; "
                        "the clinic's target with the variation and assurance readings.",
                        "Per periode: andel, senterlinje, grenser, serieregler og Making Data Count-regler, delen av "
                        "diagrammet (en endring som starter en ny del) og endringene datert i perioden; klinikkens "
                        "mål med variasjons- og måloppnåelsestolkningen."),
    "export_costs": ("Costs", "Kostnader"),
    "export_costs_help": ("Corrections, cost parts, cost per 100 primary treatments and share of revenue.",
                          "Korrigeringer, kostnadsdeler, kostnad per 100 første behandlinger og andel av omsetning."),
    "export_cusum": ("CUSUM", "CUSUM"),
    "export_cusum_help": ("One row per session in chart order (clinician, treatment day, treatment id): outcome, "
                          "expected risk, weight, CUSUM value, threshold and signal; sessions_n is 1 (a point is a "
                          "session), and the chart can be recomputed from the weights.",
                          "Én rad per behandling i diagrammets rekkefølge (behandler, behandlingsdag, "
                          "behandlings-id): utfall, forventet risiko, vekt, CUSUM-verdi, terskel og signal; "
                          "sessions_n er 1 (et punkt er en behandling), og diagrammet kan regnes ut igjen fra "
                          "vektene."),
    "export_oe": ("Observed / expected", "Observert / forventet"),
    "export_oe_help": ("One row per clinician: observed and expected events after case mix (at the other "
                       "clinicians' rates), O/E with its exact Poisson 95 % interval and the flag outside the 99.8 % "
                       "funnel limits (high, low or empty). Internal only: never a release.",
                       "Én rad per behandler: observerte og forventede hendelser etter pasientsammensetning (med "
                       "de andre behandlernes andeler), O/F med eksakt Poisson 95 % intervall og flagg utenfor "
                       "99,8 % traktgrensene (high, low eller tomt). Bare internt: aldri en utlevering."),
    "export_signals": ("Signals list", "Signalliste"),
    "export_signals_help": ("One row per episode of the overview's signals list: kind (spc, funnel, cusum), rule, "
                            "outcome, clinician (empty for the clinic), direction (high, low), concern (true when "
                            "that side is the worse one), first and last date, how many signals the episode "
                            "holds and the latest one's value and limit, and its review (open or reviewed, by whom, "
                            "when, concluding what). Internal only: never a release.",
                            "Én rad per episode i oversiktens signalliste: type (spc, funnel, cusum), regel, "
                            "utfall, behandler (tom for klinikken), retning (high, low), concern (true når den "
                            "siden er den ugunstige), første og siste dato, hvor mange signaler episoden har og "
                            "verdien og grensen til det siste, og gjennomgangen (åpen eller gjennomgått, av hvem, "
                            "når, med hvilken konklusjon). Bare internt: aldri en utlevering."),
    "export_by": ("Group by", "Grupper etter"),
    "export_by_none": ("Nothing (clinic)", "Ingenting (klinikken)"),
    "export_period_all": ("Whole period", "Hele perioden"),
    "export_download": ("Download {name}", "Last ned {name}"),
    "export_failed": ("This export cannot be made with these filters: {error}",
                      "Denne eksporten kan ikke lages med disse filtrene: {error}"),
    "export_filters": ("Filters in the files: {filters}", "Filtre i filene: {filters}"),
    # --- export: the file previewed before download (issue 16, item 7) -----------------------------------------
    "export_preview_file": ("Preview: the file's provenance lines and its first {n} rows, as the file holds them",
                            "Forhåndsvisning: filens opphavslinjer og de første {n} radene, slik filen har dem"),
    "export_suppresses_none": ("this release suppresses no cell", "denne utleveringen skjuler ingen celler"),
    # --- about -------------------------------------------------------------------------------------------------
    "about_caption": ("Generated from the outcome registry (pipelines/metrics/registry.py) and the statistics module: "
                      "what is counted, over which sessions and window, what loss to follow-up means, what it is "
                      "compared with, and how the limits are computed.",
                      "Laget fra utfallsregisteret (pipelines/metrics/registry.py) og statistikkmodulen: hva som telles, "
                      "blant hvilke behandlinger og i hvilket vindu, hva manglende oppfølging betyr, hva det "
                      "sammenlignes med og hvordan grensene beregnes."),
    "about_outcomes": ("Outcomes", "Utfall"),
    "about_methods": ("Statistical methods", "Statistiske metoder"),
    "about_denominator": ("Denominator", "Nevner"),
    "about_window": ("Window", "Vindu"),
    "about_lost": ("Lost to follow-up", "Manglende oppfølging"),
    "about_lost_event": ("counts as the event ({label}): the rate is over all eligible sessions",
                         "regnes som hendelsen ({label}): andelen er over alle aktuelle behandlinger"),
    "about_lost_excluded": ("excluded: the rate is among sessions followed up in the window; the crude rate over "
                            "all eligible sessions is its lower bound, and completeness is shown beside it",
                            "holdes utenfor: andelen gjelder behandlinger fulgt opp i vinduet; rå andel over alle "
                            "aktuelle er nedre grense, og andelen fulgt opp vises ved siden av"),
    "about_no_follow_up": ("needs no follow-up contact: every eligible session is counted",
                           "krever ingen kontroll: alle aktuelle behandlinger telles"),
    "about_reference": ("Reference", "Referanse"),
    "about_source": ("Source", "Kilde"),
    "method_wilson": ("Wilson 95 % interval", "Wilsons 95 % intervall"),
    "method_wilson_text": ("Every rate carries Wilson's score interval without continuity correction (as "
                           "PHEindicatormethods and R's prop.test(correct = FALSE)); it behaves well for small "
                           "counts and rates near 0.",
                           "Alle andeler har Wilsons intervall uten kontinuitetskorreksjon (som "
                           "PHEindicatormethods og R prop.test(correct = FALSE)); det fungerer godt for små antall "
                           "og andeler nær 0."),
    "method_spc": ("Control charts (p and p′)", "Styringsdiagram (p og p′)"),
    "method_spc_text": ("One point per month (or week / quarter) of treatment. Centre line = events / sessions "
                        "over the chart; 3-sigma limits from the binomial variance at each period's denominator "
                        "(p-chart). Laney's p′-chart multiplies sigma by the moving range of the z-scores / 1.128 "
                        "(moving ranges above 3.267 × their mean screened out), for large denominators. Checked "
                        "against qicharts2 0.8.1.",
                        "Ett punkt per behandlingsmåned (eller uke / kvartal). Senterlinje = hendelser / "
                        "behandlinger i hele diagrammet; 3-sigma-grenser fra binomisk varians med hver periodes "
                        "nevner (p-diagram). Laneys p′-diagram ganger sigma med glidende variasjonsbredde av "
                        "z-verdiene / 1,128 (bredder over 3,267 × snittet fjernes), for store nevnere. Kontrollert "
                        "mot qicharts2 0.8.1."),
    "method_anhoej": ("Anhøj run rules", "Anhøjs serieregler"),
    "method_anhoej_text": ("Non-random variation when the longest run of points on one side of the centre line "
                           "is longer than round(log2(n)) + 3, or the series crosses the centre line fewer times "
                           "than the 5 % quantile of Binomial(n - 1, 0.5) (n = useful points, points on the line "
                           "skipped).",
                           "Ikke-tilfeldig variasjon når lengste serie av punkter på samme side av senterlinjen er "
                           "lengre enn round(log2(n)) + 3, eller serien krysser senterlinjen færre ganger enn 5 % "
                           "kvantilen i Binomial(n - 1; 0,5) (n = nyttige punkter, punkter på linjen hoppes over)."),
    "method_mdc": ("Making Data Count (NHS)", "Making Data Count (NHS)"),
    "method_mdc_text": ("Special cause when a point is beyond the 3-sigma limits, {run} or more points in a row are "
                        "on one side of the centre line (shift) or rise or fall (trend), or 2 of 3 points lie "
                        "beyond the same 2-sigma limit. The overview's reading is that of the latest month: "
                        "common cause, or special cause on the concerning or improving side.",
                        "Spesiell variasjon når et punkt er utenfor 3-sigma-grensene, {run} eller flere punkter "
                        "på rad ligger på samme side av senterlinjen (skift) eller stiger eller faller (trend), "
                        "eller 2 av 3 punkter ligger utenfor samme 2-sigma-grense. Oversiktens tolkning gjelder "
                        "siste måned: vanlig variasjon, eller spesiell variasjon i bekymringsfull eller gunstig "
                        "retning."),
    "method_funnel": ("Funnel plots", "Traktplott"),
    "method_funnel_text": ("Each clinician's rate against the clinic rate (the pooled target), with 95 % "
                           "(z = {z95}) and 99.8 % (z = {z998}) limits as a function of the number of sessions "
                           "(Spiegelhalter 2005). Methods: arcsine (FunnelPlotR default), exact binomial "
                           "(Spiegelhalter's interpolated limits) or normal. Overdispersion: z-scores Winsorised at "
                           "10 %, φ and τ² by DerSimonian-Laird; 'automatic' widens the limits when τ² > 0, as "
                           "FunnelPlotR 0.6.0. A clinician outside 99.8 % is a signal. Checked against FunnelPlotR.",
                           "Hver behandlers andel mot klinikkens samlede andel, med 95 % (z = {z95}) og 99,8 % "
                           "(z = {z998}) grenser som funksjon av antall behandlinger (Spiegelhalter 2005). "
                           "Metoder: arcsin (standard i FunnelPlotR), eksakt binomisk (Spiegelhalters "
                           "interpolerte grenser) eller normal. Overspredning: z-verdier winsorisert på 10 %, φ og "
                           "τ² etter DerSimonian-Laird; «automatisk» utvider grensene når τ² > 0, som FunnelPlotR "
                           "0.6.0. En behandler utenfor 99,8 % er et signal. Kontrollert mot FunnelPlotR."),
    "method_oe": ("Observed / expected after case mix", "Observert / forventet etter pasientsammensetning"),
    "method_oe_text": ("Indirect standardisation against the rest of the clinic: each session's expected risk is "
                       "the rate in its stratum (indication × areas × product × first or repeat treatment) among "
                       "the OTHER clinicians' sessions in the period (leave-one-out: an outlier cannot hide in its "
                       "own reference), shrunk towards their overall rate by {shrink}, so a stratum a clinician has "
                       "to themself cannot explain their events away. Filters choose whose counts are shown, never "
                       "the reference: a clinician's O/E is the same filtered or not. A clinician whose O/E lies "
                       "outside the exact 99.8 % limits in a first pass is left out of everyone's reference, so "
                       "one outlier does not push every colleague below 1. A clinician's expected count is the sum "
                       "of the risks; O/E has an exact Poisson (Garwood) interval, with the expected count taken "
                       "as fixed.",
                       "Indirekte standardisering mot resten av klinikken: hver behandlings forventede risiko er "
                       "andelen i samme gruppe (indikasjon × områder × preparat × første eller gjentatt "
                       "behandling) blant de ANDRE behandlernes behandlinger i perioden (utelat én: en avviker kan "
                       "ikke gjemme seg i sin egen referanse), trukket mot deres samlede andel med {shrink}, så en "
                       "gruppe behandleren er alene om ikke kan forklare bort hendelsene. Filtre velger hvem som "
                       "vises, aldri referansen: en behandlers O/F er den samme med eller uten filter. En "
                       "behandler med O/F utenfor de eksakte 99,8 % grensene i en første runde holdes utenfor alle "
                       "referanser, så én avviker ikke skyver alle kollegene under 1. Behandlerens forventede "
                       "antall er summen av risikoene; O/F har eksakt Poisson-intervall (Garwood), med forventet "
                       "antall som fast."),
    "method_signals": ("The signals list and its false-alarm budget", "Signallisten og budsjettet for falske alarmer"),
    "method_signals_text": (
        "Each problem is listed once, as an episode: consecutive flagged months of one rule, or a CUSUM that crosses "
        "again within {gap} days of its restart. Clinicians are watched (funnel position and CUSUM on the list) for "
        "{per_clinician}; {case_by_case} are reviewed case by case, not by a chart; every other outcome has its "
        "clinic control chart on the list. Control charts list a closed month beyond the 3-sigma limits and "
        "Anhøj's run rules, where a month expects at least one event; the Making Data Count reading stays the "
        "variation icon. The CUSUM's in-control run length is {arl}. Budget: in a clinic of the demo's size where "
        "nothing is wrong, at most {budget} concerning episodes in 36 months (one a quarter), about {per_year} a "
        "year, measured by simulation; a tripled rate of one clinician is listed within about 5 months "
        "(docs/signal-budget.md).",
        "Hvert problem listes én gang, som en episode: flaggede måneder på rad for én regel, eller en CUSUM som "
        "slår ut igjen innen {gap} dager etter omstart. Behandlerne følges (plass i trakten og CUSUM på listen) for "
        "{per_clinician}; {case_by_case} gjennomgås sak for sak, ikke med et diagram; alle andre utfall har "
        "klinikkens styringsdiagram på listen. Styringsdiagrammene lister en lukket måned utenfor 3-sigma-grensene "
        "og Anhøjs regler for serier, der en måned venter minst én hendelse; Making Data Count-vurderingen er "
        "variasjonsikonet. CUSUM-ens gjennomsnittlige kjørelengde i kontroll er {arl}. Budsjett: i en klinikk på "
        "demoens størrelse der ingenting er galt, høyst {budget} bekymringsfulle episoder på 36 måneder (én i "
        "kvartalet), omtrent {per_year} i året, målt ved simulering; en tredoblet andel hos én behandler listes "
        "innen omtrent 5 måneder (docs/signal-budget.md)."),
    "method_cusum": ("Risk-adjusted CUSUM", "Risikojustert CUSUM"),
    "method_cusum_text": ("Bernoulli CUSUM per clinician (Steiner et al. 2000), updated once per session in "
                          "treatment order (sessions of the same day in the order of their treatment id), looking "
                          "for the odds of the event rising by a factor {odds}. Each session's expected risk uses "
                          "only what was known on its treatment day: its stratum's rate among the OTHER "
                          "clinicians' sessions whose windows had closed by then, shrunk towards their overall "
                          "rate by {shrink}; the chart starts once that reference holds {events} events. So a point "
                          "or signal once shown stays when later data arrive, and filters never change a "
                          "clinician's chart. The threshold h gives an in-control average run length of {arl} "
                          "(Markov-chain approximation, Brook and Evans 1972, at the clinician's mean expected "
                          "risk so far); after a signal the chart restarts from 0.",
                          "Bernoulli-CUSUM per behandler (Steiner mfl. 2000), oppdatert én gang per behandling i "
                          "behandlingsrekkefølge (samme dag i rekkefølge etter behandlings-id), som ser etter at "
                          "oddsen for hendelsen øker med en faktor {odds}. Hver behandlings forventede risiko "
                          "bruker bare det som var kjent på behandlingsdagen: andelen i gruppen blant de ANDRE "
                          "behandlernes behandlinger med lukket vindu da, trukket mot deres samlede andel med "
                          "{shrink}; diagrammet starter når referansen har {events} hendelser. Et punkt eller "
                          "signal som er vist, blir stående når nye data kommer, og filtre endrer aldri en "
                          "behandlers diagram. Terskelen h gir i snitt {arl} mellom falske alarmer (Markov-kjede, "
                          "Brook og Evans 1972, ved behandlerens gjennomsnittlige forventede risiko så langt); "
                          "etter et signal starter diagrammet på 0 igjen."),
    "method_small": ("Small numbers", "Små tall"),
    "method_small_text": ("Rates over fewer than {sessions} are drawn hollow and marked, never hidden. "
                          "Exports that leave the clinic should suppress small cells.",
                          "Andeler over færre enn {sessions} tegnes hule og merkes, men skjules aldri. "
                          "Eksport som forlater klinikken bør skjule små celler."),
    "method_windows": ("Closed windows", "Lukkede vinduer"),
    "method_windows_text": ("A session counts for an outcome only once its observation window has closed by the "
                            "data's own date (the newest treatment or follow-up), so recent months are not "
                            "falsely good; sessions still inside the window are reported as 'window still open'.",
                            "En behandling telles for et utfall først når observasjonsvinduet er lukket på "
                            "dataenes egen dato (nyeste behandling eller kontroll), slik at siste måneder ikke ser "
                            "falskt gode ut; behandlinger innenfor vinduet vises som «vindu ennå åpent»."),
    # --- counting principles (registry docstring; issue 17): followed up, blank answers, not recorded -------------
    "rate_not_recorded": ("not recorded", "ikke registrert"),
    "rate_not_recorded_help": ("No eligible session had a follow-up contact in the window that recorded this "
                               "outcome (the column is missing from the follow-up export, or its answers are "
                               "blank): the rate is unknown, not 0 %.",
                               "Ingen aktuell behandling hadde en kontroll i vinduet som registrerte dette utfallet "
                               "(kolonnen mangler i kontrolleksporten, eller svarene er tomme): andelen er ukjent, "
                               "ikke 0 %."),
    "about_followed": ("Followed up", "Fulgt opp"),
    "about_followed_all": ("a follow-up contact inside the window that answered {columns}",
                           "en kontroll i vinduet som besvarte {columns}"),
    "about_followed_any": ("a follow-up contact inside the window that answered one of {columns}, as the "
                           "description says",
                           "en kontroll i vinduet som besvarte en av {columns}, slik beskrivelsen sier"),
    "about_counting": ("Followed up, crude rate, blank answers", "Fulgt opp, rå andel, tomme svar"),
    "about_counting_text": ("A session is followed up for an outcome when a follow-up contact inside its window "
                             "assessed that outcome: every column that records it answered. A blank yes/no answer "
                             "is not 'no' and an effect 'not assessed' is no judgement: such a contact did not "
                             "assess it. Having the event never makes a session followed up: an event seen "
                             "elsewhere (a correction within 28 days) counts in the crude rate (events over all "
                             "eligible sessions) and, for a followed-up session, in the rate, but never adds a "
                             "session to the denominator. With several contacts in the window a complication "
                             "reported at any of them happened, and the latest contact decides a response "
                             "(headache, sweating). With no followed-up session a rate reads 'not recorded', never "
                             "0 %; the load names a follow-up file that records an outcome on none of its contacts. "
                             "Earlier treatments (repeat treatment, secondary non-response) are those on an earlier "
                             "day: areas treated the same day are one visit.",
                             "En behandling er fulgt opp for et utfall når en kontroll i vinduet vurderte utfallet: "
                             "alle kolonnene som registrerer det er besvart. Et tomt ja/nei-svar er ikke «nei», og "
                             "effekt «ikke vurdert» er ingen vurdering: en slik kontroll vurderte det ikke. Å ha "
                             "hendelsen gjør aldri en behandling fulgt opp: en hendelse sett et annet sted (en "
                             "korrigering innen 28 dager) telles i rå andel (hendelser over alle aktuelle "
                             "behandlinger) og, for en behandling som er fulgt opp, i andelen, men legger aldri en "
                             "behandling til nevneren. Ved flere kontroller i vinduet har en komplikasjon meldt ved "
                             "en av dem skjedd, og siste kontroll avgjør effekt (hodepine, svetting). Uten noen "
                             "behandling fulgt opp står det «ikke registrert», aldri 0 %; innlastingen sier fra om "
                             "en kontrollfil som ikke registrerer et utfall ved noen kontroll. Tidligere "
                             "behandlinger (gjentatt behandling, sekundær svikt) er de på en tidligere dag: områder "
                             "behandlet samme dag er ett besøk."),
    # --- value labels ------------------------------------------------------------------------------------------
    "ind_cosmetic": ("Cosmetic (wrinkles)", "Kosmetisk (rynker)"),
    "ind_migraine": ("Migraine", "Migrene"),
    "ind_tension_headache": ("Tension headache", "Spenningshodepine"),
    "ind_hyperhidrosis": ("Hyperhidrosis (sweating)", "Hyperhidrose (svette)"),
    "ind_bruxism": ("Bruxism (teeth grinding)", "Bruksisme (tanngnissing)"),
    "area_glabella": ("Glabella (frown lines)", "Sinnarynke"),
    "area_forehead": ("Forehead", "Panne"),
    "area_crows_feet": ("Crow's feet", "Kråkeføtter"),
    "area_other_face": ("Other face", "Annet i ansiktet"),
    "area_masseter": ("Masseter (jaw)", "Tyggemuskel"),
    "area_axillae": ("Armpits", "Armhuler"),
    "area_palms": ("Palms", "Håndflater"),
    "area_head_neck": ("Head and neck", "Hode og nakke"),
    "group_effect": ("Effect", "Effekt"),
    "group_cost": ("Corrections", "Korrigeringer"),
    "group_eye": ("Eyes", "Øyne"),
    "group_injection_site": ("Injection site", "Innstikksted"),
    "group_systemic": ("Systemic", "Hele kroppen"),
    "group_response": ("Response", "Respons"),
    "group_safety": ("Safety", "Sikkerhet"),
    "prof_lege": ("Doctor", "Lege"),
    "prof_sykepleier": ("Nurse", "Sykepleier"),
    "prof_tannlege": ("Dentist", "Tannlege"),
    "effect_full": ("full", "full"),
    "effect_partial": ("partial", "delvis"),
    "effect_none": ("none", "ingen"),
    "effect_not_assessed": ("not assessed", "ikke vurdert"),
    # --- sign-in, roles, access log ----------------------------------------------------------------------------
    "page_access_log": ("Access log", "Tilgangslogg"),
    "role_doctor": ("Doctor", "Lege"),
    "role_manager": ("Clinic manager", "Daglig leder"),
    "role_auditor": ("Quality auditor", "Kvalitetsrevisor"),
    "role_admin": ("Administrator", "Administrator"),
    "role_clinician": ("Clinician (own results)", "Behandler (egne resultater)"),
    "role_loader": ("Data loader (loads files only)", "Datainnlaster (bare innlasting)"),
    "role_none": ("no role", "ingen rolle"),
    # --- the clinician role's own view (dashboard/pages/my_results.py, issue 13 item 7) ------------------------
    "preview_code": ("Clinician code", "Behandlerkode"),
    "preview_code_help": ("Demo mode only: whose own results the clinician role shows. Once sign-in is set up, the "
                          "code comes from the sign-in (the token's clinician_code) or the role file, never from "
                          "here.",
                          "Bare i demomodus: hvem sine egne resultater behandlerrollen viser. Når innlogging er "
                          "satt opp, kommer koden fra innloggingen (tokenets clinician_code) eller rollefilen, "
                          "aldri herfra."),
    "clinician_no_code": (
        "You are signed in as {user} with the clinician role, but no clinician code is given for you, so the "
        "dashboard shows you nothing. Ask the clinic's administrator to add your code: the `{claim}` claim in "
        "the sign-in token, or the `{column}` column of your clinician row in the role file.",
        "Du er logget inn som {user} med behandlerrollen, men ingen behandlerkode er oppgitt for deg, så "
        "dashbordet viser deg ingenting. Be klinikkens administrator legge inn koden din: `{claim}` i "
        "innloggingstokenet, eller kolonnen `{column}` på behandlerraden din i rollefilen."),
    "clinician_two_codes": (
        "You are signed in as {user} with the clinician role, but more than one clinician code is given for you "
        "({codes}), so the dashboard shows you nothing rather than guess. Ask the clinic's administrator to "
        "leave exactly one code (the `{claim}` claim in the token, or the `{column}` column in the role file).",
        "Du er logget inn som {user} med behandlerrollen, men mer enn én behandlerkode er oppgitt for deg "
        "({codes}), så dashbordet viser deg ingenting i stedet for å gjette. Be klinikkens administrator la "
        "nøyaktig én kode stå (`{claim}` i tokenet, eller kolonnen `{column}` i rollefilen)."),
    "clinician_unknown_code": (
        "You are signed in as {user} with the clinician role and the clinician code {codes}, but the database "
        "has no clinician with that code, so the dashboard shows you nothing. Ask the clinic's administrator to "
        "correct the code (as written in the clinicians table, e.g. C03) in the token's `{claim}` claim or the "
        "role file's `{column}` column.",
        "Du er logget inn som {user} med behandlerrollen og behandlerkoden {codes}, men databasen har ingen "
        "behandler med den koden, så dashbordet viser deg ingenting. Be klinikkens administrator rette koden "
        "(slik den står i behandlertabellen, f.eks. C03) i tokenets `{claim}` eller rollefilens kolonne "
        "`{column}`."),
    "clinician_unchecked": (
        "You are signed in as {user} with the clinician role, but your clinician code {codes} cannot be checked "
        "because the database cannot be read right now, so the dashboard shows you nothing. Try again in a "
        "moment; if it persists, tell the clinic's administrator.",
        "Du er logget inn som {user} med behandlerrollen, men behandlerkoden din {codes} kan ikke kontrolleres "
        "fordi databasen ikke kan leses akkurat nå, så dashbordet viser deg ingenting. Prøv igjen om litt; "
        "fortsetter det, si fra til klinikkens administrator."),
    "my_results_caption": ("Your own results as clinician {clinician}, {period}: your colleagues appear only as "
                           "unnamed points in the funnel.",
                           "Dine egne resultater som behandler {clinician}, {period}: kollegene dine vises bare "
                           "som punkter uten navn i trakten."),
    "my_rates": ("Your rates and the clinic's", "Dine andeler og klinikkens"),
    "my_rate": ("Your rate", "Din andel"),
    "clinic_rate": ("Clinic rate", "Klinikkens andel"),
    "clinic_interval": ("Clinic 95 %", "Klinikken 95 %"),
    "my_rates_note": ("Crude rates with their 95 % (Wilson) interval; the clinic's rate counts every clinician, "
                      "you included. ⚠: fewer than {n} sessions, read with care.",
                      "Ujusterte andeler med 95 % (Wilson) intervall; klinikkens andel teller alle behandlere, "
                      "deg også. ⚠: færre enn {n} behandlinger, les med forsiktighet."),
    "my_outcome": ("One outcome: your place among colleagues", "Ett utfall: din plass blant kollegene"),
    "colleague": ("Colleague", "Kollega"),
    "my_position_help": ("Where your rate lies in the funnel: within the limits, or outside the 95 % or 99.8 % "
                         "limits around the clinic rate for your number of sessions.",
                         "Hvor andelen din ligger i trakten: innenfor grensene, eller utenfor 95 % eller 99,8 % "
                         "grensene rundt klinikkens andel for ditt antall behandlinger."),
    "my_position_none": ("No position: too few sessions for this outcome under these filters, or no funnel.",
                         "Ingen plass: for få behandlinger for dette utfallet med disse filtrene, eller ingen "
                         "trakt."),
    "my_oe_delta": ("{observed} / {expected} · 95 %: {low}–{high}", "{observed} / {expected} · 95 %: {low}–{high}"),
    "my_funnel_note": ("Your point is ringed and labelled with your code; every other point is a colleague, "
                       "unnamed.",
                       "Punktet ditt har ring og koden din; alle andre punkter er kolleger, uten navn."),
    # --- print: the header a printed page carries (dashboard/print.py, issue 16, item 8) --------------------------
    "print_title": ("Clinic outcomes · {page}", "Klinikkens resultater · {page}"),
    "print_period": ("Period {start} – {end} · Role: {role} · Data as of {as_of}",
                     "Periode {start} – {end} · Rolle: {role} · Data per {as_of}"),
    "print_role": ("Role: {role}", "Rolle: {role}"),
    "print_clinicians": ("Clinicians: {values}", "Behandlere: {values}"),
    "print_indications": ("Indications: {values}", "Indikasjoner: {values}"),
    "print_areas": ("Areas: {values}", "Områder: {values}"),
    "print_products": ("Products: {values}", "Preparater: {values}"),
    "print_printed": ("Printed {at}", "Skrevet ut {at}"),
    "demo_banner": ("Demo mode: no sign-in configured — synthetic data, everyone sees everything.",
                    "Demomodus: ingen innlogging satt opp — syntetiske data, alle ser alt."),
    "preview_role": ("Preview as role", "Vis som rolle"),
    "preview_role_help": ("Demo mode only: see the dashboard as each role would once sign-in is configured "
                          "(pages, case lists and exports offered).",
                          "Bare i demomodus: se dashbordet slik hver rolle vil se det når innlogging er satt opp "
                          "(sider, behandlingslister og eksporter som tilbys)."),
    "signed_in_as": ("Signed in as {user} ({roles})", "Logget inn som {user} ({roles})"),
    "sign_in_title": ("Sign in", "Logg inn"),
    "sign_in_text": ("This dashboard shows the clinic's health data. Sign in with your clinic account; what you "
                     "may see depends on your role. Sign-ins, views of session lists and exports are logged.",
                     "Dette dashbordet viser klinikkens helsedata. Logg inn med klinikkontoen din; hva du får se "
                     "avhenger av rollen din. Innlogginger, visning av behandlingslister og eksporter logges."),
    "sign_in": ("Sign in", "Logg inn"),
    "sign_in_with": ("Sign in with {provider}", "Logg inn med {provider}"),
    "sign_out": ("Sign out", "Logg ut"),
    "no_access_title": ("No access", "Ingen tilgang"),
    "no_access_text": ("You are signed in as {user}, but you have no role in this dashboard, so it shows you "
                       "nothing. Ask the clinic's administrator for a role.",
                       "Du er logget inn som {user}, men har ingen rolle i dette dashbordet, så det viser deg "
                       "ingenting. Be klinikkens administrator om en rolle."),
    "refused_title": ("Not available for your role", "Ikke tilgjengelig for din rolle"),
    "refused_text": ("“{page}” is not open to your role ({roles}). This attempt has been logged. If you need "
                     "it, ask the clinic's administrator.",
                     "«{page}» er ikke åpen for din rolle ({roles}). Forsøket er logget. Trenger du den, spør "
                     "klinikkens administrator."),
    "refused_home": ("Go to your start page", "Gå til startsiden din"),
    "role_file_error": ("The role file cannot be read, so nobody gets a role from it until it is fixed: {error}",
                        "Rollefilen kan ikke leses, så ingen får en rolle fra den før den er rettet: {error}"),
    "case_review_not_for_role": ("Lists of individual sessions are shown to doctors only.",
                                 "Lister over enkeltbehandlinger vises bare for leger."),
    # --- sign-in setup, demo mode, access-log problems (issue 10) -----------------------------------------------
    "setup_not_configured_title": ("Sign-in is not configured", "Innlogging er ikke satt opp"),
    "setup_not_configured_text": (
        "This dashboard shows the clinic's health data and opens only to signed-in users, so it shows nothing until "
        "sign-in is set up: add an `[auth]` section to `.streamlit/secrets.toml` in the folder the app is started "
        "from (README, “Sign-in and roles”). To try the demo on synthetic data instead, start it with "
        "`CLINIC_DEMO=1` on a database made by `python -m pipelines demo` (`make run` does both).",
        "Dette dashbordet viser klinikkens helsedata og åpnes bare for innloggede brukere, så det viser ingenting "
        "før innlogging er satt opp: legg en `[auth]`-seksjon i `.streamlit/secrets.toml` i mappen appen startes "
        "fra (README, «Sign-in and roles»). Vil du heller prøve demoen med syntetiske data, start den med "
        "`CLINIC_DEMO=1` på en database laget av `python -m pipelines demo` (`make run` gjør begge deler)."),
    "setup_misconfigured_title": ("Sign-in is not configured correctly", "Innlogging er ikke riktig satt opp"),
    "setup_misconfigured_text": (
        "The sign-in settings in the secrets file cannot be used, so the dashboard shows nothing until they are "
        "fixed (README, “Sign-in and roles”). What is wrong:",
        "Innloggingsinnstillingene i hemmelighetsfilen kan ikke brukes, så dashbordet viser ingenting før de er "
        "rettet (README, «Sign-in and roles»). Dette er feil:"),
    "setup_unreadable_title": ("The secrets file cannot be read", "Hemmelighetsfilen kan ikke leses"),
    "setup_unreadable_text": (
        "The dashboard shows nothing until the secrets file is fixed: it must be valid TOML (README, “Sign-in and "
        "roles”). What Streamlit reported:",
        "Dashbordet viser ingenting før hemmelighetsfilen er rettet: den må være gyldig TOML (README, «Sign-in and "
        "roles»). Dette meldte Streamlit:"),
    "demo_refused_title": ("Demo mode refused", "Demomodus avvist"),
    "demo_refused_not_marked": (
        "`CLINIC_DEMO=1` asks for demo mode, where everyone sees everything, but {path} was not made by the demo "
        "generator, so it is not shown. Demo mode serves only a database made by `python -m pipelines demo --db "
        "PATH`. To show this database, set up sign-in (README, “Sign-in and roles”) and start without "
        "`CLINIC_DEMO`.",
        "`CLINIC_DEMO=1` ber om demomodus, der alle ser alt, men {path} er ikke laget av demogeneratoren, så den "
        "vises ikke. Demomodus viser bare en database laget av `python -m pipelines demo --db STI`. Vil du vise "
        "denne databasen, sett opp innlogging (README, «Sign-in and roles») og start uten `CLINIC_DEMO`."),
    "demo_refused_loaded_after": (
        "`CLINIC_DEMO=1` asks for demo mode, where everyone sees everything, but data was loaded into {path} after "
        "the demo generator made it (load {load_id}), so it may hold real records and is not shown. Make a new "
        "demo database with `python -m pipelines demo --db NEW_PATH`, or set up sign-in for this one.",
        "`CLINIC_DEMO=1` ber om demomodus, der alle ser alt, men det er lastet data inn i {path} etter at "
        "demogeneratoren laget den (innlasting {load_id}), så den kan inneholde ekte journaldata og vises ikke. "
        "Lag en ny demodatabase med `python -m pipelines demo --db NY_STI`, eller sett opp innlogging for denne."),
    "access_log_unwritable": (
        "The access log cannot be written, so nothing more is shown (every sign-in and view is logged): {error}",
        "Tilgangsloggen kan ikke skrives, så ingenting mer vises (alle innlogginger og visninger logges): {error}"),
    "col_line_n": ("Line", "Linje"),
    "col_bad_reason": ("Why it cannot be read", "Hvorfor den ikke kan leses"),
    "col_line_start": ("Start of the line", "Starten av linjen"),
    # --- export: release, internal, records --------------------------------------------------------------------
    "export_mode": ("Files", "Filer"),
    "export_mode_release": ("Release (small cells suppressed)", "Utlevering (små celler skjult)"),
    "export_mode_internal": ("Internal (not suppressed)", "Intern (ikke skjult)"),
    "export_mode_help": ("Release files may leave the clinic: small counts are hidden and marked. Internal files "
                         "keep every count and the per-session CUSUM; they must stay inside the clinic.",
                         "Utleveringsfiler kan forlate klinikken: små tall skjules og merkes. Interne filer "
                         "beholder alle tall og CUSUM per behandling; de skal bli i klinikken."),
    "suppress_numerator": ("Hide numerators from 1 to", "Skjul tellere fra 1 til"),
    "suppress_numerator_help": ("Counts of events from 1 up to this number are hidden (0 is not disclosive). "
                                "Only an administrator may go below {floor}.",
                                "Antall hendelser fra 1 opp til dette tallet skjules (0 avslører ingen). "
                                "Bare en administrator kan gå under {floor}."),
    "suppress_denominator": ("Hide denominators under", "Skjul nevnere under"),
    "suppress_denominator_help": ("Groups with fewer sessions than this are hidden, with everything computed "
                                  "from them. Only an administrator may go below {floor}.",
                                  "Grupper med færre behandlinger enn dette skjules, med alt som er beregnet "
                                  "fra dem. Bare en administrator kan gå under {floor}."),
    "export_release_caption": ("Release files: {rule}. Hidden cells read “{marker}” (whatever the reason); "
                               "cells that would let a hidden one be recomputed from a total are hidden too "
                               "(complementary), and every count shown is rounded to the nearest 5.",
                               "Utleveringsfiler: {rule}. Skjulte celler har teksten «{marker}» (uansett grunn); "
                               "celler som ville latt en skjult celle regnes ut fra en sum, skjules også "
                               "(komplementært), og alle tall som vises, er avrundet til nærmeste 5."),
    "export_rule_text": ("numerators 1–{num} and denominators under {den} hidden",
                         "tellere 1–{num} og nevnere under {den} skjult"),
    # --- export: release periods and URL values (security issue 10, parts 5 and 9) ----------------------------
    "export_release_period": ("Release period", "Utleveringsperiode"),
    "export_release_period_help": ("A whole calendar year, quarter or month that has ended. The sidebar's dates do "
                                   "not apply to release files.",
                                   "Et helt kalenderår, kvartal eller måned som er avsluttet. Datoene i sidefeltet "
                                   "gjelder ikke for utleveringsfiler."),
    "export_release_rule_sentence": ("Release files cover one whole calendar month, quarter or year, hide small "
                                     "counts and round every other count to the nearest 5, with rates and limits "
                                     "computed from those rounded counts, so no two release files can be "
                                     "subtracted from each other to reveal a count below 5.",
                                     "Utleveringsfiler dekker én hel kalendermåned, ett kvartal eller ett år, "
                                     "skjuler små tall og runder alle andre tall av til nærmeste 5, med andeler og "
                                     "grenser regnet fra de avrundede tallene, slik at ingen to utleveringsfiler "
                                     "kan trekkes fra hverandre for å avsløre et tall under 5."),
    "export_no_release_period": ("The data do not yet cover a whole calendar month, so there is nothing to "
                                 "release; internal and record files are unaffected.",
                                 "Dataene dekker ennå ikke en hel kalendermåned, så det er ingenting å levere ut; "
                                 "interne filer og postfiler påvirkes ikke."),
    "export_bad_url_value": ("The link held a value this page cannot use for: {names}. It was ignored and the "
                             "default (the strictest rule allowed) is used; set the value on the page instead.",
                             "Lenken hadde en verdi siden ikke kan bruke for: {names}. Den ble ignorert, og "
                             "standardverdien (den strengeste regelen som er tillatt) brukes; sett verdien på "
                             "siden i stedet."),
    "export_internal_caption": ("Internal files: every count, not suppressed, marked as internal in their "
                                "provenance. Do not hand them over outside the clinic.",
                                "Interne filer: alle tall, ikke skjult, merket som interne i opphavslinjene. "
                                "Skal ikke leveres ut av klinikken."),
    "export_logged": ("Every file is logged when it is generated: who, when, filters, rows and the file's "
                      "SHA-256.",
                      "Hver fil logges når den lages: hvem, når, filtre, rader og filens SHA-256."),
    "export_adverse-events": ("Adverse events", "Bivirkningsmeldinger"),
    "export_adverse-events_help": ("Every reportable reaction with its reporting status (a case list, for use inside "
                                   "the clinic only)",
                                   "Alle meldepliktige reaksjoner med meldestatus (en saksliste, bare til bruk i "
                                   "klinikken)"),
    "export_recall": ("Recall list", "Tilbakekallingsliste"),
    "export_recall_help": ("Every session with one lot (a case list, for use inside the clinic only)",
                           "Alle behandlinger med ett parti (en saksliste, bare til bruk i klinikken)"),
    "export_records": ("Pseudonymised records", "Pseudonymiserte poster"),
    "export_records_help": ("One row per session with its outcome flags. Patient and session references are "
                            "re-keyed for this file only; clinicians by code; no free text. Dates by month, doses in "
                            "bands and rare values suppressed until every row shares them with at least 4 others "
                            "(k = 5), rows shuffled, so two files cannot be linked.",
                            "Én rad per behandling med utfallsflagg. Pasient- og behandlingsreferanser får nye "
                            "nøkler bare for denne filen; behandlere med kode; ingen fritekst. Datoer som måned, "
                            "doser i intervaller og sjeldne verdier skjult til hver rad deler dem med minst 4 "
                            "andre (k = 5), radene stokket, så to filer ikke kan kobles."),
    # --- access log page ---------------------------------------------------------------------------------------
    "access_log_caption": ("Who signed in, saw a list of sessions, exported a file or was refused. The app only "
                           "appends to this log and cannot change it; each entry carries a keyed hash (HMAC-SHA256, "
                           "key kept outside the log) of itself and the one before, so an edit or a removed line "
                           "shows. File: {path}",
                           "Hvem som logget inn, så en liste over behandlinger, eksporterte en fil eller ble "
                           "avvist. Appen legger bare til i loggen og kan ikke endre den; hver oppføring har en "
                           "nøklet hash (HMAC-SHA256, nøkkelen ligger utenfor loggen) av seg selv og den forrige, "
                           "så en endring eller en fjernet linje synes. Fil: {path}"),
    "access_log_broken": ("The chain is broken: {message}. The file was changed outside the app: keep a copy "
                          "and find out who changed it.",
                          "Kjeden er brutt: {message}. Filen er endret utenfor appen: ta vare på en kopi og "
                          "finn ut hvem som endret den."),
    "access_log_empty": ("Nothing has been logged yet.", "Ingenting er logget ennå."),
    "access_log_events": ("Events", "Hendelser"),
    "access_log_download": ("Download the access log", "Last ned tilgangsloggen"),
    "col_at": ("When", "Når"),
    "col_user": ("User", "Bruker"),
    "col_role": ("Role", "Rolle"),
    "col_event_kind": ("Event", "Hendelse"),
    "col_what": ("What", "Hva"),
    "col_filters": ("Filters", "Filtre"),
    "col_rows_n": ("Rows", "Rader"),
    "col_sha256": ("File SHA-256", "Filens SHA-256"),
    "event_sign_in": ("sign-in", "innlogging"),
    "event_sign_out": ("sign-out", "utlogging"),
    "event_page_view": ("list viewed", "liste vist"),
    "event_export": ("export", "eksport"),
    "event_refused": ("refused", "avvist"),
    "event_alert": ("alert e-mail", "varsel på e-post"),
    # --- costs: what-if assumptions ----------------------------------------------------------------------------
    "whatif_note": ("Edit the prices and costs below to see what the corrections would cost. The edits are "
                    "assumptions for this view only: they are never stored, and nobody else sees them. The prices "
                    "themselves are changed in the clinic's price list, which the system administrator loads.",
                    "Endre prisene og kostnadene nedenfor for å se hva korrigeringene ville kostet. Endringene "
                    "er forutsetninger bare for denne visningen: de lagres aldri, og ingen andre ser dem. Selve "
                    "prisene endres i klinikkens prisliste, som systemansvarlig laster inn."),
    "whatif_active": ("What-if: the figures on this page use edited prices or chair-time costs (see the bottom "
                      "of the page), not the loaded ones.",
                      "Hva om: tallene på denne siden bruker endrede priser eller stoltidskostnader (se nederst "
                      "på siden), ikke de innlastede."),
    "whatif_reset": ("Back to the loaded values", "Tilbake til innlastede verdier"),
    # --- issue 17: which corrections a cost counts, unknown parts; re-exports in conflict with stored rows -------
    "costs_scope": ("Costs count every correction session, also those given more than {days} days after the "
                    "session they correct ({late} here): each took chair time and product. The correction rate "
                    "counts only corrections within {days} days.",
                    "Kostnadene teller hver korrigering, også de som er gitt mer enn {days} dager etter "
                    "behandlingen de korrigerer ({late} her): hver av dem tok stoltid og preparat. "
                    "Korrigeringsandelen teller bare korrigeringer innen {days} dager."),
    "costs_unknown_chair_time": ("Corrections with unknown chair time (minutes blank): {n}. Their chair time "
                                 "counts as 0 NOK, not as a guess, so the cost shown is a lower bound.",
                                 "Korrigeringer med ukjent stoltid (minutter tomt): {n}. Stoltiden deres teller "
                                 "som 0 kr, ikke som et anslag, så kostnaden som vises er et minimum."),
    "kind_conflicts with stored rows": ("conflicts with stored rows (the stored version is kept)",
                                        "i strid med lagrede rader (den lagrede versjonen beholdes)"),
    "conflicts_title": ("Re-exported rows that conflict with stored rows",
                        "Ny eksport i strid med lagrede rader"),
    "conflicts_caption": ("A re-exported session whose new date would put it after its own correction or "
                          "follow-up already stored was not loaded: the stored version is kept. Correct the date "
                          "in the export, or re-export the session together with the rows named in the reason.",
                          "En behandling i en ny eksport der den nye datoen ville lagt den etter sin egen "
                          "korrigering eller kontroll som allerede er lagret, ble ikke lastet inn: den lagrede "
                          "versjonen beholdes. Rett datoen i eksporten, eller eksporter behandlingen på nytt "
                          "sammen med radene som er nevnt i årsaken."),
    "col_rejected_value": ("Re-exported value", "Verdi i ny eksport"),
    "col_stored_value": ("Stored value (kept)", "Lagret verdi (beholdes)"),
    # --- load data (dashboard/pages/load.py) -----------------------------------------------------------------
    "page_load": ("Load data", "Last inn data"),
    "load_caption": ("Upload the month's exports (CSV, Excel .xlsx or Parquet, several at once), check what each file "
                     "was recognised as, and load them. The load is all-or-nothing: rows that fail a check are kept "
                     "with their reason, and a file with direct identifiers is refused whole.",
                     "Last opp månedens eksporter (CSV, Excel .xlsx eller Parquet, flere samtidig), se hva hver fil "
                     "ble gjenkjent som, og last dem inn. Innlastingen er alt eller ingenting: rader som ikke "
                     "består en kontroll, tas vare på med årsak, og en fil med direkte identifikatorer avvises "
                     "helt."),
    "load_demo_off": ("Loading is off in demo mode: new data would end the demo. Run the dashboard with sign-in to "
                      "load the clinic's exports.",
                      "Innlasting er slått av i demomodus: nye data ville avslutte demoen. Kjør dashbordet med "
                      "innlogging for å laste inn klinikkens eksporter."),
    "load_files": ("Export files", "Eksportfiler"),
    "load_files_help": ("Treatments, follow-ups, clinicians and product prices; a file is recognised by its header. "
                        "Files are held in memory only while this page works on them.",
                        "Behandlinger, kontroller, behandlere og preparatpriser; en fil gjenkjennes på overskriftene. "
                        "Filene holdes bare i minnet mens denne siden arbeider med dem."),
    "load_recognised": ("What the files are", "Hva filene er"),
    "load_col_table": ("Recognised as", "Gjenkjent som"),
    "load_table_treatments": ("treatments", "behandlinger"),
    "load_table_follow_ups": ("follow-ups", "kontroller"),
    "load_table_clinicians": ("clinicians", "behandlere"),
    "load_table_product_prices": ("product prices", "preparatpriser"),
    "load_not_recognised": ("not recognised", "ikke gjenkjent"),
    "load_col_matched": ("Columns used", "Kolonner som brukes"),
    "load_col_ignored": ("Columns ignored", "Kolonner som ikke brukes"),
    "load_col_missing": ("Required columns missing", "Påkrevde kolonner som mangler"),
    "load_col_missing_optional": ("Optional columns not in the file", "Valgfrie kolonner som ikke er i filen"),
    "load_columns_per_file": ("The columns of each file", "Kolonnene i hver fil"),
    "load_col_status": ("Status", "Status"),
    "load_status_ready": ("ready", "klar"),
    "load_status_fix": ("map its columns", "koble kolonnene"),
    "load_status_refused": ("refused", "avvist"),
    "load_file_refused": ("{file} is refused and was not kept: {reason}", "{file} er avvist og ble ikke tatt vare på: "
                          "{reason}"),
    "load_remove_refused": ("Remove the refused file from the list above to load the others.",
                            "Fjern den avviste filen fra listen over for å laste inn de andre."),
    "load_fix_first": ("Map the columns of every file first (below), or remove the files that cannot be used.",
                       "Koble kolonnene i alle filene først (under), eller fjern filene som ikke kan brukes."),
    "load_mapping": ("Map your columns", "Koble kolonnene"),
    "load_mapping_caption": ("For each column of your file, choose the column of the data contract it holds (see "
                             "'About the metrics' and the data contract), or leave it out.",
                             "Velg for hver kolonne i filen hvilken kolonne i datakontrakten den tilsvarer (se «Om "
                             "målene» og datakontrakten), eller la den være ute."),
    "load_map_ignore": ("(leave out)", "(ta ikke med)"),
    "load_button": ("Load", "Last inn"),
    "load_col_preset": ("Mapping preset", "Koblingsmal"),
    "load_preset": ("Mapping preset", "Koblingsmal"),
    "load_preset_auto": ("Recognise by each file's header", "Gjenkjenn på hver fils overskrifter"),
    "load_preset_help": ("A preset maps an export's own columns and values (product spellings, service names, "
                         "correction markers) to the data contract. A file whose header is a preset's gets it "
                         "automatically.",
                         "En koblingsmal kobler en eksports egne kolonner og verdier (preparatnavn, tjenestenavn, "
                         "korrigeringsmerker) til datakontrakten. En fil med samme overskrifter som en mal får den "
                         "automatisk."),
    "load_save_preset": ("Save this mapping as a preset", "Lagre koblingen som mal"),
    "load_save_preset_caption": ("Next time a file with the same header comes, it maps itself. Add value maps "
                                 "(`values`), service names (`services`) and correction markers (`corrections`) "
                                 "in the text as in the shipped presets; the preset is checked against the data "
                                 "contract before it is saved, as a new version.",
                                 "Neste gang en fil med samme overskrifter kommer, kobles den av seg selv. Legg til "
                                 "verdikoblinger (`values`), tjenestenavn (`services`) og korrigeringsmerker "
                                 "(`corrections`) i teksten slik som i malene som følger med; malen kontrolleres "
                                 "mot datakontrakten før den lagres, som en ny versjon."),
    "load_values": ("Values the data contract does not know", "Verdier datakontrakten ikke kjenner"),
    "load_values_caption": ("Choose what each of your values means; the choice is saved in the preset.",
                            "Velg hva hver av verdiene betyr; valget lagres i malen."),
    "load_value_keep": ("(leave as is: rejected)", "(la stå: avvises)"),
    "load_preset_name": ("Name (letters, digits, _ and -)", "Navn (bokstaver, sifre, _ og -)"),
    "load_preset_description": ("What export it is for", "Hvilken eksport den er for"),
    "load_preset_json": ("The preset", "Malen"),
    "load_preset_save": ("Save preset", "Lagre malen"),
    "load_preset_saved": ("Saved as {preset}.", "Lagret som {preset}."),
    "load_progress_start": ("Starting the load", "Starter innlastingen"),
    "load_busy": ("Another load is running right now; try again when it has finished.",
                  "En annen innlasting pågår nå; prøv igjen når den er ferdig."),
    "load_refused": ("Nothing was loaded: {error}", "Ingenting ble lastet inn: {error}"),
    "load_done": ("Loaded and published as snapshot {version}: {rows} rows loaded, {rejected} rejected.",
                  "Lastet inn og publisert som øyeblikksbilde {version}: {rows} rader lastet inn, {rejected} avvist."),
    "load_rejected": ("Rejected rows and why", "Avviste rader og hvorfor"),
    "load_col_row": ("Row", "Rad"),
    "load_col_column": ("Column", "Kolonne"),
    "load_col_reason": ("Reason", "Årsak"),
    "load_rejected_download": ("Download the rejected rows (CSV)", "Last ned de avviste radene (CSV)"),
    "load_to_data_quality": ("Data quality: every load and every rejected row", "Datakvalitet: alle innlastinger og "
                             "alle avviste rader"),
    "event_upload": ("upload", "opplasting"),
    "event_load": ("load", "innlasting"),
    # --- the monthly report (dashboard/report.py) -------------------------------------------------------------
    "report_heading": ("Monthly report, {month}", "Månedsrapport for {month}"),
    "report_button": ("Monthly report (PDF)", "Månedsrapport (PDF)"),
    "report_file_stem": ("quality-report", "kvalitetsrapport"),
    "report_button_help_internal": ("For the quality meeting: the month's figures, the charts with process changes, "
                                    "the signals and their reviews, the costs. Internal; the download is logged.",
                                    "Til kvalitetsmøtet: månedens tall, diagrammene med prosessendringer, "
                                    "signalene og vurderingene av dem, kostnadene. Internt; nedlastingen logges."),
    "report_button_help_release": ("The month's figures with small counts hidden and counts rounded, fit to "
                                   "e-mail; no clinician is named. The download is logged.",
                                   "Månedens tall med små tall skjult og antall avrundet, egnet for e-post; ingen "
                                   "behandler navngis. Nedlastingen logges."),
    "report_title": ("Quality report {month}", "Kvalitetsrapport {month}"),
    "report_subtitle": ("Botulinum-toxin treatment: outcomes, signals and correction costs for the quality meeting",
                        "Behandling med botulinumtoksin: resultater, signaler og korrigeringskostnader til "
                        "kvalitetsmøtet"),
    "report_headline": ("The month in figures", "Måneden i tall"),
    "report_headline_text": ("Sessions treated in {month}. An outcome counts once its observation window has "
                             "closed; sessions still inside their window are awaiting and not in the rate.",
                             "Behandlinger utført i {month}. Et utfall telles når observasjonsvinduet er lukket; "
                             "behandlinger som fortsatt er innenfor vinduet venter og er ikke med i raten."),
    "report_month_unfinished": ("The month is not over: the data reach {day}.",
                                "Måneden er ikke omme: dataene går til {day}."),
    "report_reference_note": ("Reference: the published range for the outcome (docs/metrics.md names the sources); "
                              "an estimate is marked. Completeness: the share of eligible sessions with a follow-up "
                              "that assessed the outcome.",
                              "Referanse: publisert spenn for utfallet (kildene står i Om målene); et anslag er "
                              "merket. Oppfølging: andelen aktuelle behandlinger med en kontroll som vurderte "
                              "utfallet."),
    "report_no_reference": ("none published", "ingen publisert"),
    "report_estimate": ("(estimate)", "(anslag)"),
    "report_suppressed": ("small count: hidden", "lite tall: skjult"),
    "report_low_completeness": ("low follow-up: least reliable", "lav oppfølging: minst pålitelig"),
    "report_col_outcome": ("Outcome", "Utfall"),
    "report_col_counts": ("Events / sessions", "Hendelser / behandlinger"),
    "report_col_rate": ("Rate", "Rate"),
    "report_col_ci": ("95 % interval", "95 %-intervall"),
    "report_col_reference": ("Reference", "Referanse"),
    "report_col_completeness": ("Follow-up", "Oppfølging"),
    "report_col_note": ("Note", "Merknad"),
    "report_col_reading": ("Variation (latest closed month)", "Variasjon (siste lukkede måned)"),
    "report_col_clinician": ("Clinician", "Behandler"),
    "report_col_rule": ("What fired", "Hva slo ut"),
    "report_col_began": ("Began", "Begynte"),
    "report_col_review": ("Review", "Vurdering"),
    "report_col_period": ("Period", "Periode"),
    "report_col_item": ("Item", "Opplysning"),
    "report_col_value": ("Value", "Verdi"),
    "report_charts": ("Control charts", "Kontrolldiagrammer"),
    "report_charts_text": ("p-charts of the last {months} months, the report month highlighted: 3-sigma limits and "
                           "Anhoej run rules; a month whose windows are still open is drawn apart and not judged.",
                           "p-diagrammer for de siste {months} månedene, rapportmåneden uthevet: 3-sigma-grenser "
                           "og Anhøj-regler; en måned med åpne vinduer vises for seg og vurderes ikke."),
    "report_signals": ("Signals", "Signaler"),
    "report_signals_text": ("{new} concerning signal episode(s) began in {month}; {listed} are listed in all, "
                            "{reviewed} of them reviewed.",
                            "{new} bekymringssignal(er) begynte i {month}; {listed} står på listen i alt, "
                            "{reviewed} av dem er vurdert."),
    "report_action": ("action: {owner} by {due}", "tiltak: {owner} innen {due}"),
    "report_changes": ("Process changes this month", "Prosessendringer denne måneden"),
    "report_changes_none": ("No process change is recorded for {month}.",
                            "Ingen prosessendring er registrert for {month}."),
    "report_whole_clinic": ("the whole clinic", "hele klinikken"),
    "report_rebase_yes": ("yes: the charts start a new part", "ja: diagrammene starter en ny del"),
    "report_rebase_no": ("no", "nei"),
    "report_col_date": ("Date", "Dato"),
    "report_col_description": ("What changed", "Hva ble endret"),
    "report_col_concerns": ("Concerns", "Gjelder"),
    "report_col_rebase": ("New chart part", "Ny del i diagrammet"),
    "report_col_target": ("Target", "Mål"),
    "report_col_assurance": ("Against the target", "Mot målet"),
    "report_signals_new": ("New this month", "Nye denne måneden"),
    "report_signals_open": ("Listed from earlier months", "På listen fra tidligere måneder"),
    "report_signals_release": ("Signals and their reviews name clinicians and are internal: they are left out of "
                               "a report for use outside the clinic.",
                               "Signaler og vurderingene av dem navngir behandlere og er interne: de er utelatt fra "
                               "en rapport som skal ut av klinikken."),
    "report_not_reviewed": ("not reviewed", "ikke vurdert"),
    "report_clinic": ("the clinic", "klinikken"),
    "report_costs": ("Correction costs", "Korrigeringskostnader"),
    "report_costs_text": ("Free corrections of insufficient effect: product, chair time and consumables. Per 100 "
                          "primary treatments, so months of different size compare.",
                          "Gratis korrigeringer ved manglende effekt: preparat, stoltid og forbruksmateriell. Per "
                          "100 primærbehandlinger, så måneder av ulik størrelse kan sammenlignes."),
    "report_costs_release": ("Released figures: counts rounded to the nearest 5, amounts from the rounded counts; "
                             "a hidden month is shown as –.",
                             "Frigitte tall: antall avrundet til nærmeste 5, beløp regnet fra de avrundede "
                             "tallene; en skjult måned vises som –."),
    "report_no_period": ("(no whole month of the year yet)", "(ingen hel måned av året ennå)"),
    "report_costs_counts_note": ("Corrections here are every correction session performed in the period, also "
                                 "those more than {days} days after the session they correct; the correction rate "
                                 "in the headline counts the period's primary sessions corrected within {days} "
                                 "days. The two counts therefore differ.",
                                 "Korrigeringer her er alle korrigeringsbehandlinger utført i perioden, også de mer "
                                 "enn {days} dager etter behandlingen de korrigerer; korrigeringsraten i "
                                 "hovedtabellen teller periodens primærbehandlinger som ble korrigert innen {days} "
                                 "dager. Derfor kan de to tallene være ulike."),
    "report_about": ("About this report", "Om rapporten"),
    "report_about_text": ("Every figure is counted from the snapshot named below, with the definitions on the "
                          "dashboard's 'About the metrics' page.",
                          "Alle tall er talt fra øyeblikksbildet nevnt under, med definisjonene på siden «Om "
                          "målene» i dashbordet."),
    "report_prov_snapshot": ("Snapshot", "Øyeblikksbilde"),
    "report_prov_data": ("Data through", "Data til og med"),
    "report_prov_as_of": ("Counted as of", "Talt per"),
    "report_prov_generated": ("Generated", "Laget"),
    "report_by": ("by", "av"),
    "report_prov_use": ("Use", "Bruk"),
    "report_internal": ("internal: small counts not suppressed; not for use outside the clinic",
                        "internt: små tall er ikke skjult; ikke til bruk utenfor klinikken"),
    "report_release": ("for use outside the clinic: {rule}; counts rounded to the nearest 5",
                       "til bruk utenfor klinikken: {rule}; antall avrundet til nærmeste 5"),
    "report_chart_missing": ("chart not drawn ({why}); install Chromium (Debian: apt install chromium) for charts",
                             "diagrammet ble ikke tegnet ({why}); installer Chromium (Debian: apt install chromium) "
                             "for diagrammer"),
}


# Texts with a count: key: ((English one, English other), (Norwegian one, Norwegian other)), the forms in the order
# of PLURAL_FORMS (CLDR: 'one' is exactly 1 in both languages, 0 is 'other'). Looked up with
# tn(key, count, lang, **values); `{n}` is the count. A 'one' form may leave `{n}` out ("once", "den siste dagen").
# count_* keys are a counted noun alone, for a text with a second count ({arl}, {shrink}, {sessions} in TEXTS).
PLURALS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "report_awaiting": (("{n} session awaiting its window", "{n} sessions awaiting their window"),
                        ("{n} behandling venter på vinduet", "{n} behandlinger venter på vinduet")),
    "signal_more_episodes": (("{n} earlier episode", "{n} earlier episodes"),
                             ("{n} tidligere episode", "{n} tidligere episoder")),
    "count_sessions": (("{n} session", "{n} sessions"), ("{n} behandling", "{n} behandlinger")),
    "count_pseudo_sessions": (("{n} pseudo-session", "{n} pseudo-sessions"),
                              ("{n} tenkt behandling", "{n} tenkte behandlinger")),
    "small_n": (("fewer than {n} session: read with care", "fewer than {n} sessions: read with care"),
                ("færre enn {n} behandling: tolk med varsomhet", "færre enn {n} behandlinger: tolk med varsomhet")),
    "legend_small_n": (("Fewer than {n} session", "Fewer than {n} sessions"),
                       ("Færre enn {n} behandling", "Færre enn {n} behandlinger")),
    "spc_subtitle": (("Centre line and 3-sigma limits; {rules}; hollow points have fewer than {n} session",
                      "Centre line and 3-sigma limits; {rules}; hollow points have fewer than {n} sessions"),
                     ("Senterlinje og 3-sigma-grenser; {rules}; hule punkter har færre enn {n} behandling",
                      "Senterlinje og 3-sigma-grenser; {rules}; hule punkter har færre enn {n} behandlinger")),
    "g_hover_between": (("{n} session without the event before this one",
                         "{n} sessions without the event before this one"),
                        ("{n} behandling uten hendelsen før denne", "{n} behandlinger uten hendelsen før denne")),
    "g_open_hover": (("{n} session since the last event ({date}), no event yet: not a point of the chart",
                      "{n} sessions since the last event ({date}), no event yet: not a point of the chart"),
                     ("{n} behandling siden siste hendelse ({date}), ingen hendelse ennå: ikke et punkt i diagrammet",
                      "{n} behandlinger siden siste hendelse ({date}), ingen hendelse ennå: ikke et punkt i "
                      "diagrammet")),
    "hover_awaiting": (("Window still open: {n} session", "Window still open: {n} sessions"),
                       ("Vindu ennå åpent: {n} behandling", "Vindu ennå åpent: {n} behandlinger")),
    "awaiting_short": (("{n} still open", "{n} still open"), ("{n} ennå åpen", "{n} ennå åpne")),
    "rule_runs_longest": (
        ("{n} period in a row {side} the centre line, {start} to {end}: more than {limit} in a row rarely happens "
         "by chance",
         "{n} periods in a row {side} the centre line, {start} to {end}: more than {limit} in a row rarely happens "
         "by chance"),
        ("{n} periode på rad {side} midtlinjen, {start} til {end}: mer enn {limit} på rad skjer sjelden av "
         "tilfeldighet",
         "{n} perioder på rad {side} midtlinjen, {start} til {end}: mer enn {limit} på rad skjer sjelden av "
         "tilfeldighet")),
    "rule_runs_crossings": (
        ("The curve crosses the centre line only once: fewer than {limit} crossings point to a lasting change",
         "The curve crosses the centre line only {n} times: fewer than {limit} crossings point to a lasting change"),
        ("Kurven krysser midtlinjen bare én gang: færre enn {limit} kryssinger tyder på en varig endring",
         "Kurven krysser midtlinjen bare {n} ganger: færre enn {limit} kryssinger tyder på en varig endring")),
    "runs_crossings_note": (("{n} crossing < {limit}", "{n} crossings < {limit}"),
                            ("{n} kryssing < {limit}", "{n} kryssinger < {limit}")),
    "case_review_caption": (
        ("Pseudonymous references only. Click a point in the chart or choose the period; the list shows {n} "
         "session at a time.",
         "Pseudonymous references only. Click a point in the chart or choose the period; the list shows {n} "
         "sessions at a time."),
        ("Bare pseudonyme referanser. Klikk et punkt i diagrammet eller velg perioden; listen viser {n} "
         "behandling om gangen.",
         "Bare pseudonyme referanser. Klikk et punkt i diagrammet eller velg perioden; listen viser {n} "
         "behandlinger om gangen.")),
    "col_cusum_help": (
        ("Risk-adjusted Bernoulli CUSUM looking for a doubling of the odds of the event; 'signal' if it crossed its "
         "threshold on the last day charted, 'watch' if it now stands at half of it or more; earlier signals are "
         "counted (the chart restarts from 0 after each).",
         "Risk-adjusted Bernoulli CUSUM looking for a doubling of the odds of the event; 'signal' if it crossed its "
         "threshold in the last {n} days charted, 'watch' if it now stands at half of it or more; earlier signals "
         "are counted (the chart restarts from 0 after each)."),
        ("Risikojustert Bernoulli-CUSUM som ser etter en dobling av oddsen for hendelsen; «signal» hvis den har "
         "krysset terskelen den siste dagen, «følg med» hvis den nå er på minst halvparten av den; tidligere "
         "signaler telles (diagrammet starter på 0 etter hvert).",
         "Risikojustert Bernoulli-CUSUM som ser etter en dobling av oddsen for hendelsen; «signal» hvis den har "
         "krysset terskelen de siste {n} dagene, «følg med» hvis den nå er på minst halvparten av den; tidligere "
         "signaler telles (diagrammet starter på 0 etter hvert).")),
    "cells_hidden_note": (
        ("For your role, figures over fewer than {n} session are hidden, and where needed one more so that they "
         "cannot be worked out from a total. Charts leave them out, and their centre lines, limits and targets are "
         "computed without them.",
         "For your role, figures over fewer than {n} sessions are hidden, and where needed one more so that they "
         "cannot be worked out from a total. Charts leave them out, and their centre lines, limits and targets are "
         "computed without them."),
        ("For din rolle skjules tall for færre enn {n} behandling, og ved behov ett til, slik at de ikke kan regnes "
         "ut fra en sum. Diagrammene utelater dem, og midtlinjer, grenser og mål regnes uten dem.",
         "For din rolle skjules tall for færre enn {n} behandlinger, og ved behov ett til, slik at de ikke kan "
         "regnes ut fra en sum. Diagrammene utelater dem, og midtlinjer, grenser og mål regnes uten dem.")),
    "cells_too_few": (
        ("Fewer than {n} session matches the filters. For your role every figure must cover at least {n} session: "
         "choose a longer period or fewer filters.",
         "Fewer than {n} sessions match the filters. For your role every figure must cover at least {n} sessions: "
         "choose a longer period or fewer filters."),
        ("Færre enn {n} behandling passer med filtrene. For din rolle må hvert tall gjelde minst {n} behandling: "
         "velg en lengre periode eller færre filtre.",
         "Færre enn {n} behandlinger passer med filtrene. For din rolle må hvert tall gjelde minst {n} "
         "behandlinger: velg en lengre periode eller færre filtre.")),
    "hover_cell_hidden": (
        ("Hidden for your role: fewer than {n} session (or needed to protect such a figure)",
         "Hidden for your role: fewer than {n} sessions (or needed to protect such a figure)"),
        ("Skjult for din rolle: færre enn {n} behandling (eller nødvendig for å beskytte et slikt tall)",
         "Skjult for din rolle: færre enn {n} behandlinger (eller nødvendig for å beskytte et slikt tall)")),
    "cusum_too_few": (
        ("Fewer than {n} session of this clinician: no CUSUM for your role.",
         "Fewer than {n} sessions of this clinician: no CUSUM for your role."),
        ("Færre enn {n} behandling hos denne behandleren: ingen CUSUM for din rolle.",
         "Færre enn {n} behandlinger hos denne behandleren: ingen CUSUM for din rolle.")),
    "kpi_corrections_n": (("{n} correction", "{n} corrections"), ("{n} korrigering", "{n} korrigeringer")),
    "kpi_unpriced": (
        ("{n} correction has no product price for its date and counts without product cost.",
         "{n} corrections have no product price for their date and count without product cost."),
        ("{n} korrigering mangler preparatpris for datoen og telles uten preparatkostnad.",
         "{n} korrigeringer mangler preparatpris for datoen og telles uten preparatkostnad.")),
    "distribution_lost": (
        ("{n} session had no headache count at follow-up (not in the chart; it counts as a non-responder in the "
         "responder rate).",
         "{n} sessions had no headache count at follow-up (not in the chart; they count as non-responders in the "
         "responder rate)."),
        ("{n} behandling hadde ikke hodepineantall ved kontroll (ikke i diagrammet; den regnes som uten effekt i "
         "andelen med effekt).",
         "{n} behandlinger hadde ikke hodepineantall ved kontroll (ikke i diagrammet; de regnes som uten effekt i "
         "andelen med effekt).")),
    "hdss_missing": (
        ("{n} session not judged by HDSS (baseline not 3-4, or no score at the latest contact): judged by the "
         "clinician's effect assessment, or not followed up.",
         "{n} sessions not judged by HDSS (baseline not 3-4, or no score at the latest contact): judged by the "
         "clinician's effect assessment, or not followed up."),
        ("{n} behandling ikke vurdert med HDSS (utgangsverdi ikke 3-4, eller ingen skår ved siste kontroll): "
         "vurdert etter behandlerens effektvurdering, eller ikke fulgt opp.",
         "{n} behandlinger ikke vurdert med HDSS (utgangsverdi ikke 3-4, eller ingen skår ved siste kontroll): "
         "vurdert etter behandlerens effektvurdering, eller ikke fulgt opp.")),
    "days_ago": (("{n} day ago", "{n} days ago"), ("for {n} dag siden", "for {n} dager siden")),
    "stale_warning": (
        ("The newest treatment is {n} day old: has the latest export been loaded?",
         "The newest treatment is {n} days old: has the latest export been loaded?"),
        ("Nyeste behandling er {n} dag gammel: er siste eksport lastet inn?",
         "Nyeste behandling er {n} dager gammel: er siste eksport lastet inn?")),
    "export_rows": (("{n} row", "{n} rows"), ("{n} rad", "{n} rader")),
    "lots_recall_rows": (("{n} session with lot {lot}", "{n} sessions with lot {lot}"),
                         ("{n} behandling med parti {lot}", "{n} behandlinger med parti {lot}")),
    "export_rows_up_to": (
        ("up to {n} row (sessions that cannot share their values with 4 others are left out)",
         "up to {n} rows (sessions that cannot share their values with 4 others are left out)"),
        ("opptil {n} rad (behandlinger som ikke kan dele verdiene sine med 4 andre, utelates)",
         "opptil {n} rader (behandlinger som ikke kan dele verdiene sine med 4 andre, utelates)")),
    # --- export: cells a release suppresses (issue 16, item 7): "this release suppresses 12 cells in 3 rows" ------
    "export_suppresses_cells": (("this release suppresses {n} cell", "this release suppresses {n} cells"),
                                ("denne utleveringen skjuler {n} celle", "denne utleveringen skjuler {n} celler")),
    "export_suppresses_rows": (("in {n} row", "in {n} rows"), ("i {n} rad", "i {n} rader")),
    "about_closed": (("A session counts once its window has closed: {n} day after treatment.",
                      "A session counts once its window has closed: {n} days after treatment."),
                     ("En behandling telles når vinduet er lukket: {n} dag etter behandling.",
                      "En behandling telles når vinduet er lukket: {n} dager etter behandling.")),
    "access_log_intact": (("The chain is intact: {n} entry.",
                           "The chain is intact: {n} entries, each linked to the one before."),
                          ("Kjeden er hel: {n} oppføring.",
                           "Kjeden er hel: {n} oppføringer, hver koblet til den forrige.")),
    "access_log_unkeyed": (
        ("Entry {n} was written before the log was keyed ({created}): it is chained with plain SHA-256 and anchored "
         "by the key file from then on.",
         "Entries 1–{n} were written before the log was keyed ({created}): they are chained with plain SHA-256 and "
         "anchored by the key file from then on."),
        ("Oppføring {n} ble skrevet før loggen fikk nøkkel ({created}): den er kjedet med vanlig SHA-256 og "
         "forankret i nøkkelfilen fra da av.",
         "Oppføring 1–{n} ble skrevet før loggen fikk nøkkel ({created}): de er kjedet med vanlig SHA-256 og "
         "forankret i nøkkelfilen fra da av.")),
    "access_log_bad_lines": (
        ("{n} line of the log cannot be read and is left out of the table below; it is listed here. A line is "
         "unreadable when the file was edited outside the app or a write was cut off: keep a copy of the file and "
         "find out how it happened.",
         "{n} lines of the log cannot be read and are left out of the table below; they are listed here. A line is "
         "unreadable when the file was edited outside the app or a write was cut off: keep a copy of the file and "
         "find out how it happened."),
        ("{n} linje i loggen kan ikke leses og er utelatt fra tabellen under; den står her. En linje kan ikke leses "
         "når filen er endret utenfor appen eller en skriving ble avbrutt: ta vare på en kopi av filen og finn ut "
         "hvordan det skjedde.",
         "{n} linjer i loggen kan ikke leses og er utelatt fra tabellen under; de står her. En linje kan ikke leses "
         "når filen er endret utenfor appen eller en skriving ble avbrutt: ta vare på en kopi av filen og finn ut "
         "hvordan det skjedde.")),
    # the count is the total: "1 of 1 entry", "3 of 40 entries"
    "access_log_shown": (("{shown} of {n} entry, newest first.", "{shown} of {n} entries, newest first."),
                         ("{shown} av {n} oppføring, nyeste først.", "{shown} av {n} oppføringer, nyeste først.")),
}


def t(key: str, lang: str = DEFAULT_LANG, /, **values: object) -> str:
    """The text for `key` in `lang` ('nb' or 'en'), with `{placeholders}` filled from `values`."""
    if key in PLURALS and key not in TEXTS:
        raise KeyError(f"{key!r} is a text with a count: call tn({key!r}, count, lang, ...) so that it gets the "
                       f"singular or plural form")
    en, nb = TEXTS[key]
    text = nb if lang == "nb" else en
    return text.format(**values) if values else text


def tn(key: str, count: float | int | None, lang: str = DEFAULT_LANG, /, **values: object) -> str:
    """The text for `key` (a PLURALS key) in the form the language's plural rule (CLDR, through Babel) gives for
    `count`: "1 day ago" / "2 days ago", "for 1 dag siden" / "for 2 dager siden". `{n}` is filled with the count
    formatted as a number in the language, unless `values` gives `n` itself (a count shown with more detail)."""
    if isinstance(count, str):
        raise TypeError(f"tn({key!r}, ...): pass the count as a number, not its text ({count!r}): the form is "
                        f"chosen by the number and `{{n}}` is formatted here")
    en, nb = PLURALS[key]
    forms = nb if lang == "nb" else en
    text = forms[PLURAL_FORMS.index(plural_category(count, lang))]
    return text.format(**{"n": number(count, lang), **values})


def plural_category(count: float | int | None, lang: str = DEFAULT_LANG) -> str:
    """CLDR plural category ('one' or 'other' in both languages) of `count` as it is shown (rounded to a whole
    number, the way `number` shows a count); a missing count is 'other'."""
    if _missing(count):
        return "other"
    return _locale(lang).plural_form(abs(round(float(count))))  # type: ignore[arg-type]


def label(prefix: str, value: str | None, lang: str = DEFAULT_LANG) -> str:
    """Translated label of a coded value (indication, area, group, profession, effect), else the value itself."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    key = f"{prefix}_{value}"
    return t(key, lang) if key in TEXTS else str(value)


# --------------------------------------------------------------------------------------------------------------
# Numbers and dates, through Babel (CLDR data): nb_NO and en_US
# --------------------------------------------------------------------------------------------------------------


@functools.cache
def _locale(lang: str) -> babel.Locale:
    return babel.Locale.parse(LOCALES.get(lang, LOCALES["en"]))


def _missing(x: object) -> bool:
    try:
        return x is None or bool(math.isnan(float(x)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return x is None or x != x  # NaT is not equal to itself


@functools.cache
def _pattern(digits: int, suffix: str = "") -> babel_numbers.NumberPattern:
    """'#,##0.0' (+ suffix), parsed once: grouped thousands and exactly `digits` decimals."""
    return babel_numbers.parse_pattern("#,##0" + ("." + "0" * digits if digits > 0 else "") + suffix)


def _minus(text: str) -> str:
    """A true minus sign (U+2212, CLDR's minus for nb) in both languages: Babel writes the pattern's hyphen-minus.
    A value that rounds to zero loses its sign ('0,0', not '−0,0')."""
    if not text.startswith("-"):
        return text
    return text[1:] if not any(c in "123456789" for c in text) else MINUS + text[1:]


def number(x: float | int | None, lang: str = DEFAULT_LANG, digits: int = 0) -> str:
    """12,345.6 in English; 12 345,6 in Norwegian (no-break space between thousands); a true minus sign."""
    if _missing(x):
        return "–"
    return _minus(babel_numbers.format_decimal(float(x), format=_pattern(digits), locale=_locale(lang)))


# amounts typed in a page's language (the costs page: issue 16, item 6)
AMOUNT_SPACES = re.compile(r"[\s\u00a0\u202f]")
AMOUNT = {"nb": re.compile(r"-?[0-9]+([,.][0-9]{1,2})?"), "en": re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")}


def parse_amount(text: object, lg: str = DEFAULT_LANG) -> float | None:
    """An amount in kroner as typed in `lg`, or None when it is not one. Norwegian: spaces group thousands and
    the decimal sign is a comma ('1 500,50'; a point is read as the decimal sign too, but not before exactly three
    digits, where it would be a thousands point: '1.500' is refused, not read as 1.5). English: commas group
    thousands, a point is the decimal sign ('1,500.50'). At most two decimals."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    raw = AMOUNT_SPACES.sub("", str(text)).replace("\u2212", "-")
    if lg == "en":
        if re.fullmatch(r"-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]{1,2})?", raw):
            raw = raw.replace(",", "")
    elif re.fullmatch(r"-?[0-9]+\.[0-9]{3}", raw):
        return None  # '1.500': a thousands point or 1.5? refused, with the way to write it
    if not AMOUNT["en" if lg == "en" else "nb"].fullmatch(raw):
        return None
    return float(raw.replace(",", "."))


def amount_text(value: float, lg: str = DEFAULT_LANG) -> str:
    """An amount as the input shows it: '150' / '150,5' / '1 500,25' in Norwegian (no trailing zeros)."""
    digits = 0 if float(value).is_integer() else 2
    text = number(value, lg, digits)
    return text[:-1] if digits and text.endswith("0") else text


def pct(x: float | None, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """A proportion (0-1) as a percentage: '10.4 %' / '10,4 %' (a no-break space before the sign in both
    languages, as CLDR has it for Norwegian and as the charts' axes and texts write it in English too)."""
    if _missing(x):
        return "–"
    pattern = _pattern(digits, PERCENT_SUFFIX)
    return _minus(babel_numbers.format_percent(float(x), format=pattern, locale=_locale(lang)))


MOST_DIGITS = 6


def _pattern_upto(least: int, most: int, suffix: str = "") -> babel_numbers.NumberPattern:
    """'#,##0.0##' (+ suffix): at least `least` decimals, at most `most` (trailing zeros beyond `least` dropped)."""
    decimals = "0" * least + "#" * max(0, most - least)
    return babel_numbers.parse_pattern("#,##0" + ("." + decimals if decimals else "") + suffix)


def apart(value: float | None, limit: float | None, fmt, digits: int = 1) -> tuple[str, str]:
    """A value and the limit it is compared with, formatted by `fmt(x, least, most)` with as many decimals as it
    takes for the two to print differently (from `digits`, at most MOST_DIGITS; the extra decimals without
    trailing zeros): never "0,6 % against the limit 0,6 %" for 0.6049 % and 0.6038 %, nor "CUSUM 3,65 (threshold
    3,65)" for 3.6512 and 3.6498. Equal values print equal; a value of 0 stays "0,0 %"."""
    a, b = fmt(value, digits, digits), fmt(limit, digits, digits)
    if a != b or _missing(value) or _missing(limit) or float(value) == float(limit):
        return a, b
    for n in range(digits + 1, MOST_DIGITS + 1):
        a, b = fmt(value, digits, n), fmt(limit, digits, n)
        if a != b:
            break
    return a, b


def pct_apart(value: float | None, limit: float | None, lang: str = DEFAULT_LANG, digits: int = 1
              ) -> tuple[str, str]:
    """Two proportions as percentages that print differently unless they are equal (apart)."""
    def fmt(x, least, most):
        if _missing(x):
            return "–"
        return _minus(babel_numbers.format_percent(float(x), format=_pattern_upto(least, most, PERCENT_SUFFIX),
                                                   locale=_locale(lang)))
    return apart(value, limit, fmt, digits)


def number_apart(value: float | None, limit: float | None, lang: str = DEFAULT_LANG, digits: int = 2
                 ) -> tuple[str, str]:
    """Two numbers that print differently unless they are equal (apart)."""
    def fmt(x, least, most):
        if _missing(x):
            return "–"
        return _minus(babel_numbers.format_decimal(float(x), format=_pattern_upto(least, most),
                                                   locale=_locale(lang)))
    return apart(value, limit, fmt, digits)


def pct_range(low: float | None, high: float | None, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """'8.1–12.9 %' from two proportions."""
    if _missing(low) or _missing(high):
        return "–"
    low_text = pct(low, lang, digits).removesuffix(PERCENT_SUFFIX)
    return f"{low_text}–{pct(high, lang, digits)}"


def nok(x: float | None, lang: str = DEFAULT_LANG) -> str:
    """'NOK 12,345' / 'kr 12 345': whole kroner, the currency's symbol in the language before the amount."""
    if _missing(x):
        return "–"
    return f"{babel_numbers.get_currency_symbol('NOK', locale=_locale(lang))}{NBSP}{number(x, lang, 0)}"


DATE_PATTERNS = {"nb": "dd.MM.yyyy", "en": "yyyy-MM-dd"}  # the form a Norwegian reader writes; ISO in English


def date(d: dt.date | None, lang: str = DEFAULT_LANG) -> str:
    """A date as its readers write it: '25.03.2026' ('25.03.2026 07:05') in Norwegian, ISO '2026-03-25'
    ('2026-03-25 07:05') in English. Files (exports, the URL) keep ISO dates."""
    if _missing(d):
        return "–"
    pattern = DATE_PATTERNS.get(lang, DATE_PATTERNS["en"])
    if isinstance(d, dt.datetime):
        return babel_dates.format_datetime(d, f"{pattern} HH:mm", tzinfo=d.tzinfo, locale=_locale(lang))
    if isinstance(d, dt.date):
        return babel_dates.format_date(d, pattern, locale=_locale(lang))
    return d.isoformat() if hasattr(d, "isoformat") else str(d)


def _as_date(d: object) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    if isinstance(d, str):
        return dt.date.fromisoformat(d[:10])
    import pandas as pd  # numpy datetime64 and the like, as they come out of a figure

    return pd.Timestamp(d).date()


def month_label(d: dt.date, lang: str = DEFAULT_LANG) -> str:
    """'Mar 2026' / 'mars 2026': CLDR's abbreviated month with the year (skeleton yMMM)."""
    return babel_dates.format_skeleton("yMMM", _as_date(d), locale=_locale(lang))


def period_label(d: dt.date | None, period: str = "month", lang: str = DEFAULT_LANG) -> str:
    """'Mar 2026' / 'mars 2026', 'Q1 2026' / '1. kvartal 2026', 'week of 2026-03-02', '2026'."""
    if _missing(d):
        return "–"
    d = _as_date(d)
    if period == "month":
        return month_label(d, lang)
    if period == "quarter":  # nb: the wide form; CLDR's abbreviation 'K1' is not what Norwegian readers know
        return babel_dates.format_date(d, "QQQQ y" if lang == "nb" else "QQQ y", locale=_locale(lang))
    if period == "year":
        return babel_dates.format_date(d, "y", locale=_locale(lang))
    return t("period_week_of", lang, date=date(d, lang))


def month_ticks(xs: Iterable[Iterable[object] | None], lang: str = DEFAULT_LANG, max_ticks: int = 8) -> dict:
    """`tickvals` / `ticktext` for a date axis: month starts (every 1, 2, 3, 6 or 12 months, at most `max_ticks`)
    labelled in the language ('mars 2026'), for `fig.update_xaxes(type="date", **month_ticks(...))`. Plotly's
    own date ticks are English only. `xs` are the x values of the traces (None and missing values are skipped);
    a span holding fewer than two month starts gets its first and last day, labelled '5. mars 2026'."""
    days = sorted({_as_date(v) for x in xs if x is not None for v in x if not _missing(v)})
    if not days:
        return {}
    first, last = days[0], days[-1]
    # months counted from year 0 (January of a year is a multiple of 12); the first month start on or after `first`
    first_index = first.year * 12 + first.month - 1 + (first.day > 1)
    months_n = last.year * 12 + last.month - 1 - first_index + 1  # month starts within [first, last]
    if months_n < 2:
        ticks = sorted({first, last})
        return {"tickvals": [d.isoformat() for d in ticks],
                "ticktext": [babel_dates.format_skeleton("yMMMd", d, locale=_locale(lang)) for d in ticks]}
    step = next(s for s in (1, 2, 3, 6, 12, 24, 60, 120, 1200) if math.ceil(months_n / s) <= max_ticks)
    ticks = [dt.date(i // 12, i % 12 + 1, 1) for i in range(first_index, first_index + months_n) if i % step == 0]
    return {"tickvals": [d.isoformat() for d in ticks], "ticktext": [month_label(d, lang) for d in ticks]}


def plotly_separators(lang: str = DEFAULT_LANG) -> str:
    """Plotly's `separators` (decimal then thousands) for the language, from CLDR: ',' and a space in Norwegian,
    '.' and ',' in English. CLDR's no-break space is written as a plain space here: an SVG label never wraps, and
    Plotly's axis labels stay as they were."""
    loc = _locale(lang)
    return babel_numbers.get_decimal_symbol(loc) + babel_numbers.get_group_symbol(loc).replace(NBSP, " ")
