"""Writing the demo exports: one CSV per table and calendar year, in the conventions of the clinic's systems.

The oldest years come from the old journal system (Windows-1252, ``;``, ``dd.mm.yyyy``, decimal comma, ja/nei,
Norwegian headers and values, CRLF), the year after it from a spreadsheet (follow-ups only: UTF-8 with Norwegian
locale), later years plain CSV. The bad rows chosen by ``bad_rows.choose_bad_rows`` are spoiled here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines import contract as C
from pipelines.demo import bad_rows
from pipelines.demo.dates import to_day, years
from pipelines.demo.params import (
    AGE_BANDS,
    AREA_NAMES,
    COLUMN_MAP_PATH,
    EFFECT_CODES,
    FL,
    FLAGS,
    IND,
    NB_AREA,
    NB_EFFECT,
    NB_INDICATION,
    NB_SEX,
    PRODUCTS,
    SEX_CODES,
)


@dataclass(frozen=True)
class Convention:
    """How one system wrote its CSV files."""

    sep: str
    encoding: str
    date: str  # "iso" or "nb"
    comma_decimal: bool
    yes_no: tuple[str, str]
    norwegian_headers: bool
    norwegian_values: bool
    eol: str


EN = Convention(",", "utf-8", "iso", False, ("yes", "no"), False, False, "\n")
EN_SEMICOLON = Convention(";", "utf-8", "nb", True, ("ja", "nei"), False, False, "\n")
NB_LEGACY = Convention(";", "cp1252", "nb", True, ("ja", "nei"), True, True, "\r\n")


def _norwegian_headers() -> dict[str, str]:
    """Contract column -> the first Norwegian header that data/column_map_nb.csv maps to it."""
    out: dict[str, str] = {}
    with COLUMN_MAP_PATH.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["column"].strip(), row["source_column"].strip())
    return out


def _year_conventions(start: int, end: int) -> dict[int, tuple[Convention, Convention]]:
    """Calendar year -> (treatments convention, follow-ups convention).

    The old journal system (legacy Norwegian export) ran until the first year with at least half a year in the
    exported period; the year after it, follow-ups came from a spreadsheet in Norwegian locale; then plain CSV.
    """
    y0, y1 = int(years(np.array([start]))[0]), int(years(np.array([end]))[0])
    legacy_until = y0
    for y in range(y0, y1 + 1):
        first = max(start, to_day(dt.date(y, 1, 1)))
        last = min(end, to_day(dt.date(y, 12, 31)))
        legacy_until = y
        if last - first + 1 >= 182:
            break
    out = {}
    for y in range(y0, y1 + 1):
        if y <= legacy_until:
            out[y] = (NB_LEGACY, NB_LEGACY)
        elif y == legacy_until + 1:
            out[y] = (EN, EN_SEMICOLON)
        else:
            out[y] = (EN, EN)
    return out


def _dict(indices: np.ndarray, values) -> pa.DictionaryArray:
    """A column of strings as a dictionary array (cheap to build, written as its values)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32)), pa.array(list(values)))


def _fmt_dates(days: np.ndarray, style: str) -> pa.Array:
    """Days as ``yyyy-mm-dd`` (``iso``) or ``dd.mm.yyyy`` (``nb``)."""
    d = pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())
    return pc.cast(d, pa.string()) if style == "iso" else pc.strftime(d, "%d.%m.%Y")


def _fmt_num(values: np.ndarray, comma: bool) -> pa.Array:
    """Numbers as text: ``20``, ``37.5`` (``37,5`` with a decimal comma); NaN -> empty."""
    out = pc.cast(pa.array(np.asarray(values, dtype=float), from_pandas=True), pa.string())
    return pc.replace_substring(out, ".", ",") if comma else out


def _fmt_bool(values: np.ndarray, conv: Convention) -> pa.Array:
    """Booleans as the convention's yes / no."""
    return _dict(np.asarray(values, dtype=np.int8), (conv.yes_no[1], conv.yes_no[0]))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + each number zero-padded to ``width`` digits."""
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width=width,
                          padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _replace(arr: pa.Array, rows: np.ndarray, values: list[str]) -> pa.Array:
    """``arr`` with ``values[i]`` at ``rows[i]``."""
    if len(rows) == 0:
        return arr
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    order = np.argsort(rows, kind="stable")
    return pc.replace_with_mask(arr, pa.array(mask), pa.array([values[i] for i in order], type=arr.type))


def _area_names(norwegian: bool) -> list[str]:
    """The text of every area bit mask (index = mask), areas joined by ``contract.AREA_SEPARATOR``."""
    names = [NB_AREA[a] if norwegian else a for a in AREA_NAMES]
    return [C.AREA_SEPARATOR.join(n for i, n in enumerate(names) if mask >> i & 1)
            for mask in range(1 << len(AREA_NAMES))]


@dataclass(frozen=True)
class Generated:
    """What ``generate._generate`` hands to ``write_files``."""

    treatments: dict  # column -> array, one row per treatment, sorted by date
    follow_ups: dict  # column -> array, one row per contact, sorted by day
    bad: dict  # bad-row kind -> sorted rows (bad_rows.choose_bad_rows)
    codes: tuple[str, ...]  # clinician codes (``clin`` indexes them)
    patient_ref: np.ndarray  # per patient number
    start: int  # the exported period, days since 1970-01-01
    end: int


def write_files(out_dir: Path, data: Generated) -> list[Path]:
    """Write the treatment files, then the follow-up files, one per calendar year; return their paths.

    Ids are ``T`` / ``F`` + the row number, zero-padded to 7 digits (more if needed). The bad rows stay in the file
    of their original year.
    """
    t, f, bad = data.treatments, data.follow_ups, data.bad
    T, F = len(t["day"]), len(f["seen"])
    t_width, f_width = max(7, len(str(T))), max(7, len(str(F)))
    nb_headers = _norwegian_headers()
    conventions = _year_conventions(data.start, data.end)

    t_ids = _ids("T", np.arange(1, T + 1), t_width)
    t_year = years(t["day"])
    f_year = years(f["seen"])

    clin, codes = bad_rows.misspell_clinicians(t["clin"], list(data.codes), bad["unknown_clinician"])
    units = bad_rows.nonpositive_units(t["units"], bad["nonpositive_units"])
    f_tid = t_ids.take(pa.array(f["tpos"]))
    orphan = bad["orphan_follow_up"]
    f_tid = _replace(f_tid, orphan, [bad_rows.orphan_id(s) for s in f_tid.take(pa.array(orphan)).to_pylist()])
    f_seen = bad_rows.year_too_early(f["seen"], bad["follow_up_before_treatment"])
    invalid_date = set(bad["invalid_date"].tolist())
    trace = t["trace"]
    units_by_area = trace.units_by_area.copy()
    units_by_area[bad["nonpositive_units"]] = ""  # a spoiled units value is the row's only problem

    t_files, f_files = [], []
    for y in sorted(conventions):
        t_conv, f_conv = conventions[y]
        rows = np.flatnonzero(t_year == y)
        if len(rows):
            name = f"behandlinger_{y}.csv" if t_conv.norwegian_headers else f"treatments_{y}.csv"
            table = _treatment_table(t, rows, t_conv, t_ids, clin, codes, units, data.patient_ref,
                                     invalid_date, nb_headers, units_by_area)
            t_files.append(_to_csv(table, out_dir / name, t_conv))
        rows = np.flatnonzero(f_year == y)
        if len(rows):
            table = _follow_up_table(f, rows, f_conv, f_tid, f_seen, f_width, nb_headers)
            f_files.append(_to_csv(table, out_dir / f"follow_ups_{y}.csv", f_conv))
    return t_files + f_files


def _header(name: str, conv: Convention, nb_headers: dict[str, str]) -> str:
    """The header a file in ``conv`` has for contract column ``name``."""
    return nb_headers.get(name, name) if conv.norwegian_headers else name


TRACEABILITY_COLUMNS = ("lot_number", "lot_expiry", "dilution_ml_per_100u", "units_by_area")


def _treatment_table(t, rows, conv, t_ids, clin, codes, units, refs, invalid_date, nb_headers,
                     units_by_area) -> pa.Table:
    """Treatment ``rows`` as the text columns of a file in ``conv`` (bad values already in ``clin``/``units``;
    rows in ``invalid_date`` get a 30/31 February). The old journal system (Norwegian headers) recorded no lots:
    its files have none of TRACEABILITY_COLUMNS."""
    nbv, comma = conv.norwegian_values, conv.comma_decimal
    dates = _fmt_dates(t["day"][rows], conv.date)
    bad_at = [i for i, r in enumerate(rows.tolist()) if r in invalid_date]
    if bad_at:
        texts = bad_rows.invalid_february_dates([int(y) for y in years(t["day"][rows[bad_at]])], conv.date)
        dates = _replace(dates, np.array(bad_at), texts)
    corr = t["corrects"][rows]
    corr_ids = t_ids.take(pa.array(np.maximum(corr, 0), mask=corr < 0))
    cols = {
        "treatment_id": t_ids.take(pa.array(rows)),
        "patient_ref": _dict(t["pid"][rows], refs),
        "treated_on": dates,
        "clinician": _dict(clin[rows], codes),
        "indication": _dict(t["ind"][rows], [NB_INDICATION[i] if nbv else i for i in IND]),
        "areas": _dict(t["areas"][rows], _area_names(nbv)),
        "product": _dict(t["product"][rows], PRODUCTS),
        "units": _fmt_num(units[rows], comma),
        "corrects_treatment_id": corr_ids,
        "price_nok": _fmt_num(t["price"][rows], comma),
        "minutes": _fmt_num(t["minutes"][rows], comma),
        "baseline_headache_days": _fmt_num(t["baseline_hd"][rows], comma),
        "baseline_hdss": _fmt_num(t["baseline_hdss"][rows], comma),
        "age_band": _dict(t["age"][rows], AGE_BANDS),
        "sex": _dict(t["sex"][rows], [NB_SEX[x] if nbv else x for x in SEX_CODES]),
        "prior_treatments": _fmt_num(t["prior"][rows], comma),
        "neuromuscular_disease": _fmt_bool(t["risk"][rows, 0], conv),
        "aminoglycoside_antibiotics": _fmt_bool(t["risk"][rows, 1], conv),
        "pregnant_or_breastfeeding": _fmt_bool(t["risk"][rows, 2], conv),
    }
    trace = t["trace"]
    expiry = trace.expiry[rows]
    cols["lot_number"] = pa.array(trace.lot[rows].tolist(), type=pa.string())
    cols["lot_expiry"] = pc.if_else(pa.array(expiry < 0), "", _fmt_dates(np.maximum(expiry, 0), conv.date))
    cols["dilution_ml_per_100u"] = _fmt_num(trace.dilution[rows], comma)
    cols["units_by_area"] = pa.array(units_by_area[rows].tolist(), type=pa.string())
    assert tuple(cols) == C.TREATMENTS.column_names
    if conv.norwegian_headers:
        cols = {k: v for k, v in cols.items() if k not in TRACEABILITY_COLUMNS}
    return pa.table({_header(k, conv, nb_headers): v for k, v in cols.items()})


def _follow_up_table(f, rows, conv, f_tid, f_seen, f_width, nb_headers) -> pa.Table:
    """Follow-up ``rows`` as the text columns of a file in ``conv`` (bad values already in ``f_tid``/``f_seen``)."""
    comma = conv.comma_decimal
    cols = {
        "follow_up_id": _ids("F", rows + 1, f_width),
        "treatment_id": f_tid.take(pa.array(rows)),
        "seen_on": _fmt_dates(f_seen[rows], conv.date),
        "effect": _dict(f["effect"][rows], [NB_EFFECT[e] if conv.norwegian_values else e for e in EFFECT_CODES]),
    }
    for flag in FLAGS:
        cols[flag] = _fmt_bool(f["flags"][rows, FL[flag]], conv)
    cols["headache_days"] = _fmt_num(f["headache_days"][rows], comma)
    cols["hdss"] = _fmt_num(f["hdss"][rows], comma)
    cols["satisfaction"] = _fmt_num(f["sat"][rows], comma)
    assert tuple(cols) == C.FOLLOW_UPS.column_names
    return pa.table({_header(k, conv, nb_headers): v for k, v in cols.items()})


def _to_csv(table: pa.Table, path: Path, conv: Convention) -> Path:
    """Write ``table`` unquoted with the convention's separator, line ends and encoding."""
    buf = io.BytesIO()
    buf.write((conv.sep.join(table.column_names) + conv.eol).encode("utf-8"))
    options = pa_csv.WriteOptions(include_header=False, delimiter=conv.sep, quoting_style="none", eol=conv.eol)
    pa_csv.write_csv(table, buf, options)
    raw = buf.getvalue()
    if conv.encoding != "utf-8":
        raw = raw.decode("utf-8").encode(conv.encoding)
    path.write_bytes(raw)
    return path


def copy_reference(src: Path, dst: Path, end: dt.date) -> Path:
    """Copy a reference file; drop price rows that start after end_date (no date in the exports is later)."""
    if src.resolve() == dst.resolve():
        return dst
    if src.name != "product_prices.csv":
        shutil.copyfile(src, dst)
        return dst
    text = src.read_bytes().decode("utf-8")
    lines = text.splitlines(keepends=True)
    header = [h.strip() for h in lines[0].strip().split(",")]
    at = header.index("valid_from")
    kept = [lines[0]]
    for line in lines[1:]:
        fields = line.strip().split(",")
        if len(fields) > at and fields[at] and fields[at] > end.isoformat():
            continue
        kept.append(line)
    dst.write_bytes("".join(kept).encode("utf-8"))
    return dst
