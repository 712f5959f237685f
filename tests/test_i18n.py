"""dashboard/i18n.py: every text in both languages with the same placeholders, every key the code uses exists,
every coded value the data can hold has a label, and numbers / dates format per language."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from conftest import ROOT

from dashboard import i18n
from pipelines import contract
from pipelines.metrics import analysis, registry, signals
from pipelines.release import access

SOURCES = sorted([*(ROOT / "dashboard").glob("*.py"), *(ROOT / "dashboard" / "pages").glob("*.py"),
                  ROOT / "streamlit_app.py"])


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(i18n.TEXTS))
def test_both_languages_with_the_same_placeholders(key):
    en, nb = i18n.TEXTS[key]
    assert en.strip() and nb.strip()
    assert placeholders(en) == placeholders(nb)


def test_every_literal_key_used_in_the_code_exists():
    pattern = re.compile(r"""\b(?:tr|t|i18n\.t)\(\s*["']([a-z0-9_ ]+)["']""")
    used = {m.group(1) for path in SOURCES for m in pattern.finditer(path.read_text(encoding="utf-8"))}
    assert len(used) > 100
    prefixes = {k for k in used if k.endswith("_")}  # 'kind_' + value: the families are checked below
    missing = sorted(k for k in used - prefixes if k not in i18n.TEXTS)
    assert not missing
    assert prefixes <= {"kind_", "reading_short_", "responder_reference_", "reading_"}


def test_every_coded_value_has_a_label_in_both_languages():
    families = {
        "ind": contract.INDICATIONS, "area": contract.AREAS, "group": registry.GROUPS, "prof": contract.PROFESSIONS,
        "effect": contract.EFFECTS, "unit": ("botox", "speywood"), "kind": signals.KINDS,
        "kind_short": signals.KINDS, "method": analysis.FUNNEL_METHODS, "od": analysis.OVERDISPERSION,
        "chart": analysis.CHARTS, "chart_short": analysis.CHARTS, "rules": analysis.RULE_SETS,
        "review": signals.REVIEW_SETS, "period": ("week", "month", "quarter", "year"),
        "reading": ("common_cause", "special_cause_concerning", "special_cause_improving", "none"),
        "reading_short": ("common_cause", "special_cause_concerning", "special_cause_improving", "none"),
        "cusum": ("in control", "watch", "signal"),
        "rule": ("sigma", "runs_longest", "runs_crossings", "funnel_998", "cusum",
                 *(f"mdc_{r}" for r in signals.MDC_RULES)),
        "export": ("rates", "funnel", "spc", "costs", "cusum", "records"),
        "export_mode": ("release", "internal"),
        "role": (*access.ROLES, "none"),
        "event": access.EVENTS,
        "responder_reference": ("migraine", "tension_headache", "hyperhidrosis"),
    }
    missing = [f"{prefix}_{value}" for prefix, values in families.items() for value in values
               if f"{prefix}_{value}" not in i18n.TEXTS]
    assert not missing


def test_lookup_fills_placeholders_and_falls_back_to_the_code():
    assert i18n.t("events_of", "nb", num=3, den=40) == "3 av 40"
    assert i18n.t("events_of", "en", num=3, den=40) == "3 of 40"
    assert i18n.label("ind", "migraine", "nb") == "Migrene"
    assert i18n.label("ind", "something_new", "nb") == "something_new"
    assert i18n.label("ind", None, "en") == ""
    with pytest.raises(KeyError):
        i18n.t("no_such_key", "en")


def test_numbers_and_percentages_per_language():
    nbsp = "\u00a0"
    assert i18n.number(1234567.891, "nb", 1) == f"1{nbsp}234{nbsp}567,9"
    assert i18n.number(1234567.891, "en", 1) == "1,234,567.9"
    assert i18n.number(-8.1, "nb", 1) == "−8,1"
    assert i18n.pct(0.1049, "nb") == f"10,5{nbsp}%"
    assert i18n.pct(0.1049, "en", 2) == f"10.49{nbsp}%"
    assert i18n.pct_range(0.081, 0.129, "nb") == f"8,1–12,9{nbsp}%"
    assert i18n.nok(823845.4, "nb") == f"kr{nbsp}823{nbsp}845"
    assert i18n.nok(823845.4, "en") == f"NOK{nbsp}823,845"
    for missing in (None, float("nan")):
        assert i18n.pct(missing, "nb") == i18n.number(missing, "en") == i18n.nok(missing) == "–"
    assert i18n.plotly_separators("nb") == ", " and i18n.plotly_separators("en") == ".,"


def test_dates_and_periods():
    d = dt.date(2026, 3, 1)
    assert i18n.date(d, "nb") == i18n.date(d, "en") == "2026-03-01"
    assert i18n.date(dt.datetime(2026, 3, 1, 7, 5)) == "2026-03-01 07:05"
    assert i18n.period_label(d, "month", "nb") == "mar. 2026"
    assert i18n.period_label(d, "month", "en") == "Mar 2026"
    assert i18n.period_label(dt.date(2026, 5, 1), "month", "nb") == "mai 2026"
    assert i18n.period_label(d, "quarter", "en") == "Q1 2026"
    assert i18n.period_label(dt.date(2026, 10, 1), "quarter", "nb") == "4. kv. 2026"
    assert i18n.period_label(d, "year", "en") == "2026"
    assert i18n.period_label(d, "week", "nb") == "uke fra 2026-03-01"


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
