"""Signals grouped into episodes (issue 17): the overview counts problems, not flagged points."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from pipelines.metrics.episodes import episodes
from pipelines.metrics.signals import SIGNAL_COLUMNS

D = dt.date


def rows(*signals: dict) -> pd.DataFrame:
    return pd.DataFrame([{**dict.fromkeys(SIGNAL_COLUMNS), "concern": True, "direction": "high", **s}
                         for s in signals], columns=SIGNAL_COLUMNS)


def test_consecutive_flagged_months_of_one_rule_are_one_episode():
    sig = rows(*[{"on": D(2024, m, 1), "kind": "spc", "rule": "sigma", "outcome": "ptosis", "value": m}
                 for m in (3, 4, 5, 8)])
    ep = episodes(sig)
    assert len(ep) == 2
    newest, older = ep.iloc[0], ep.iloc[1]
    assert (older["first_date"], older["last_date"], older["signals_n"]) == (D(2024, 3, 1), D(2024, 5, 1), 3)
    assert older["value"] == 5  # the latest signal's figures
    assert (newest["first_date"], newest["last_date"], newest["signals_n"]) == (D(2024, 8, 1), D(2024, 8, 1), 1)


def test_other_sides_outcomes_and_rules_are_other_episodes():
    sig = rows({"on": D(2024, 3, 1), "kind": "spc", "rule": "sigma", "outcome": "ptosis"},
               {"on": D(2024, 4, 1), "kind": "spc", "rule": "sigma", "outcome": "ptosis", "direction": "low",
                "concern": False},
               {"on": D(2024, 4, 1), "kind": "spc", "rule": "sigma", "outcome": "bruising"},
               {"on": D(2024, 4, 1), "kind": "spc", "rule": "mdc_shift", "outcome": "ptosis"})
    assert len(episodes(sig)) == 4


def test_a_cusum_that_keeps_crossing_after_restarts_is_one_episode():
    days = [D(2024, 1, 10), D(2024, 3, 2), D(2024, 8, 20),  # gaps 52 and 171 days: one episode
            D(2025, 6, 1)]                                  # 285 days later: a new one
    sig = rows(*[{"on": d, "kind": "cusum", "rule": "cusum", "outcome": "ptosis", "clinician": "C04"} for d in days],
               {"on": D(2024, 2, 1), "kind": "cusum", "rule": "cusum", "outcome": "ptosis", "clinician": "C05"})
    ep = episodes(sig)
    c04 = ep[ep["clinician"] == "C04"].sort_values("first_date")
    assert list(c04["signals_n"]) == [3, 1]
    assert (c04.iloc[0]["first_date"], c04.iloc[0]["last_date"]) == (D(2024, 1, 10), D(2024, 8, 20))
    assert len(ep[ep["clinician"] == "C05"]) == 1


def test_a_run_starts_its_episode_and_a_funnel_flag_is_one():
    sig = rows({"on": D(2024, 9, 1), "kind": "spc", "rule": "runs_longest", "outcome": "bruising",
                "run_start": D(2024, 1, 1)},
               {"on": D(2024, 12, 31), "kind": "funnel", "rule": "funnel_998", "outcome": "bruising",
                "clinician": "C02"})
    ep = episodes(sig).set_index("kind")
    assert ep.loc["spc", "first_date"] == D(2024, 1, 1) and ep.loc["spc", "last_date"] == D(2024, 9, 1)
    assert ep.loc["funnel", "clinician"] == "C02"


def test_quarters_are_consecutive_three_months_apart():
    sig = rows(*[{"on": d, "kind": "spc", "rule": "sigma", "outcome": "ptosis"}
                 for d in (D(2024, 1, 1), D(2024, 4, 1), D(2024, 10, 1))])
    assert list(episodes(sig, period="quarter").sort_values("first_date")["signals_n"]) == [2, 1]
    assert episodes(rows()).empty
