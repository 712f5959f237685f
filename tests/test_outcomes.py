"""Registry integrity: unique keys, both languages, sane windows, and every definition compiles and runs."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.ingest import store
from pipelines.metrics import counting, registry
from pipelines.metrics.registry import GROUPS, OUTCOMES, OUTCOMES_BY_KEY

REQUIRED = {"insufficient_effect", "asymmetry", "ptosis", "eyelid_ptosis", "brow_ptosis", "bruising", "bleeding",
            "pain", "itching", "infection", "allergic_reaction", "dry_eye", "double_vision", "correction",
            "unsatisfactory_result", "headache_non_response", "hyperhidrosis_non_response",
            "secondary_non_response", "treated_despite_risk"}


def test_keys_are_unique_and_cover_the_issue():
    keys = [o.key for o in OUTCOMES]
    assert len(keys) == len(set(keys)) == len(OUTCOMES_BY_KEY)
    assert REQUIRED <= set(keys)


@pytest.mark.parametrize("o", OUTCOMES, ids=lambda o: o.key)
def test_labels_and_texts_in_both_languages(o):
    for text in (o.label_en, o.label_nb, o.description_en, o.description_nb, o.eligible_en, o.eligible_nb):
        assert text.strip()
    assert o.label_en != o.label_nb or o.label_en in {"Asymmetri"}
    assert o.description_en != o.description_nb


@pytest.mark.parametrize("o", OUTCOMES, ids=lambda o: o.key)
def test_windows_groups_and_references_are_sane(o):
    assert 0 <= o.window_days[0] <= o.window_days[1] <= 365
    for w in o.window_days_by_indication.values():
        assert 0 <= w[0] <= w[1] <= 365
    assert o.group in GROUPS
    assert o.lost_to_follow_up in ("excluded", "event")
    if o.needs_follow_up:
        assert o.followed_agg and o.event_agg and o.assessed_by
    else:
        assert o.session_event_sql
    if o.reference and o.reference.low_pct is not None and o.reference.high_pct is not None:
        assert 0 <= o.reference.low_pct <= o.reference.high_pct <= 100
        assert o.reference.source


@pytest.mark.parametrize("o", OUTCOMES, ids=lambda o: o.key)
def test_followed_up_is_the_assessment_never_the_event(o):
    """Registry principles 1 and 2: a session is followed up for an outcome only by a contact in the window that
    assessed it (the follow_ups columns the outcome names, answered), or by its session-level assessment; the
    event's own conditions never enter the followed-up flag."""
    from pipelines.metrics.registry import FOLLOW_UP_COLUMNS

    assert set(o.assessed_by) <= set(FOLLOW_UP_COLUMNS)
    followed = counting._base_flags(o)["followed"]
    if o.needs_follow_up:
        assert o.followed_agg == f"bool_or({{in_window}} AND ({o.assessed}))"
        if not o.assessed_sql:  # every named column answered (effect: not `not_assessed`)
            assert o.assessed == " AND ".join(registry.answered(c) for c in o.assessed_by)
    if o.session_event_sql:
        assert o.session_event_sql not in followed
    if o.event_agg:
        assert o.event_agg not in followed


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("empty") / "clinic.duckdb"
    con = duckdb.connect(str(path))
    store.init_schema(con)
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("o", OUTCOMES, ids=lambda o: o.key)
def test_every_definition_compiles_and_runs_on_an_empty_database(empty_db, o):
    for by in ((), ("clinician",), ("area",)):
        frame = counting.counts(empty_db, o.key, by=by, period="month")
        assert list(frame.columns[:1]) == ["metric"]
    overall = counting.counts(empty_db, o.key)
    assert overall[list(counting.COUNT_COLUMNS)].sum().sum() == 0


def test_every_watched_outcome_exists_and_each_has_one_watch():
    from pipelines.metrics import registry

    named = registry.WATCHED_PER_CLINICIAN + registry.WATCHED_CASE_BY_CASE
    assert set(named) <= set(registry.OUTCOMES_BY_KEY) and len(set(named)) == len(named)
    assert {o.watch for o in registry.OUTCOMES} == set(registry.WATCH_LEVELS)
    assert registry.get("eyelid_ptosis").watch == "clinician" and registry.get("ptosis").watch == "clinic"
    assert registry.get("allergic_reaction").watch == "case"
