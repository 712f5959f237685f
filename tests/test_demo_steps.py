"""The demo generator cut into steps (pipelines/demo/): same bytes as before the cut, and a few steps by hand.

The generator is a pure function of (n_treatments, seed, end_date, reference files); every step draws from one
random generator, so moving a draw changes every file after it. The hashes below pin the files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pytest

from pipelines.demo import bad_rows, follow_ups, patients, planted, sessions
from pipelines.demo.generate import write_demo_exports
from pipelines.demo.params import AX, COS, FH, FULL, HYP, MIG, NONE, PA, PARTIAL, TTH, G

# Reference files written by the test, so the pinned hashes do not move when data/*.csv is edited. (The legacy
# files' Norwegian headers still come from data/column_map_nb.csv.)
CLINICIANS_STANDARD = (
    "clinician,profession,cost_per_minute_nok\n"
    "C01,lege,38\nC02,sykepleier,22\nC03,sykepleier,21\nC04,lege,36\nC05,sykepleier,20\nC06,lege,35\n"
    "C07,sykepleier,19\nC08,sykepleier,18\nC09,tannlege,32\nÅSH,lege,40\n"
)
# An edited list: no PTOSIS_CLINICIAN, no late starter, codes the volume table does not know, a profession
# written with a capital and a trailing blank.
CLINICIANS_EDITED = (
    "clinician,profession,cost_per_minute_nok\n"
    "C01,lege,38\nC02,sykepleier,22\nC10,lege,30\nX1,sykepleier,20\nC09,tannlege,32\nC05,Sykepleier ,20\n"
)
PRICES = (
    "product,valid_from,cost_per_unit_nok\n"
    "Botox,2015-01-01,29.50\nBotox,2025-09-01,32.50\nLetybo,2023-01-01,25.00\nRelfydess,2025-06-01,12.50\n"
)

# Produced by the pre-refactor generator (pipelines/demo/generate.py at commit f5295a7, the 300-line _generate)
# with exactly these calls; the refactored generator must write the same bytes. Issue 13 added the lot columns to
# the treatment files of the years after the old journal system (pipelines/demo/lots.py, a random stream of its
# own): only those files' hashes changed; every other file (the old system's, the follow-ups) kept its bytes.
EXPECTED_SHA256 = {
    ("standard", 400, 5, "2025-03-31"): {
        "clinicians.csv": "766742d1d5e12ff94160e6d8bb6e028657a6f01c74480e6375d55f901b0a6eb8",
        "product_prices.csv": "f2d90eb9b58d21c7de358f3c1e0c86de63e8b694537c95aa86827540d9f11aeb",
        "behandlinger_2022.csv": "b6bbc4c3bab5a4c285b73df4006ba488720af045311ba75bdc4eb70930567056",
        "treatments_2023.csv": "5d9b7f3ab9da8d6c4a1f5c8b3ffdd597f64bd8d01f706012cead468ce22694a4",
        "treatments_2024.csv": "bcc91274306231f7419a21e8737f02477d1976b9afd066fcb1eb708195d90012",
        "treatments_2025.csv": "b2d34d355a431c3184f16cb101b31516bffaa6f8de9cbb2f712ad2ed614402e9",
        "follow_ups_2022.csv": "aedc7759d829b09db2f32b877420c62a1c74991b7ffa299871bdf454a9ff919b",
        "follow_ups_2023.csv": "240003489ce339965028754a66da2600954eb60886cc0aeffa19a0f34e24e763",
        "follow_ups_2024.csv": "f4025d1b41ea137a25acbc0fc0f5b2d7772c13c7153e4e45758a6cffe0b6b59d",
        "follow_ups_2025.csv": "9a26a934529ff779dfadaabf9e3ae8143969474bd1b9d554f31562180a255c26",
        # issue 12: written last, without random draws, so every file above keeps its bytes
        "process_changes.csv": "487a3070c4845bd52200c0e0b0b8cd40f3f1299eafc03d3f66c9257e4169bf05",
        "targets.csv": "899abba535295fbde6c6f4d92effffe2ea8c7dbfb9b9dff001c8f31ef5535fe5",
    },
    ("edited", 300, 8, "2024-10-31"): {
        "clinicians.csv": "02e5801420935323c5e3babd984df0a6e6e2d99be559cf3ccd766cb1cae341e0",
        "product_prices.csv": "f2d90eb9b58d21c7de358f3c1e0c86de63e8b694537c95aa86827540d9f11aeb",
        "behandlinger_2021.csv": "7e70527604226afad2fbc8b08126b2874f94dbfb1f1cbafa4530a6edd055a763",
        "behandlinger_2022.csv": "dbfadcf2b9bcc986331ce259c5a6cee4053be2b3887dd4bd37a478125ca041bc",
        "treatments_2023.csv": "e066e8b1f13e6e4ef9ff3451f2476275ef3ab79a1cffc1c62f0679a5e8b5464c",
        "treatments_2024.csv": "0d55d6789bed58c664a640683858f55e4613ba3c03bb1ea42fc402824de38666",
        "follow_ups_2021.csv": "8bf4c5561844a97bd686e1e7892e3a69fae2b9935b322a0801777d06d2389956",
        "follow_ups_2022.csv": "54c73255acbcaa117800e0d49a04c42aaddd78ba1ab075c1a606cacf1acdfc97",
        "follow_ups_2023.csv": "7145a1767da88c3e8aa58098b8565894c206dc16eca0d239422a1c00cd161342",
        "follow_ups_2024.csv": "a7def851024e1959a245e17745785446b464fcec24579f73519725801a417c1c",
        "process_changes.csv": "41551032fcb225cad2aed7c6eedd13b6bc56190346eea4778e682a3c71c332ab",
        "targets.csv": "899abba535295fbde6c6f4d92effffe2ea8c7dbfb9b9dff001c8f31ef5535fe5",
    },
}


def test_the_quality_files_by_hand(tmp_path: Path) -> None:
    """Issue 12: the demo's process changes sit at the product switch's start and end (426 and 426 - 122 days
    before end_date: 2024-01-30 and 2024-05-31 for 2025-03-31) and a re-based aftercare change 243 days before
    (2024-07-31); the targets are the clinic's own."""
    from pipelines.demo.quality import write_quality_files

    changes, targets = write_quality_files(tmp_path, dt.date(2025, 3, 31))
    assert changes.read_text(encoding="utf-8").splitlines() == [
        "changed_on,description,outcome,product,clinician,rebase",
        "2024-01-30,Supplier shortage: most cosmetic sessions switched to Letybo,insufficient_effect,Letybo,,no",
        "2024-05-31,Usual products back for cosmetic sessions,insufficient_effect,,,no",
        "2024-07-31,New aftercare routine: cold pack and no massage leaflet for every patient,bruising,,,yes"]
    assert targets.read_text(encoding="utf-8").splitlines() == [
        "outcome,target_pct", "insufficient_effect,10", "correction,8", "ptosis,2", "bruising,5"]


@pytest.mark.parametrize("key", list(EXPECTED_SHA256), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}-{k[3]}")
def test_files_are_byte_identical_to_the_pre_refactor_generator(tmp_path: Path, key) -> None:
    clinicians, n, seed, end = key
    ref = tmp_path / "reference"
    ref.mkdir()
    text = CLINICIANS_STANDARD if clinicians == "standard" else CLINICIANS_EDITED
    (ref / "clinicians.csv").write_text(text, encoding="utf-8")
    (ref / "product_prices.csv").write_text(PRICES, encoding="utf-8")
    paths = write_demo_exports(tmp_path / "out", n_treatments=n, seed=seed, end_date=dt.date.fromisoformat(end),
                               reference_dir=ref)
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert list(got) == list(EXPECTED_SHA256[key])  # the same files in the same order
    assert got == EXPECTED_SHA256[key]


# --------------------------------------------------------------------------------------------------------------
# Single steps on tiny inputs (the figures are worked out by hand in the comments)
# --------------------------------------------------------------------------------------------------------------

def test_list_prices_by_hand() -> None:
    ind = np.array([COS, COS, COS, MIG, MIG, TTH, HYP, HYP])
    areas = np.array([G | FH, G | FH, G, 0, 0, 0, AX, PA])
    eq = np.array([30.0, 30.0, 20.0, 155.0, 195.0, 155.0, 100.0, 200.0])
    year_back = np.array([0, 1, 0, 0, 0, 0, 0, 0])
    discount = np.array([False, False, True, False, False, False, False, False])
    prices = sessions.list_prices(ind, areas, eq, year_back, discount)
    assert prices.tolist() == [
        2900.0,  # two face areas, this year
        2850.0,  # two face areas, a year back: 50 less
        1700.0,  # one face area 1900, 10 % off = 1710, to 50 -> 1700
        2900.0,  # migraine at 155 units
        4500.0,  # migraine 2900 + 40 x 40 = 4500 (the cap)
        3500.0,  # tension headache at 155 units: 2900 + 105/105 x 600
        4500.0,  # axillae 4000 + 20 x 25
        6000.0,  # palms 5500 + 100 x 5
    ]


def test_headache_outcome_by_hand() -> None:
    baseline = np.array([20.0, 20.0, 20.0, 9.0, 10.0])
    responder = np.array([True, False, False, False, False])
    reduction = np.array([0.75, 0.25, 0.0, 0.375, 0.5])
    days, effect = follow_ups.headache_outcome(baseline, responder, reduction)
    # 20 x 0.25 = 5 (full); 20 x 0.75 = 15 (partial at a 25 % reduction); 20 (none); 9 x 0.625 = 5.625 -> 6;
    # a non-responder keeps more than half: 10 x 0.5 = 5, but at least floor(10 / 2) + 1 = 6.
    assert days.tolist() == [5.0, 15.0, 20.0, 6.0, 6.0]
    assert effect.tolist() == [FULL, PARTIAL, NONE, PARTIAL, PARTIAL]


def test_registration_lag_pattern_3_by_hand() -> None:
    # LAG_MIN = 0.35 on the day itself, rising by 0.65 over LAG_FULL_DAYS = 35 days, then 1.
    p = planted.registration_probability(np.array([0, 7, 35, 100]))
    assert p.tolist() == pytest.approx([0.35, 0.35 + 0.65 * 7 / 35, 1.0, 1.0])
    end = 20_000
    seen = np.array([end - 36, end - 400, end + 1, end + 30])
    kept = planted.lag_keep(np.random.default_rng(0), seen, end)
    assert kept.tolist() == [True, True, False, False]  # old contacts always there, future ones never


def test_ptosis_clinician_pattern_1_by_hand() -> None:
    p_eyelid, p_brow = np.array([0.02, 0.02, 0.0]), np.array([0.01, 0.01, 0.0])
    clin = np.array([0, 1, 1])
    eyelid, brow = planted.raise_ptosis_risk(p_eyelid, p_brow, clin, ("C01", "C04"))
    assert eyelid.tolist() == pytest.approx([0.02, 0.07, 0.0])  # x 3.5 for C04
    assert brow.tolist() == pytest.approx([0.01, 0.0225, 0.0])  # x (1 + 3.5) / 2
    eyelid, brow = planted.raise_ptosis_risk(p_eyelid, p_brow, clin, ("C01", "C02"))
    assert eyelid.tolist() == [0.02, 0.02, 0.0] and brow.tolist() == [0.01, 0.01, 0.0]


def test_keep_first_sessions_trims_the_patient_that_crosses_the_target() -> None:
    valid = np.array([[True, True, False], [True, True, True], [True, False, False]])
    patients.keep_first_sessions(valid, valid.sum(axis=1), 3)
    # 2 sessions of the first patient, the first of the second, nothing of the third
    assert valid.tolist() == [[True, True, False], [True, False, False], [False, False, False]]


def test_prior_treatments_count_visits_before_the_export_and_same_day_corrections() -> None:
    # One patient: primaries on days 10 and 100 (visit numbers 2 and 3 since the first ever session) and a
    # correction on day 10, after that day's primary.
    prior = sessions.prior_treatments(t_pid=np.array([0, 0, 0]), t_day=np.array([10, 100, 10]),
                                      t_corr=np.array([False, False, True]), pid=np.array([0, 0]),
                                      visit=np.array([2, 3]), n_patients=1)
    assert prior.tolist() == [2, 4, 3]


def test_bad_row_spellings_by_hand() -> None:
    assert bad_rows.misspelled_code("C07") == "C7"
    assert bad_rows.misspelled_code("C00") == "C00X"
    clin, codes = bad_rows.misspell_clinicians(np.array([0, 1, 1]), ["C01", "C07"], np.array([2]))
    assert codes == ["C01", "C07", "C7"] and clin.tolist() == [0, 1, 2]
    assert bad_rows.orphan_id("T0000042") == "T00000042"
    day = (dt.date(2024, 2, 29) - dt.date(1970, 1, 1)).days
    moved = bad_rows.year_too_early(np.array([day, day]), np.array([1]))
    assert [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in moved] == [dt.date(2024, 2, 29),
                                                                                 dt.date(2023, 2, 28)]
    assert bad_rows.invalid_february_dates([2023, 2024], "nb") == ["31.02.2023", "30.02.2024"]
    assert bad_rows.invalid_february_dates([2023], "iso") == ["2023-02-31"]
