"""Tests of the synthetic-export generator (pipelines/demo/generate.py).

Everything here reads the written CSV files back with plain pandas (not with the project's loader), so the tests
check what a clinic file would contain.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import contract as C
from pipelines.demo import generate
from pipelines.demo.files import TRACEABILITY_COLUMNS

REPO = Path(__file__).resolve().parents[1]
END = dt.date(2026, 6, 30)
START = END - dt.timedelta(days=generate.WINDOW_DAYS - 1)

with (REPO / "data" / "column_map_nb.csv").open(encoding="utf-8", newline="") as _fh:
    COLUMN_MAP = {r["source_column"]: r["column"] for r in csv.DictReader(_fh)}


# --------------------------------------------------------------------------------------------------------------
# A small independent reader for the written files
# --------------------------------------------------------------------------------------------------------------

def _decode(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252"), "cp1252"


def read_file(path: Path) -> tuple[C.Table, pd.DataFrame, dict]:
    raw = path.read_bytes()
    text, encoding = _decode(raw)
    header_line = text.splitlines()[0]
    sep = ";" if ";" in header_line else ","
    df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    columns = [c if c in _all_contract_columns() else COLUMN_MAP.get(c, c) for c in df.columns]
    table = C.table_for_header(columns)
    assert table is not None, path
    df.columns = columns
    meta = {"encoding": encoding, "sep": sep, "crlf": b"\r\n" in raw, "raw_headers": header_line.split(sep)}
    return table, df, meta


def _all_contract_columns() -> set[str]:
    return {c for t in C.TABLES for c in t.column_names}


def _parse(table: C.Table, df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in table.columns:
        # the old journal system's files have no lot columns (pipelines/demo/lots.py): read as blank
        s = df[col.name].str.strip() if col.name in df else pd.Series("", index=df.index, dtype=str)
        if col.kind == "date":
            iso = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
            nb = pd.to_datetime(s, format="%d.%m.%Y", errors="coerce")
            out[col.name] = iso.fillna(nb)
            out[col.name + "_raw"] = s
        elif col.kind in ("number", "integer"):
            out[col.name] = pd.to_numeric(s.str.replace(",", ".", regex=False).replace("", np.nan))
        elif col.kind == "bool":
            low = s.str.lower()
            assert low.isin(C.TRUE_SPELLINGS + C.FALSE_SPELLINGS).all(), col.name
            out[col.name] = low.isin(C.TRUE_SPELLINGS)
        elif col.kind == "enum":
            lookup = C.canonical_lookup(col.allowed)
            out[col.name] = s.str.lower().map(lookup).where(s != "", None) if col.name != "product" else s
            assert out.loc[s != "", col.name].notna().all(), (col.name, s[out[col.name].isna() & (s != "")].head())
        elif col.kind == "areas":
            lookup = C.canonical_lookup(col.allowed)
            out[col.name] = s.map(lambda v: C.AREA_SEPARATOR.join(lookup[a.lower()] for a in v.split(C.AREA_SEPARATOR)))
        else:
            out[col.name] = s
    return out


def load(paths: list[Path]) -> dict[str, pd.DataFrame]:
    frames: dict[str, list[pd.DataFrame]] = {}
    for p in paths:
        table, df, _ = read_file(p)
        parsed = _parse(table, df)
        parsed["_file"] = p.name
        frames.setdefault(table.name, []).append(parsed)
    return {k: pd.concat(v, ignore_index=True) for k, v in frames.items()}


# --------------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[list[Path], dict[str, pd.DataFrame]]:
    paths = generate.write_demo_exports(tmp_path_factory.mktemp("small"), n_treatments=3_000, seed=7, end_date=END)
    return paths, load(paths)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[list[Path], dict[str, pd.DataFrame]]:
    paths = generate.write_demo_exports(tmp_path_factory.mktemp("big"), n_treatments=50_000, seed=42, end_date=END)
    return paths, load(paths)


@pytest.fixture(scope="module")
def sessions(big) -> pd.DataFrame:
    return build_sessions(big[1])


def build_sessions(d: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Primary sessions with their outcomes (any contact) and review status."""
    t, f = d["treatments"], d["follow_ups"]
    f = f[f["treatment_id"].isin(t["treatment_id"])]
    f = f.merge(t[["treatment_id", "treated_on"]], on="treatment_id")
    f = f[f["seen_on"] >= f["treated_on"]]
    flags = f.groupby("treatment_id")[list(C.COMPLICATION_FLAGS)].any()
    review = f[f["effect"] != "not_assessed"].sort_values("seen_on").groupby("treatment_id").first()
    prim = t[t["corrects_treatment_id"] == ""].set_index("treatment_id")
    prim = prim[prim["treated_on"].notna()]
    out = prim.join(flags, how="left")
    out["followed_up"] = out.index.isin(f["treatment_id"])
    out["reviewed"] = out.index.isin(review.index)
    out["review_effect"] = review["effect"].reindex(out.index)
    out["review_days"] = (review["seen_on"] - review["treated_on"]).dt.days.reindex(out.index)
    out["headache_days"] = review["headache_days"].reindex(out.index)
    out["hdss"] = review["hdss"].reindex(out.index)
    out["satisfaction"] = review["satisfaction"].reindex(out.index)
    out["corrected"] = out.index.isin(t["corrects_treatment_id"])
    out[list(C.COMPLICATION_FLAGS)] = out[list(C.COMPLICATION_FLAGS)].fillna(False).astype(bool)
    out["age_days"] = (pd.Timestamp(END) - out["treated_on"]).dt.days
    out["upper"] = out["areas"].str.contains("glabella|forehead|crows_feet")
    return out


# --------------------------------------------------------------------------------------------------------------
# Files, conventions, determinism
# --------------------------------------------------------------------------------------------------------------

def test_reference_files_first_and_copied(small):
    paths, d = small
    assert [p.name for p in paths[:2]] == ["clinicians.csv", "product_prices.csv"]
    for p in paths[:2]:
        assert p.read_bytes() == (REPO / "data" / p.name).read_bytes()


def test_reference_files_content():
    _, clin, _ = read_file(REPO / "data" / "clinicians.csv")
    assert 8 <= len(clin) <= 14
    assert clin["clinician"].is_unique
    assert any(not c.isascii() for c in clin["clinician"])  # e.g. ÅSH
    assert set(clin["profession"]) <= set(C.PROFESSIONS) and "tannlege" in set(clin["profession"])
    assert clin["cost_per_minute_nok"].astype(float).between(15, 40).all()
    _, prices, _ = read_file(REPO / "data" / "product_prices.csv")
    prices["cost"] = prices["cost_per_unit_nok"].astype(float)
    assert set(prices["product"]) == set(C.PRODUCT_NAMES)
    factor = {p.name: p.botox_equivalent_factor for p in C.PRODUCTS}
    per_botox_unit = prices["cost"] / prices["product"].map(factor)
    assert per_botox_unit.between(25, 35).all()
    counts = prices.groupby("product")["valid_from"].nunique()
    for main in ("Botox", "Vistabel", "Bocouture", "Azzalure", "Dysport", "Letybo"):
        assert counts[main] >= 2


def test_price_rows_after_end_date_are_left_out(tmp_path):
    end = dt.date(2025, 2, 1)
    paths = generate.write_demo_exports(tmp_path, n_treatments=500, seed=1, end_date=end)
    _, prices, _ = read_file(paths[1])
    assert (prices["valid_from"] <= end.isoformat()).all()
    assert set(prices["product"]) >= {"Botox", "Vistabel", "Letybo"}


def test_deterministic_bytes(tmp_path):
    a = generate.write_demo_exports(tmp_path / "a", n_treatments=2_000, seed=3, end_date=END)
    b = generate.write_demo_exports(tmp_path / "b", n_treatments=2_000, seed=3, end_date=END)
    c = generate.write_demo_exports(tmp_path / "c", n_treatments=2_000, seed=4, end_date=END)
    assert [p.name for p in a] == [p.name for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
    data = [p for p in a if p.name not in (*generate.REFERENCE_FILES, *generate.QUALITY_FILES)]  # not seeded
    other = {p.name: p for p in c}
    assert all(p.read_bytes() != other[p.name].read_bytes() for p in data if p.name in other)


def test_file_names_and_conventions(small):
    paths, _ = small
    assert [p.name for p in paths[-2:]] == list(generate.QUALITY_FILES)  # issue 12: written last
    paths = paths[:-2]
    names = [p.name for p in paths[2:]]
    assert all(re.fullmatch(r"(behandlinger|treatments|follow_ups)_\d{4}\.csv", n) for n in names)
    assert any(n.startswith("behandlinger_") for n in names)
    assert any(n.startswith("treatments_") for n in names)
    years = sorted({int(n[-8:-4]) for n in names})
    assert years == list(range(START.year, END.year + 1))
    seen = set()
    for p in paths[2:]:
        table, df, meta = read_file(p)
        first = df.iloc[0]
        date_col = "treated_on" if table.name == "treatments" else "seen_on"
        if p.name.startswith("behandlinger_"):
            assert meta["encoding"] == "cp1252" and meta["sep"] == ";" and meta["crlf"]
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", first[date_col])
            assert all(h in COLUMN_MAP for h in meta["raw_headers"])  # Norwegian headers from the map
            assert set(df["indication"].str.lower()) - set(C.INDICATIONS)  # Norwegian values (kosmetisk ...)
            assert df["pregnant_or_breastfeeding"].isin(["ja", "nei"]).all()
            assert df["units"].str.contains(",").any()  # decimal comma
            seen.add("legacy")
        elif meta["sep"] == ";":
            assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", first[date_col])
            assert df["eyelid_ptosis"].isin(["ja", "nei"]).all()
            seen.add("semicolon")
        else:
            assert meta["encoding"] == "utf-8" and not meta["crlf"]
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", first[date_col])
            assert not any(df[c].str.contains(",").any() for c in df.columns)
            seen.add("plain")
        for h in meta["raw_headers"]:  # every header is a contract column or mapped to one, of this table
            assert (h if h in table.column_names else COLUMN_MAP.get(h)) in table.column_names, (p.name, h)
        # the old journal system recorded no lots (pipelines/demo/lots.py): its files lack those columns only
        legacy = p.name.startswith("behandlinger_")
        assert set(df.columns) == set(table.column_names) - (set(TRACEABILITY_COLUMNS) if legacy else set())
    assert seen == {"legacy", "semicolon", "plain"}


def test_follow_up_files_never_precede_their_treatments(small):
    paths, d = small
    t, f = d["treatments"], d["follow_ups"]
    order = {p.name: i for i, p in enumerate(paths)}
    t_file = t.set_index("treatment_id")["_file"]
    known = f[f["treatment_id"].isin(t_file.index)]
    assert (known["treatment_id"].map(t_file).map(order) < known["_file"].map(order)).all()
    # and corrections never come in an earlier treatments file than the session they correct
    corr = t[t["corrects_treatment_id"] != ""]
    assert (corr["corrects_treatment_id"].map(t_file).map(order) <= corr["_file"].map(order)).all()


# --------------------------------------------------------------------------------------------------------------
# Integrity and the deliberate bad rows
# --------------------------------------------------------------------------------------------------------------

def test_exact_row_count_and_unique_ids(small):
    _, d = small
    t, f = d["treatments"], d["follow_ups"]
    assert len(t) == 3_000
    assert t["treatment_id"].is_unique and f["follow_up_id"].is_unique
    assert t["treatment_id"].str.fullmatch(r"T\d{7}").all()
    assert f["follow_up_id"].str.fullmatch(r"F\d{7}").all()
    assert t["patient_ref"].str.fullmatch(r"p_[0-9a-f]{12}").all()
    assert not t["patient_ref"].str.contains(r"\d{8}").any()  # nothing like a phone number or fødselsnummer


def test_no_date_after_end_date(small, big):
    for _, d in (small, big):
        assert d["treatments"]["treated_on"].max() <= pd.Timestamp(END)
        assert d["follow_ups"]["seen_on"].max() <= pd.Timestamp(END)
        assert d["treatments"]["treated_on"].min() >= pd.Timestamp(START)
    _, prices, _ = read_file(small[0][1])
    assert (prices["valid_from"] <= END.isoformat()).all()


def test_bad_rows_as_announced(small, big):
    for (paths, d), n in ((small, 3_000), (big, 50_000)):
        expected = generate.expected_bad_rows(n, end_date=END)
        assert set(expected) == set(generate.BAD_ROW_KINDS)
        assert sum(expected.values()) >= 5
        t, f = d["treatments"], d["follow_ups"]
        _, clin, _ = read_file(paths[0])
        unknown = t[~t["clinician"].isin(clin["clinician"])]
        assert len(unknown) == expected["unknown_clinician"]
        assert unknown["clinician"].str.fullmatch(r"C[1-9]").all()
        bad_date = t[t["treated_on"].isna()]
        assert len(bad_date) == expected["invalid_date"]
        assert bad_date["treated_on_raw"].str.contains(r"(?:^|-|\.)0?2(?:-|\.)|02").all()
        assert len(t[t["units"] <= 0]) == expected["nonpositive_units"]
        orphans = f[~f["treatment_id"].isin(t["treatment_id"])]
        assert len(orphans) == expected["orphan_follow_up"]
        m = f.merge(t[["treatment_id", "treated_on"]], on="treatment_id")
        assert (m["seen_on"] < m["treated_on"]).sum() == expected["follow_up_before_treatment"]
        # the bad treatment rows have nothing depending on them
        bad_ids = set(unknown["treatment_id"]) | set(bad_date["treatment_id"]) | set(t[t["units"] <= 0]["treatment_id"])
        assert not bad_ids & set(f["treatment_id"]) and not bad_ids & set(t["corrects_treatment_id"])


def test_corrections(big):
    _, d = big
    t = d["treatments"].set_index("treatment_id")
    corr = t[t["corrects_treatment_id"] != ""]
    prim = t.loc[corr["corrects_treatment_id"]]
    assert (corr["price_nok"] == 0).all()
    assert (corr["patient_ref"].to_numpy() == prim["patient_ref"].to_numpy()).all()
    assert (corr["product"].to_numpy() == prim["product"].to_numpy()).all()
    assert (prim["corrects_treatment_id"] == "").all() and (prim["indication"] == "cosmetic").all()
    gap = (corr["treated_on"].to_numpy() - prim["treated_on"].to_numpy()) / np.timedelta64(1, "D")
    assert gap.min() >= 12 and gap.max() <= 20
    assert (corr["clinician"].to_numpy() == prim["clinician"].to_numpy()).mean() > 0.8
    subset = [set(a.split("|")) <= set(b.split("|")) for a, b in zip(corr["areas"], prim["areas"])]
    assert all(subset)
    factor = corr["product"].map({p.name: p.botox_equivalent_factor for p in C.PRODUCTS})
    assert (corr["units"] * factor).between(3, 11).all()
    # a correction follows the review that found the problem, and is itself rarely followed up
    f = d["follow_ups"]
    reviews = f[f["effect"] != "not_assessed"].groupby("treatment_id")["seen_on"].min()
    first_review = reviews.reindex(corr["corrects_treatment_id"]).to_numpy()
    known = ~np.isnat(first_review)  # (a deliberately orphaned follow-up can take the review away)
    assert known.mean() > 0.99
    assert (corr["treated_on"].to_numpy()[known] >= first_review[known]).all()
    assert corr.index.isin(f["treatment_id"]).mean() < 0.2


def test_values_plausible(big):
    _, d = big
    t = d["treatments"]
    ok = t["units"] > 0
    limit = t["product"].map({p.name: p.max_units_per_session for p in C.PRODUCTS})
    assert (t.loc[ok, "units"] <= limit[ok]).all()
    assert set(t["product"]) <= set(C.PRODUCT_NAMES)
    prim = t[(t["corrects_treatment_id"] == "") & ok]
    assert prim["minutes"].between(15, 45).all()
    eq = prim["units"] * prim["product"].map({p.name: p.botox_equivalent_factor for p in C.PRODUCTS})
    cos = prim["indication"] == "cosmetic"
    glab = cos & (prim["areas"] == "glabella")
    assert eq[glab].between(10, 25).all() and abs(eq[glab].median() - 20) <= 2
    # (Speywood units are dosed at 2.5 per Botox unit; the contract converts with 0.37, hence the 0.9 margins)
    assert eq[prim["indication"] == "migraine"].between(155, 195).all()
    assert eq[prim["areas"] == "axillae"].between(0.9 * 80, 100).all()
    assert eq[prim["areas"] == "masseter"].between(0.9 * 40, 70).all()
    one_area = cos & ~prim["areas"].str.contains(r"\|")
    assert 1700 <= prim.loc[one_area, "price_nok"].median() <= 1950
    assert 3700 <= prim.loc[cos & (prim["areas"] == "glabella|forehead|crows_feet"), "price_nok"].median() <= 3950
    assert prim.loc[prim["indication"] == "migraine", "price_nok"].between(2900, 4500).all()
    assert prim.loc[prim["indication"] == "hyperhidrosis", "price_nok"].between(4000, 6000).all()
    assert t["treated_on"].dropna().dt.day_of_week.lt(5).all()  # the clinic is closed at weekends
    assert set(t["age_band"]) <= set(C.AGE_BANDS) and set(t["sex"]) <= set(C.SEXES)
    assert (t["prior_treatments"] >= 0).all()
    for flag in ("neuromuscular_disease", "aminoglycoside_antibiotics", "pregnant_or_breastfeeding"):
        assert 0.0003 <= t[flag].mean() <= 0.005, flag
    speywood = t["product"].isin([p.name for p in C.PRODUCTS if p.unit_type == "speywood"])
    assert 0.1 <= speywood.mean() <= 0.35
    assert 0.5 <= t["product"].isin(["Botox", "Vistabel"]).mean() <= 0.75


# --------------------------------------------------------------------------------------------------------------
# Rates against the targets
# --------------------------------------------------------------------------------------------------------------

def test_indication_mix_and_returning_patients(big, sessions):
    _, d = big
    t = d["treatments"]
    mix = sessions["indication"].value_counts(normalize=True)
    for ind, share in zip(generate.IND, generate.IND_SHARE):
        assert abs(mix[ind] - share) < 0.01, ind
    yearly = sessions.groupby(sessions["treated_on"].dt.year).size()
    full_years = yearly.loc[START.year + 1:END.year - 1]
    assert full_years.is_monotonic_increasing  # more recent years busier
    prim = sessions.sort_values("treated_on").reset_index()
    gaps = prim.groupby("patient_ref")["treated_on"].diff().dt.days
    for ind, lo, hi in (("cosmetic", 90, 180), ("migraine", 77, 95), ("hyperhidrosis", 120, 210)):
        med = gaps[prim["indication"] == ind].median()
        assert lo <= med <= hi, (ind, med)
    assert (prim.groupby("patient_ref").size() > 1).mean() > 0.3
    # prior_treatments counts earlier sessions (including corrections) of the patient
    spoiled = t["patient_ref"].isin(t.loc[t["treated_on"].isna(), "patient_ref"])  # the invalid-date rows
    tt = t[~spoiled].sort_values(["patient_ref", "treated_on", "corrects_treatment_id"])
    step = tt.groupby("patient_ref")["prior_treatments"].diff().dropna()
    assert (step == 1).all()
    assert (tt.groupby("patient_ref")["prior_treatments"].first() == 0).mean() > 0.3  # new patients


def test_clinician_volumes(big):
    _, d = big
    share = d["treatments"]["clinician"].value_counts(normalize=True)
    share = share[share > 0.001]  # not the typos
    assert share.iloc[0] > 2 * share.median()
    assert (share < 0.03).sum() >= 2
    assert len(share) >= 9
    t = d["treatments"]
    _, clin, _ = read_file(REPO / "data" / "clinicians.csv")
    prof = clin.set_index("clinician")["profession"]
    t = t[t["clinician"].isin(prof.index)]
    head = t[t["indication"].isin(C.HEADACHE_INDICATIONS)]
    assert head["clinician"].map(prof).eq("lege").all()
    assert t.loc[t["indication"] == "bruxism", "clinician"].map(prof).eq("tannlege").mean() > 0.6


def test_review_and_insufficient_effect(sessions):
    s = sessions
    cos = s[(s["indication"] == "cosmetic") & (s["age_days"] > 90)]
    assert 0.80 <= cos["reviewed"].mean() <= 0.90
    rev = cos[cos["reviewed"]]
    assert rev["review_days"].between(10, 21).all()
    sw_lo = pd.Timestamp(END) - pd.Timedelta(days=generate.SWITCH_START_DAYS)
    sw_hi = sw_lo + pd.Timedelta(days=generate.SWITCH_LENGTH_DAYS)
    normal = rev[(rev["treated_on"] < sw_lo) | (rev["treated_on"] >= sw_hi)]
    insufficient = normal["review_effect"].isin(["partial", "none"])
    assert 0.06 <= insufficient.mean() <= 0.10
    assert normal.loc[insufficient, "corrected"].mean() > 0.75
    corrections = normal["corrected"].mean()
    assert 0.05 <= corrections <= 0.10
    # satisfaction follows the effect
    sat = rev.groupby("review_effect")["satisfaction"].mean()
    assert sat["full"] > sat["partial"] > sat["none"]
    assert rev.loc[rev["eyelid_ptosis"], "satisfaction"].mean() < sat["full"]


def test_complication_rates(sessions):
    s = sessions
    rev = s[(s["indication"] == "cosmetic") & s["reviewed"]]
    others = rev[rev["clinician"] != generate.PTOSIS_CLINICIAN]
    g_only = others[others["areas"].str.contains("glabella") & ~others["areas"].str.contains("forehead")]
    g_fh = others[others["areas"].str.contains("glabella") & others["areas"].str.contains("forehead")]
    assert 0.008 <= g_only["eyelid_ptosis"].mean() <= 0.024
    assert 0.016 <= g_fh["eyelid_ptosis"].mean() <= 0.034
    upper = rev[rev["upper"]]
    assert 0.006 <= upper["brow_ptosis"].mean() <= 0.016
    bands = {"bruising": (0.04, 0.06), "pain": (0.022, 0.038), "asymmetry": (0.022, 0.038),
             "bleeding": (0.006, 0.015), "itching": (0.006, 0.015), "infection": (0, 0.003),
             "allergic_reaction": (0, 0.002), "double_vision": (0.001, 0.006)}
    for flag, (lo, hi) in bands.items():
        assert lo <= rev[flag].mean() <= hi, (flag, rev[flag].mean())
    cf = rev[rev["areas"].str.contains("crows_feet")]
    assert 0.005 <= cf["dry_eye"].mean() <= 0.016


def test_early_contacts(big, sessions):
    _, d = big
    f = d["follow_ups"].merge(d["treatments"][["treatment_id", "treated_on"]], on="treatment_id")
    early = f[f["effect"] == "not_assessed"]
    days = (early["seen_on"] - early["treated_on"]).dt.days
    assert days[days >= 0].between(1, 7).all()
    assert early[["bruising", "pain", "bleeding", "itching"]].any(axis=1).mean() > 0.4
    site = sessions["bruising"] | sessions["pain"]
    assert 0.05 < sessions.index.isin(early["treatment_id"]).mean() < 0.2
    assert sessions[site].index.isin(early["treatment_id"]).mean() > 0.4


def test_headache_and_hyperhidrosis_outcomes(sessions):
    s = sessions[sessions["age_days"] > 120]
    mig = s[s["indication"] == "migraine"]
    assert mig["baseline_headache_days"].dropna().between(15, 25).all()
    assert 0.05 <= 1 - mig["reviewed"].mean() <= 0.15  # lost to follow-up
    m = mig[mig["reviewed"] & mig["baseline_headache_days"].notna()]
    assert (m["review_days"].between(70, 84)).all()
    responders = m["headache_days"] <= 0.5 * m["baseline_headache_days"]
    assert 0.40 <= responders.mean() <= 0.50
    tth = s[(s["indication"] == "tension_headache") & s["reviewed"] & s["baseline_headache_days"].notna()]
    assert tth["baseline_headache_days"].between(10, 20).all()
    assert 0.28 <= (tth["headache_days"] <= 0.5 * tth["baseline_headache_days"]).mean() <= 0.42
    hyp = s[(s["indication"] == "hyperhidrosis")]
    assert hyp["baseline_hdss"].isin([3, 4]).all()
    hr = hyp[hyp["reviewed"]]
    assert hr["review_days"].between(14, 42).all()
    assert 0.85 <= (hr["baseline_hdss"] - hr["hdss"] >= 2).mean() <= 0.95


def test_secondary_non_response(sessions):
    """A handful of long-term patients: full effect at earlier reviews, then none at (at least) the last two."""
    s = sessions[(sessions["indication"] == "cosmetic") & sessions["reviewed"]].sort_values("treated_on")

    def lost_effect(g: pd.DataFrame) -> bool:
        eff = g["review_effect"].tolist()
        return len(eff) >= 4 and eff[-2:] == ["none", "none"] and "full" in eff[:-2] and "none" not in eff[:-2]

    patients = s.groupby("patient_ref")[["review_effect"]].apply(lost_effect)
    assert 1 <= patients.sum() <= 15
    last = s[s["patient_ref"].isin(patients[patients].index)].groupby("patient_ref").last()
    assert (last["prior_treatments"] >= 3).all()


# --------------------------------------------------------------------------------------------------------------
# The deliberate patterns
# --------------------------------------------------------------------------------------------------------------

def test_pattern_ptosis_clinician(sessions):
    up = sessions[sessions["upper"] & sessions["reviewed"] & (sessions["indication"] == "cosmetic")]
    rate = up.groupby(up["clinician"] == generate.PTOSIS_CLINICIAN)["eyelid_ptosis"].mean()
    clinic = up["eyelid_ptosis"].mean()
    assert rate[True] > 2.2 * rate[False]
    assert rate[True] > 2 * clinic
    per = up.groupby("clinician")["eyelid_ptosis"].agg(["mean", "size"])
    per = per[per["size"] >= 300]
    assert per["mean"].idxmax() == generate.PTOSIS_CLINICIAN


def test_pattern_product_switch(sessions):
    cos = sessions[(sessions["indication"] == "cosmetic") & sessions["reviewed"]]
    month = cos["treated_on"].dt.to_period("M")
    insufficient = cos["review_effect"].isin(["partial", "none"]).groupby(month).mean()
    letybo = (cos["product"] == generate.SWITCH_PRODUCT).groupby(month).mean()
    sw_lo = pd.Timestamp(END) - pd.Timedelta(days=generate.SWITCH_START_DAYS)
    months = pd.period_range(sw_lo.to_period("M") + 1, periods=3, freq="M")  # fully inside the switch
    touching = pd.period_range(sw_lo.to_period("M"), periods=5, freq="M")
    inside = insufficient.loc[months]
    outside = insufficient.drop(touching)
    assert (letybo.loc[months] > 0.6).all() and letybo.drop(touching).max() < 0.15
    assert inside.between(0.13, 0.21).all(), inside
    assert outside.max() < 0.12 and 0.06 <= outside.mean() <= 0.10
    corrected = cos.groupby(month)["corrected"].mean()
    assert corrected.loc[months].mean() > 1.6 * corrected.drop(months).mean()


def test_pattern_incomplete_recent_follow_up(sessions):
    cos = sessions[sessions["indication"] == "cosmetic"]
    settled = cos[cos["age_days"].between(60, 365)]["followed_up"].mean()
    recent = cos[cos["age_days"].between(22, 42)]["followed_up"].mean()
    newest = cos[cos["age_days"].between(10, 21)]["followed_up"].mean()
    assert recent < settled - 0.15
    assert newest < recent


def test_expected_bad_rows_at_least_five_in_total():
    for n in (100, 1_000, 20_000, 1_000_000):
        counts = generate.expected_bad_rows(n)
        assert sum(counts.values()) >= 5 and min(counts.values()) >= 1
    assert generate.expected_bad_rows(1_000_000)["unknown_clinician"] == 200


def test_rejects_tiny_requests(tmp_path):
    from pipelines.errors import UserError

    with pytest.raises(UserError, match="--treatments must be at least"):
        generate.write_demo_exports(tmp_path, n_treatments=10, end_date=END)
