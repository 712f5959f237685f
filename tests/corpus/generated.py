"""Corpus inputs that are binary or must not sit in the repository as files: written at test time.

Each writer takes the target path and writes a small file; `GENERATED` maps the file name a case uses to its writer.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

TREATMENT_COLUMNS = ["treatment_id", "patient_ref", "treated_on", "clinician", "indication", "areas", "product",
                     "units", "price_nok"]

_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def synthetic_fnr(first9: str) -> str:
    """An 11-digit number with valid check digits. Use a synthetic birth month (+80, as in Skatteetaten's test
    numbers) so it can never be a real person's fødselsnummer."""
    digits = [int(c) for c in first9]
    k1 = (11 - sum(w * d for w, d in zip(_K1, digits)) % 11) % 11
    digits.append(k1)
    k2 = (11 - sum(w * d for w, d in zip(_K2, digits)) % 11) % 11
    if 10 in (k1, k2):
        raise ValueError(f"{first9} has no valid check digits; pick another individual number")
    return first9 + str(k1) + str(k2)


SYNTHETIC_FNR = synthetic_fnr("158385123")  # 15, month 03 + 80, 85, individual number 123


def binary_junk(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


def png_renamed(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00")


def old_excel(path: Path) -> None:
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)


def utf16_bom(path: Path) -> None:
    text = ("clinician\tprofession\tcost_per_minute_nok\r\n"
            "ÅSE\tlege\t30\r\n"
            "ØYV\ttannlege\t-3\r\n")
    path.write_bytes(text.encode("utf-16"))  # with BOM, as Excel's "Unicode text" writes it


def privacy_fnr(path: Path) -> None:
    path.write_text(",".join(TREATMENT_COLUMNS) + "\n"
                    "T10,p10,2024-03-05,C01,cosmetic,glabella,Botox,20,1900\n"
                    f"T11,{SYNTHETIC_FNR},2024-03-05,C01,cosmetic,glabella,Botox,20,1900\n")


def long_note_field(path: Path) -> None:
    row = "{id},p{id},2024-03-05,C01,cosmetic,glabella,Botox,{units},1900,{note}\n"
    path.write_text(",".join(TREATMENT_COLUMNS) + ",notat\n"
                    + row.format(id="T10", units=20, note='"to\nlinjer"')  # lines 2-3: forces the slow path
                    + row.format(id="T11", units=20, note='"' + "lang notat " * 20_000 + '"')  # line 4, 220 KB
                    + row.format(id="T12", units=20, note="ok")
                    + row.format(id="T13", units=-1, note="ok"))


def _with_cached_values(data: bytes, sheet_xml: str, values: dict[str, str]) -> bytes:
    """openpyxl writes formulas without a cached result; put one in, as Excel does when it saves."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == sheet_xml:
                text = content.decode("utf-8")
                for cell, value in values.items():
                    start = text.index(f'<c r="{cell}"')
                    end = text.index("</c>", start) + len("</c>")
                    formula = text[text.index("<f>", start):text.index("</f>", start) + len("</f>")]
                    kind = ' t="e"' if value.startswith("#") else ""
                    text = text[:start] + f'<c r="{cell}"{kind}>{formula}<v>{value}</v></c>' + text[end:]
                content = text.encode("utf-8")
            target.writestr(item, content)
    return out.getvalue()


def excel_several_sheets(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    cover = wb.active
    cover.title = "Forside"
    cover.append(["Eksport fra journalsystemet"])
    cover.append(["Periode: mars 2024"])
    staff = wb.create_sheet("Behandlere")
    staff.append(["clinician", "profession", "cost_per_minute_nok"])
    staff.append(["C05", "lege", 30])
    staff.append(["C06", "nurse", 22.5])
    sessions = wb.create_sheet("Behandlinger")
    sessions.append(TREATMENT_COLUMNS)
    sessions.append([101, "p101", dt.datetime(2024, 3, 5), "C05", "cosmetic", "glabella", "Botox", 20, 1900])
    sessions.append([102, "p102", "31.02.2024", "C06", "cosmetic", "glabella", "Botox", 20, 1900])
    sessions.append([None] * 9)  # a blank row: skipped, not counted
    sessions.append([103, "p103", dt.datetime(2024, 3, 5), "C06", "cosmetic", "glabella", "Botox", 20, 1900,
                     "note beyond the header"])
    sessions.append([104, "p104", dt.datetime(2024, 3, 6, 14, 30), "C06", "cosmetic", "forehead", "Botox", True,
                     1900])
    notes = wb.create_sheet("Notater")
    notes.append(["kommentar"])
    notes.append(["ingen"])
    wb.save(path)


def excel_formula_cells(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Behandlere"
    ws.append(["clinician", "profession", "cost_per_minute_nok"])
    ws.append(["C05", "lege", "=10*3"])        # cached value 30 (put in below): loads as 30
    ws.append(["C06", "lege", "=C2*2"])        # no cached value (never recalculated): reads as empty
    ws.append(["C07", "lege", "=1/0"])         # cached error #DIV/0!: reads as empty
    ws.append(["C08", "sykepleier", "=C2-50"])  # cached value -20: below the minimum
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_with_cached_values(buffer.getvalue(), "xl/worksheets/sheet1.xml",
                                         {"C2": "30", "C4": "#DIV/0!", "C5": "-20"}))


def excel_no_recognised_sheet(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Ark1"
    ws.append(["Pasient", "Dato", "Sum"])
    ws.append(["p1", "05.03.2024", 1900])
    wb.save(path)


def excel_damaged(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04" + b"\x14\x00\x06\x00" + b"this zip was cut off in the middle" * 3)


def parquet_wrong_types(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "treatment_id": pa.array([1, 2, 3], pa.int64()),
        "patient_ref": ["p1", "p2", "p3"],
        "treated_on": pa.array([dt.date(2024, 3, 5), dt.date(2024, 3, 6), None], pa.date32()),
        "clinician": ["C01", "C02", "C01"],
        "indication": ["cosmetic"] * 3,
        "areas": pa.array([["glabella"], ["forehead"], ["glabella", "forehead"]]),  # a list, not text
        "product": ["Botox"] * 3,
        "units": pa.array([True, None, False]),
        "price_nok": pa.array([1900.0, 1.5e9, 1500.0]),
    })
    pq.write_table(table, path)


def parquet_timestamps(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "follow_up_id": ["F30", "F31", "F32"],
        "treatment_id": ["T1", "T2", "T1"],
        "seen_on": pa.array([dt.datetime(2024, 3, 19, 10, 30), dt.datetime(2024, 3, 20), dt.datetime(2024, 3, 4)],
                            pa.timestamp("us")),
        "effect": ["full", "none", "partial"],
        "satisfaction": pa.array([4.0, 2.5, 3.0]),
    })
    pq.write_table(table, path)


def parquet_damaged(path: Path) -> None:
    path.write_bytes(b"PAR1" + b"\x15\x04" + b"not really parquet" * 4)


GENERATED = {
    "binary_junk.csv": binary_junk,
    "png_renamed.csv": png_renamed,
    "old_excel.xls": old_excel,
    "utf16_bom.csv": utf16_bom,
    "privacy_fnr.csv": privacy_fnr,
    "long_note_field.csv": long_note_field,
    "excel_several_sheets.xlsx": excel_several_sheets,
    "excel_formula_cells.xlsx": excel_formula_cells,
    "excel_no_recognised_sheet.xlsx": excel_no_recognised_sheet,
    "excel_damaged.xlsx": excel_damaged,
    "parquet_wrong_types.parquet": parquet_wrong_types,
    "parquet_timestamps.parquet": parquet_timestamps,
    "parquet_damaged.parquet": parquet_damaged,
}
