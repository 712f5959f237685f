"""dashboard/i18n.py: every text in both languages with the same placeholders, singular and plural forms chosen by
the language's plural rule, every key the code uses exists and every key is used, every coded value the data can
hold has a label, and numbers / dates format per language (Babel, CLDR)."""

from __future__ import annotations

import ast
import datetime as dt
import re
import string

import babel
import pandas as pd
import pytest
from conftest import ROOT

from dashboard import charts, i18n
from pipelines import contract, stats
from pipelines.ingest import history
from pipelines.metrics import analysis, registry, signals
from pipelines.release import access, build, reviews

# where texts are named: the dashboard, and the page table (pipelines/release/access.py names each page's title
# and menu-section keys)
SOURCES = sorted([*(ROOT / "dashboard").glob("*.py"), *(ROOT / "dashboard" / "pages").glob("*.py"),
                  ROOT / "streamlit_app.py", ROOT / "pipelines" / "release" / "access.py"])
NBSP = "\u00a0"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(i18n.TEXTS))
def test_both_languages_with_the_same_placeholders(key):
    en, nb = i18n.TEXTS[key]
    assert en.strip() and nb.strip()
    assert placeholders(en) == placeholders(nb)


# --------------------------------------------------------------------------------------------------------------
# Plural forms
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_the_plural_forms_are_the_categories_of_the_languages_plural_rule(lang):
    """PLURALS holds one form per CLDR category of the language (one, other for both); a language with more
    categories (few, many) would need more forms, and this fails first."""
    rule = babel.Locale.parse(i18n.LOCALES[lang]).plural_form
    assert {*rule.tags, "other"} == set(i18n.PLURAL_FORMS)
    assert PLURAL_FORMS_ORDER == i18n.PLURAL_FORMS


PLURAL_FORMS_ORDER = ("one", "other")


@pytest.mark.parametrize("key", sorted(i18n.PLURALS))
def test_plural_forms_with_the_same_placeholders(key):
    """Every form of both languages has the same placeholders; the count `{n}` is in every 'other' form (a 'one'
    form may say 'once' instead)."""
    en, nb = i18n.PLURALS[key]
    assert len(en) == len(nb) == len(i18n.PLURAL_FORMS)
    forms = [*en, *nb]
    assert all(f.strip() for f in forms)
    assert "n" in placeholders(en[1]) and "n" in placeholders(nb[1])
    others = {frozenset(placeholders(f) - {"n"}) for f in forms}
    assert len(others) == 1, forms
    assert en[0] != en[1] or nb[0] != nb[1], "a text with one form for every count belongs in TEXTS"


def test_one_and_many_in_both_languages():
    """'1 days ago' was shown before: a count of exactly 1 takes the singular, 0 and 2 and 21 the plural (the
    CLDR rule for nb and en: 'one' is n = 1 only)."""
    assert i18n.tn("days_ago", 1, "en") == "1 day ago"
    assert i18n.tn("days_ago", 2, "en") == "2 days ago"
    assert i18n.tn("days_ago", 21, "en") == "21 days ago"
    assert i18n.tn("days_ago", 1, "nb") == "for 1 dag siden"
    assert i18n.tn("days_ago", 2, "nb") == "for 2 dager siden"
    assert i18n.tn("days_ago", 21, "nb") == "for 21 dager siden"
    assert i18n.tn("export_rows", 0, "en") == "0 rows"
    assert i18n.tn("export_rows", 1, "en") == "1 row"
    assert i18n.tn("export_rows", 1, "nb") == "1 rad"
    assert i18n.tn("export_rows", 1234, "nb") == f"1{NBSP}234 rader"  # the count formatted as a number
    assert i18n.tn("export_rows", 1234, "en") == "1,234 rows"
    assert i18n.tn("kpi_corrections_n", 1, "nb") == "1 korrigering"
    assert i18n.tn("kpi_corrections_n", 3, "nb") == "3 korrigeringer"
    assert i18n.tn("awaiting_short", 1, "nb") == "1 ennå åpen"
    assert i18n.tn("awaiting_short", 4, "nb") == "4 ennå åpne"
    assert i18n.tn("stale_warning", 1, "en").startswith("The newest treatment is 1 day old:")
    assert i18n.tn("kpi_unpriced", 1, "en").startswith("1 correction has no product price for its date")
    assert i18n.tn("kpi_unpriced", 2, "en").startswith("2 corrections have no product price for their date")
    assert i18n.tn("access_log_bad_lines", 1, "en").startswith("1 line of the log cannot be read and is left out")
    assert i18n.tn("access_log_bad_lines", 2, "nb").startswith("2 linjer i loggen kan ikke leses")
    assert i18n.tn("access_log_shown", 1, "en", shown=1) == "1 of 1 entry, newest first."
    assert i18n.tn("access_log_shown", 40, "nb", shown=3) == "3 av 40 oppføringer, nyeste først."
    assert "crosses the centre line only once:" in i18n.tn("rule_runs_crossings", 1, "en", limit=4)
    assert "bare 2 ganger:" in i18n.tn("rule_runs_crossings", 2, "nb", limit=4)
    assert i18n.tn("count_sessions", 5000, "nb") == f"5{NBSP}000 behandlinger"
    assert i18n.tn("legend_small_n", 1, "en") == "Fewer than 1 session"
    assert i18n.tn("small_n", 20, "nb") == "færre enn 20 behandlinger: tolk med varsomhet"
    # the count shown with more detail than a number: the form still follows the count
    assert i18n.tn("about_closed", 1, "en", n="1 (migraine: 28)").endswith("closed: 1 (migraine: 28) day after "
                                                                           "treatment.")
    assert i18n.tn("days_ago", None, "en") == "– days ago"


def test_a_text_with_a_count_has_no_plain_form():
    with pytest.raises(KeyError, match="tn"):
        i18n.t("days_ago", "en", n=1)
    with pytest.raises(KeyError):
        i18n.tn("events_of", 3, "en")
    with pytest.raises(TypeError, match="as a number"):  # a pre-formatted '1' would pick a form by accident
        i18n.tn("days_ago", "1", "en")


# --------------------------------------------------------------------------------------------------------------
# Keys: every key the code uses exists, and every key is used
# --------------------------------------------------------------------------------------------------------------

# Keys the code builds from a value: template -> every value the template is filled with. Each template here must
# occur in the code (an f-string or `+` as the key of t / tr / tn, or `prefix_` of label / labeller / fmt /
# choice(prefix=)), each template in the code must be here, and every key it generates must exist. A new family:
# add it here.
REASON_KINDS = (*(kind for kind, _ in history._REASON_KINDS), "invalid value")  # 'invalid value': the ELSE branch
SETUP_KEYS = ("setup_not_configured", "setup_misconfigured", "setup_unreadable")  # auth.py, the sign-in setup page
METHOD_KEYS = ("method_windows", "method_wilson", "method_spc", "method_anhoej", "method_mdc", "method_funnel",
               "method_signals",
               "method_oe", "method_cusum", "method_small", "method_cells")  # pages/about.py
DYNAMIC: dict[str, tuple[str, ...]] = {
    # i18n.label(prefix, value), filters' fmt(prefix), components.labeller(prefix), components.choice(prefix=)
    "ind_{}": tuple(contract.INDICATIONS),
    "area_{}": tuple(contract.AREAS),
    "group_{}": registry.GROUPS,
    "prof_{}": tuple(contract.PROFESSIONS),
    "effect_{}": tuple(contract.EFFECTS),
    "event_{}": access.EVENTS,
    "kind_{}": (*signals.KINDS, *REASON_KINDS),  # signal kinds (overview) and rejection kinds (data quality)
    "cusum_{}": ("in control", "watch", "signal", "no_events", "too_rare"),  # statuses, then why no chart
    "method_{}": analysis.FUNNEL_METHODS,
    "od_{}": analysis.OVERDISPERSION,
    "chart_short_{}": ("auto", *analysis.CHARTS, "g"),  # the complications page: auto, p, pp, g
    "rules_{}": analysis.RULE_SETS,
    "period_{}": ("week", "month", "quarter", "year"),
    "review_{}": signals.REVIEW_SETS,
    "export_mode_{}": ("release", "internal"),
    "report_{}": ("last", "quarter", "year"),  # the reporting period presets (dashboard/filters.py)
    # issue 12: the quality meeting (pages/signals.py, charts.add_target)
    "conclusion_{}": reviews.CONCLUSIONS,
    "review_status_{}": (*reviews.STATUSES, "all"),
    "assurance_{}": (*stats.ASSURANCE_READINGS, "none"),
    # f-strings and `+`
    "role_{}": (*access.ROLES, "none"),
    "spc_rules_{}": analysis.RULE_SETS,
    "by_{}": ("indication", "area", "product", "clinician", "month", "quarter", "week", "lot", "dilution",
              "dose_band"),
    "dose_band_{}": tuple(band for band, _ in contract.DOSE_BANDS),  # pages/lots.py
    "reading_{}": ("common_cause", "special_cause_concerning", "special_cause_improving", "none"),
    "reading_short_{}": ("common_cause", "special_cause_concerning", "special_cause_improving", "none"),
    "pos_{}": ("high", "low"),
    "pos_{}95": ("high", "low"),
    "rule_{}": tuple(f"mdc_{r}" for r in signals.MDC_RULES),  # overview: the MDC rules; the others literally
    "rule_mdc_{}": signals.MDC_RULES,
    "kind_short_{}": signals.KINDS,
    "export_{}": build.KINDS,
    "export_{}_help": build.KINDS,
    "responder_reference_{}": ("migraine", "tension_headache", "hyperhidrosis"),
    "{}_title": SETUP_KEYS,
    "{}_text": (*SETUP_KEYS, *METHOD_KEYS),
    "load_table_{}": ("treatments", "follow_ups", "clinicians", "product_prices"),  # pages/load.py
}
KEY_FUNCTIONS = {"t": "TEXTS", "tr": "TEXTS", "tn": "PLURALS"}  # tr: the streamlit-side wrappers of t
PREFIX_FUNCTIONS = ("label", "labeller", "fmt")


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _key_nodes(node: ast.expr) -> list[ast.expr]:
    """The possible keys of an argument: both sides of `a if c else b`."""
    return [*_key_nodes(node.body), *_key_nodes(node.orelse)] if isinstance(node, ast.IfExp) else [node]


def _template(node: ast.expr) -> str | None:
    """f"by_{x}" and "kind_" + x as 'by_{}' and 'kind_{}'; None for a plain variable (its value is a literal
    elsewhere in the code)."""
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in (node.left, node.right))
    return None


def _code_trees() -> list[ast.AST]:
    """The dashboard's modules; of i18n.py only its functions (its tables would name every key)."""
    trees: list[ast.AST] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        trees += [n for n in tree.body if isinstance(n, ast.FunctionDef)] if path.name == "i18n.py" else [tree]
    return trees


def scan_code(trees: list[ast.AST] | None = None) -> dict:
    """Literal keys per table, key templates, and every string constant of the code."""
    literal: dict[str, set[str]] = {"TEXTS": set(), "PLURALS": set()}
    templates: set[str] = set()
    constants: set[str] = set()
    for tree in _code_trees() if trees is None else trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
            if not isinstance(node, ast.Call):
                continue
            name = _name(node.func)
            if name in KEY_FUNCTIONS and node.args:
                for arg in _key_nodes(node.args[0]):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        literal[KEY_FUNCTIONS[name]].add(arg.value)
                    elif (template := _template(arg)) is not None and template != "{}_{}":  # the labeller itself
                        templates.add(template)
            prefixes = [node.args[0]] if name in PREFIX_FUNCTIONS and node.args else []
            prefixes += [kw.value for kw in node.keywords if kw.arg == "prefix" and name == "choice"]
            templates |= {f"{p.value}_{{}}" for p in prefixes if isinstance(p, ast.Constant) and p.value}
    return {"literal": literal, "templates": templates, "constants": constants}


def generated_keys() -> set[str]:
    return {template.format(value) for template, values in DYNAMIC.items() for value in values}


def test_every_literal_key_used_in_the_code_exists_in_its_table():
    """t("key") / tr("key") look in TEXTS, tn("key", n) in PLURALS (a text with a count has no plain form)."""
    literal = scan_code()["literal"]
    assert len(literal["TEXTS"]) > 300 and len(literal["PLURALS"]) > 20
    assert not sorted(k for k in literal["TEXTS"] if k not in i18n.TEXTS)
    assert not sorted(k for k in literal["PLURALS"] if k not in i18n.PLURALS)


def test_every_key_built_in_the_code_is_a_declared_family_and_exists():
    """Every coded value the data can hold has a label in both languages (test_both_languages... checks them)."""
    templates = scan_code()["templates"]
    assert not sorted(templates - set(DYNAMIC)), "a key built from a value: declare its family in DYNAMIC"
    assert not sorted(set(DYNAMIC) - templates), "a family the code no longer builds: remove it from DYNAMIC"
    missing = sorted(k for k in generated_keys() if k not in i18n.TEXTS)
    assert not missing


def test_every_key_is_used():
    """A key is used when the code names it (a string anywhere in dashboard/ or streamlit_app.py outside the
    tables: t("key"), a tuple of keys, `key = "..."`) or builds it through a family in DYNAMIC. An unused text is
    dead weight that drifts out of date. (A key equal to a string the code uses for something else, such as
    'month', counts as used: the check cannot tell them apart.)"""
    used = scan_code()["constants"] | generated_keys()
    unused = sorted(k for k in (*i18n.TEXTS, *i18n.PLURALS) if k not in used)
    assert not unused


def test_the_checks_catch_an_unused_key_a_missing_key_and_an_undeclared_family(monkeypatch):
    monkeypatch.setitem(i18n.TEXTS, "nobody_uses_this", ("x", "x"))
    with pytest.raises(AssertionError, match="nobody_uses_this"):
        test_every_key_is_used()
    code = ast.parse('tr("no_such_text")\ni18n.tn("no_such_count", 3, lg)\nt(f"colour_{c}", lg)\n'
                     'ui.choice("x", "y", ("a",), default="a", prefix="shade")\ni18n.label("tint", v, lg)')
    scanned = scan_code([code])
    assert scanned["literal"] == {"TEXTS": {"no_such_text"}, "PLURALS": {"no_such_count"}}
    assert scanned["templates"] == {"colour_{}", "shade_{}", "tint_{}"}


def test_no_key_is_defined_twice():
    """A dict literal with a key written twice keeps the last value silently (it hid "What fired" once)."""
    tree = ast.parse((ROOT / "dashboard" / "i18n.py").read_text(encoding="utf-8"))
    tables = [n.value for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.value, ast.Dict)]
    assert len(tables) >= 2
    for table in tables:
        keys = [k.value for k in table.keys]
        assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
    assert not set(i18n.TEXTS) & set(i18n.PLURALS)


def test_lookup_fills_placeholders_and_falls_back_to_the_code():
    assert i18n.t("events_of", "nb", num=3, den=40) == "3 av 40"
    assert i18n.t("events_of", "en", num=3, den=40) == "3 of 40"
    assert i18n.label("ind", "migraine", "nb") == "Migrene"
    assert i18n.label("ind", "something_new", "nb") == "something_new"
    assert i18n.label("ind", None, "en") == ""
    with pytest.raises(KeyError):
        i18n.t("no_such_key", "en")


# --------------------------------------------------------------------------------------------------------------
# Numbers and dates (Babel: nb_NO, en_US)
# --------------------------------------------------------------------------------------------------------------


def test_numbers_and_percentages_per_language():
    assert i18n.number(1234567.891, "nb", 1) == f"1{NBSP}234{NBSP}567,9"
    assert i18n.number(1234567.891, "en", 1) == "1,234,567.9"
    assert i18n.number(12.5, "nb") == "12"  # half to even, as before
    # a true minus (U+2212: CLDR's minus sign for nb; Babel writes the pattern's hyphen-minus, fixed here), and
    # in English too, as before; a value that rounds to zero has no sign
    assert i18n.number(-8.1, "nb", 1) == "\u22128,1"
    assert i18n.number(-1234.5, "en", 1) == "\u22121,234.5"
    assert i18n.number(-0.04, "nb", 1) == "0,0"
    assert i18n.pct(0.1049, "nb") == f"10,5{NBSP}%"
    assert i18n.pct(0.125, "nb") == f"12,5{NBSP}%"
    assert i18n.pct(0.1049, "en", 2) == f"10.49{NBSP}%"
    assert i18n.pct(12.3456, "nb", 0) == f"1{NBSP}235{NBSP}%"
    assert i18n.pct(-0.021, "en") == f"\u22122.1{NBSP}%"
    assert i18n.pct_range(0.081, 0.129, "nb") == f"8,1–12,9{NBSP}%"
    assert i18n.pct_range(0.081, 0.129, "en") == f"8.1–12.9{NBSP}%"
    assert i18n.nok(823845.4, "nb") == f"kr{NBSP}823{NBSP}845"
    assert i18n.nok(823845.4, "en") == f"NOK{NBSP}823,845"
    for missing in (None, float("nan")):
        assert i18n.pct(missing, "nb") == i18n.number(missing, "en") == i18n.nok(missing) == "–"
        assert i18n.pct_range(missing, 0.1, "nb") == "–"
    assert i18n.plotly_separators("nb") == ", " and i18n.plotly_separators("en") == ".,"


def test_dates_and_periods():
    d = dt.date(2026, 3, 1)
    # issue 16: Norwegian dates as a Norwegian reader writes them (30.11.2026); English keeps ISO
    assert i18n.date(d, "nb") == "01.03.2026"
    assert i18n.date(d, "en") == "2026-03-01"
    assert i18n.date(dt.datetime(2026, 3, 1, 7, 5), "nb") == "01.03.2026 07:05"
    assert i18n.date(dt.datetime(2026, 3, 1, 7, 5), "en") == "2026-03-01 07:05"
    assert i18n.date(dt.date(2026, 11, 30), "nb") == "30.11.2026"
    assert i18n.date(None) == i18n.date(float("nan")) == "–"
    # month names from CLDR (format context, skeleton yMMM): 'mars', 'mai', 'juni', 'juli' are written out, the
    # others abbreviated with a full stop ('jan.', 'okt.'); before: a hand-made list with 'mar.'
    assert i18n.period_label(d, "month", "nb") == "mars 2026"
    assert i18n.period_label(dt.date(2026, 1, 1), "month", "nb") == "jan. 2026"
    assert i18n.period_label(dt.date(2026, 5, 1), "month", "nb") == "mai 2026"
    assert i18n.period_label(dt.date(2026, 10, 1), "month", "nb") == "okt. 2026"
    assert i18n.period_label(d, "month", "en") == "Mar 2026"
    assert i18n.period_label(dt.datetime(2026, 9, 1, 0, 0), "month", "en") == "Sep 2026"  # en_GB: "Sept"
    assert i18n.period_label(d, "quarter", "en") == "Q1 2026"
    # nb: CLDR's wide quarter (its abbreviation 'K4' is not what Norwegian readers know); before: '4. kv. 2026'
    assert i18n.period_label(dt.date(2026, 10, 1), "quarter", "nb") == "4. kvartal 2026"
    assert i18n.period_label(d, "year", "en") == "2026"
    assert i18n.period_label(d, "week", "nb") == "uke fra 01.03.2026"
    assert i18n.period_label(d, "week", "en") == "week of 2026-03-01"


def test_month_ticks_of_a_date_axis():
    """Plotly's own date ticks are in English; the charts' date axes get month starts labelled in the language."""
    # 2025-01-15 .. 2025-06-20: month starts Feb-Jun (5), one tick each
    ticks = i18n.month_ticks([["2025-01-15", "2025-06-20"], None, [None]], "nb")
    assert ticks["tickvals"] == ["2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01", "2025-06-01"]
    assert ticks["ticktext"] == ["feb. 2025", "mars 2025", "apr. 2025", "mai 2025", "juni 2025"]
    # 2024-01-01 .. 2026-03-01: 27 month starts -> every 6 months (5 ticks; every 3 would be 9 > 8)
    ticks = i18n.month_ticks([[dt.date(2024, 1, 1), dt.date(2026, 3, 1)]], "en")
    assert ticks["tickvals"] == ["2024-01-01", "2024-07-01", "2025-01-01", "2025-07-01", "2026-01-01"]
    assert ticks["ticktext"] == ["Jan 2024", "Jul 2024", "Jan 2025", "Jul 2025", "Jan 2026"]
    # within one month: the first and the last day
    ticks = i18n.month_ticks([["2026-03-02", "2026-03-20"]], "nb")
    assert ticks == {"tickvals": ["2026-03-02", "2026-03-20"], "ticktext": ["2. mars 2026", "20. mars 2026"]}
    assert i18n.month_ticks([["2026-03-02", "2026-03-20"]], "en")["ticktext"] == ["Mar 2, 2026", "Mar 20, 2026"]
    # across a new year: the first month start after 2024-12-15 is 2025-01-01
    ticks = i18n.month_ticks([["2024-12-15", "2025-03-01"]], "nb")
    assert ticks["tickvals"] == ["2025-01-01", "2025-02-01", "2025-03-01"]
    assert i18n.month_ticks([None, [None]], "nb") == {}


def test_a_norwegian_chart_has_norwegian_month_names_on_its_axis():
    periods = [dt.date(2025, m, 1) for m in range(1, 7)]
    frame = analysis.spc_from_counts(pd.DataFrame({
        "period_start": periods, "eligible_n": 100, "followed_up_n": 100, "event_n": 5, "awaiting_n": 0,
        "numerator_n": 5, "denominator_n": 100}))
    fig = charts.spc_chart(frame, outcome_label="Blåmerker", lang="nb")
    assert fig.layout.xaxis.type == "date"
    assert list(fig.layout.xaxis.tickvals) == [d.isoformat() for d in periods]
    assert list(fig.layout.xaxis.ticktext) == ["jan. 2025", "feb. 2025", "mars 2025", "apr. 2025", "mai 2025",
                                               "juni 2025"]
    rate = next(tr for tr in fig.data if tr.name == i18n.t("legend_rate", "nb"))
    assert rate.customdata[2][0].startswith("<b>mars 2025</b>")


def test_table_columns_have_distinct_labels_in_both_languages():
    """A table built as pd.DataFrame({tr(a): ..., tr(b): ...}) silently loses a column when two keys translate
    to the same label; every table in the pages keeps distinct labels in both languages."""
    block = re.compile(r"pd\.DataFrame\(\{(.*?)\}\)", re.S)
    key = re.compile(r"""ui\.tr\(\s*["']([a-z0-9_]+)["']\s*\)\s*:""")
    checked = 0
    for path in SOURCES:
        for m in block.finditer(path.read_text(encoding="utf-8")):
            keys = key.findall(m.group(1))
            if len(keys) < 2:
                continue
            checked += 1
            for lang in i18n.LANGS:
                labels = [i18n.t(k, lang) for k in keys]
                assert len(labels) == len(set(labels)), (path.name, lang, labels)
    assert checked >= 8
