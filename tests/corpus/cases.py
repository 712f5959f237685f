"""The corpus of bad inputs: every case is a small file (or two) and exactly what loading it must give.

A case either refuses the whole file (`error`: the message printed after `error: `, a prefix of it where the rest
quotes a library's own words) and leaves the database as it was, or loads it row by row: `sources` are the exact
summary lines the CLI prints per file (read = loaded + rejected), `rejected` the exact rejected rows of that load as
(file [sheet], row, column, reason), and `check` optional SQL over the published database with its exact result.

Every case loads onto the same small database (tests/corpus/base/: clinicians C01, C02; Botox price; treatments
T1 of 2024-03-05 and T2 of 2024-03-06; follow-up F1). Files are in tests/corpus/files/, or written at test time by
tests/corpus/generated.py (binary ones, and the one carrying a synthetic national identity number).

`xfail` marks a case that shows a loader bug which is not fixed yet (the expectation is the correct behaviour);
the test is strict, so it starts failing, as a reminder to remove the mark, as soon as the bug is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_A_TEXT_FILE = ("this is not a text file (it contains binary data); export the data as CSV, Excel .xlsx or "
                   "Parquet")
AREAS = "glabella, forehead, crows_feet, other_face, masseter, axillae, palms, head_neck"
PRODUCTS = "Botox, Vistabel, Bocouture, Xeomin, Letybo, Azzalure, Dysport, Alluzience, Relfydess"
NOT_A_DATE = "is not a real date (write 2024-03-05 or 05.03.2024)"
NOT_YES_NO = "is not yes/no (write yes/no, ja/nei, true/false or 1/0)"


@dataclass(frozen=True)
class Case:
    name: str
    problem: str  # what is wrong with the input, in words
    files: tuple[str, ...]
    error: str | None = None
    sources: tuple[str, ...] = ()
    rejected: tuple[tuple[str, int, str | None, str], ...] = ()
    check: tuple[str, list] | None = None
    args: tuple[str, ...] = ()
    xfail: str | None = None


def _summary(name: str, table: str, read: int, loaded: int, rejected: int, new: int, updated: int = 0,
             unchanged: int = 0, ignored: str = "") -> str:
    extra = f"; ignored columns: {ignored}" if ignored else ""
    return (f"{name} ({table}): {read} read, {loaded} loaded, {rejected} rejected "
            f"[new {new}, updated {updated}, unchanged {unchanged}]{extra}")


CASES: tuple[Case, ...] = (
    # ---- empty, binary, not a table at all -------------------------------------------------------------------
    Case("empty", "a file of 0 bytes", ("empty.csv",),
         error="empty.csv: the file is empty; export the data again"),
    Case("blank_lines_only", "only blank lines and whitespace", ("blank_lines_only.csv",),
         error="blank_lines_only.csv: the file is empty; export the data again"),
    Case("header_only", "a header and no rows", ("header_only.csv",),
         sources=(_summary("header_only.csv", "treatments", 0, 0, 0, 0),)),
    Case("binary_junk", "random bytes named .csv", ("binary_junk.csv",),
         error="binary_junk.csv: " + NOT_A_TEXT_FILE),
    Case("png_renamed", "a PNG image renamed to .csv", ("png_renamed.csv",),
         error="png_renamed.csv: " + NOT_A_TEXT_FILE),
    Case("old_excel", "an Excel 97 .xls workbook", ("old_excel.xls",),
         error="old_excel.xls: this is an old Excel .xls workbook; save it as .xlsx or CSV and load again"),
    Case("unrecognised_header", "a CSV that is not a clinic export", ("unrecognised_header.csv",),
         error="unrecognised_header.csv: the header does not look like any known export (found columns: id, "
               "navn_kode, dato, beløp). Expected e.g. treatment_id + treated_on (treatments), follow_up_id "
               "(follow_ups), clinician + profession (clinicians) or valid_from + cost_per_unit_nok "
               "(product_prices); map your own headers with --map FILE, or name the table with --table"),
    # ---- separators, encodings, line endings, quoting -----------------------------------------------------
    Case("wrong_delimiter_colon", "columns separated by colons", ("wrong_delimiter_colon.csv",),
         error="wrong_delimiter_colon.csv: could not split the header into columns; separate columns with comma "
               "or semicolon (header starts: 'treatment_id:patient_ref:treated_on:clinician:indication:are')"),
    Case("wrong_delimiter_rows", "semicolon header, comma-separated rows", ("wrong_delimiter_rows.csv",),
         error="wrong_delimiter_rows.csv: no data row has the header's 9 columns (e.g. row 2); check the separator "
               "(comma or semicolon) and quoting"),
    Case("mixed_encodings", "UTF-8 file with one Windows-1252 line", ("mixed_encodings.csv",),
         error="mixed_encodings.csv: mixed text encodings: most of the file is UTF-8 but line 3 is not; save the "
               "whole file again as CSV UTF-8"),
    Case("bom_then_cp1252", "a UTF-8 BOM in front of Windows-1252 text", ("bom_then_cp1252.csv",),
         error="bom_then_cp1252.csv: mixed text encodings: most of the file is UTF-8 but line 2 is not; save the "
               "whole file again as CSV UTF-8"),
    Case("cp1252_norwegian", "Windows-1252 with Norwegian letters, CRLF, decimal comma",
         ("cp1252_norwegian.csv",),
         sources=(_summary("cp1252_norwegian.csv", "clinicians", 3, 2, 1, 2),),
         rejected=(("cp1252_norwegian.csv", 3, "profession",
                    'profession: "sykesøster" is not one of: lege, sykepleier, tannlege'),),
         check=("SELECT clinician, profession, cost_per_minute_nok FROM clinicians WHERE clinician IN "
                "('ÅSE', 'BJØ') ORDER BY 1", [("BJØ", "sykepleier", 22.5), ("ÅSE", "lege", 30.0)])),
    Case("utf8_bom_semicolon", "UTF-8 with BOM, semicolons, Norwegian dates and spellings",
         ("utf8_bom_semicolon.csv",),
         sources=(_summary("utf8_bom_semicolon.csv", "treatments", 2, 1, 1, 1),),
         rejected=(("utf8_bom_semicolon.csv", 3, "units", 'units: "0" must be greater than 0'),),
         check=("SELECT treatment_id, treated_on::VARCHAR, indication, areas, units, price_nok FROM treatments "
                "WHERE treatment_id = 'T10'", [("T10", "2024-03-05", "cosmetic", "forehead|glabella", 20.5,
                                                 1900.0)])),
    Case("utf16_bom", "UTF-16 with BOM, tab-separated (Excel's 'Unicode text')", ("utf16_bom.csv",),
         sources=(_summary("utf16_bom.csv", "clinicians", 2, 1, 1, 1),),
         rejected=(("utf16_bom.csv", 3, "cost_per_minute_nok", 'cost_per_minute_nok: "-3" is below the minimum 0'),)),
    Case("cr_only_line_endings", "lines ending in a carriage return alone (old Mac)", ("cr_only_line_endings.csv",),
         error="cr_only_line_endings.csv: the lines end with a carriage return only (old Mac format); save the file "
               "again as CSV UTF-8 (Windows or Unix line endings) and load again"),
    Case("mixed_line_endings", "an LF header followed by CRLF rows", ("mixed_line_endings.csv",),
         sources=(_summary("mixed_line_endings.csv", "treatments", 2, 1, 1, 1),),
         rejected=(("mixed_line_endings.csv", 3, "units", 'units: "-20" must be greater than 0'),)),
    Case("quoted_newlines", "quoted fields with line breaks, doubled quotes and commas", ("quoted_newlines.csv",),
         sources=(_summary("quoted_newlines.csv", "treatments", 4, 2, 2, 2, ignored="notat"),),
         rejected=(("quoted_newlines.csv", 4, "units", 'units: "-5" must be greater than 0'),
                   ("quoted_newlines.csv", 8, "price_nok", 'price_nok: "-1" is below the minimum 0'))),
    Case("areas_with_line_break", "a line break (Alt+Enter) or no-break space next to an area separator",
         ("areas_with_line_break.csv",),
         sources=(_summary("areas_with_line_break.csv", "treatments", 2, 2, 0, 2),),
         check=("SELECT treatment_id, areas FROM treatments WHERE treatment_id IN ('T12', 'T13') ORDER BY 1",
                [("T12", "forehead|glabella"), ("T13", "forehead|glabella")])),
    Case("unclosed_quote", "a quote that is never closed would swallow the rest of the file", ("unclosed_quote.csv",),
         error="unclosed_quote.csv: a quote opened on line 3 is never closed, so the rest of the file cannot be "
               "split into rows; correct the quoting and load again"),
    Case("long_note_field", "a 200 KB note (over Python's csv field limit) in a file with quoted line breaks",
         ("long_note_field.csv",),
         sources=(_summary("long_note_field.csv", "treatments", 4, 3, 1, 3, ignored="notat"),),
         rejected=(("long_note_field.csv", 6, "units", 'units: "-1" must be greater than 0'),)),
    Case("malformed_rows", "rows with too few and too many fields, and a blank line", ("malformed_rows.csv",),
         sources=(_summary("malformed_rows.csv", "treatments", 4, 2, 2, 2),),
         rejected=(("malformed_rows.csv", 3, None, "the row has fewer fields than the header"),
                   ("malformed_rows.csv", 4, None, "the row has more fields than the header"))),
    Case("whitespace_and_nbsp", "padded values, tabs, no-break-space thousands, 1.900,50 and 1,2,3",
         ("whitespace_and_nbsp.csv",),
         sources=(_summary("whitespace_and_nbsp.csv", "treatments", 3, 2, 1, 2),),
         rejected=(("whitespace_and_nbsp.csv", 4, "units", 'units: "1,2,3" is not a number'),),
         check=("SELECT treatment_id, patient_ref, clinician, units, price_nok FROM treatments "
                "WHERE treatment_id IN ('T70', 'T71') ORDER BY 1",
                [("T70", "p70", "C01", 20.5, 1900.0), ("T71", "p71", "C01", 20.0, 1900.5)])),
    Case("all_empty_row", "a row of empty fields", ("all_empty_row.csv",),
         sources=(_summary("all_empty_row.csv", "treatments", 2, 1, 1, 1),),
         rejected=(("all_empty_row.csv", 2, "treatment_id",
                    "treatment_id: is empty (required); patient_ref: is empty (required); treated_on: is empty "
                    "(required); clinician: is empty (required); indication: is empty (required); areas: is empty "
                    "(required); product: is empty (required); units: is empty (required); price_nok: is empty "
                    "(required)"),)),
    # ---- columns --------------------------------------------------------------------------------------------
    Case("missing_required_column", "the units column is missing", ("missing_required_column.csv",),
         error="missing_required_column.csv: missing required column(s) units for table treatments (found: "
               "treatment_id, patient_ref, treated_on, clinician, indication, areas, product, price_nok); add them, "
               "or map your own header names with --map FILE"),
    Case("extra_columns", "columns the contract does not know", ("extra_columns.csv",),
         sources=(_summary("extra_columns.csv", "treatments", 2, 1, 1, 1, ignored="kommentar, rom_nr"),),
         rejected=(("extra_columns.csv", 3, "price_nok", 'price_nok: "-1" is below the minimum 0'),)),
    Case("duplicated_header", "`units` twice (different case)", ("duplicated_header.csv",),
         error="duplicated_header.csv: column `units` appears twice in the header (columns 8 and 10); remove or "
               "rename one of them"),
    Case("duplicated_header_mapped", "`behandler` maps onto a `clinician` column that is there too",
         ("duplicated_header_mapped.csv",), args=("--map", "data/column_map_nb.csv"),
         error="duplicated_header_mapped.csv: column `clinician` appears twice in the header (columns 4 and 5); "
               "remove or rename one of them"),
    Case("ids_too_long_or_control", "an id of 65 characters and one with a tab inside (tab-separated file)",
         ("ids_too_long_or_control.tsv",),
         sources=(_summary("ids_too_long_or_control.tsv", "treatments", 3, 1, 2, 1),),
         rejected=(("ids_too_long_or_control.tsv", 2, "treatment_id", "treatment_id: is longer than 64 characters"),
                   ("ids_too_long_or_control.tsv", 3, "treatment_id",
                    "treatment_id: contains a line break or control character"))),
    # ---- duplicated ids -----------------------------------------------------------------------------------
    Case("duplicate_ids_in_file", "T20 twice with different units, T21 twice identical",
         ("duplicate_ids_in_file.csv",),
         sources=(_summary("duplicate_ids_in_file.csv", "treatments", 4, 2, 2, 1),),
         rejected=tuple(
             ("duplicate_ids_in_file.csv", row, "treatment_id",
              "treatment_id: T20 appears more than once in this load with different content "
              "(duplicate_ids_in_file.csv row 2, duplicate_ids_in_file.csv row 4); keep one version")
             for row in (2, 4))),
    Case("duplicate_ids_across_files", "T30 in two files with different dates, T31 identical in both",
         ("duplicate_ids_a.csv", "duplicate_ids_b.csv"),
         sources=(_summary("duplicate_ids_a.csv", "treatments", 2, 1, 1, 1),
                  _summary("duplicate_ids_b.csv", "treatments", 2, 1, 1, 0)),
         rejected=tuple(
             (name, row, "treatment_id",
              "treatment_id: T30 appears more than once in this load with different content (duplicate_ids_a.csv "
              "row 2, duplicate_ids_b.csv row 3); keep one version")
             for name, row in (("duplicate_ids_a.csv", 2), ("duplicate_ids_b.csv", 3)))),
    Case("existing_id_changed", "T1 again with other units (a corrected re-export), T2 unchanged",
         ("existing_id_changed.csv",),
         sources=(_summary("existing_id_changed.csv", "treatments", 2, 2, 0, 0, updated=1, unchanged=1),),
         check=("SELECT treatment_id, units, source_file FROM treatments ORDER BY 1",
                [("T1", 24.0, "existing_id_changed.csv"), ("T2", 10.0, "treatments.csv")])),
    Case("clinician_code_case_duplicate", "`c03` and `C03` with different professions in one file",
         ("clinicians_case_duplicate.csv",),
         sources=(_summary("clinicians_case_duplicate.csv", "clinicians", 3, 1, 2, 1),),
         rejected=tuple(
             ("clinicians_case_duplicate.csv", row, "clinician",
              "clinician: C03 appears more than once in this load with different content "
              "(clinicians_case_duplicate.csv row 2, clinicians_case_duplicate.csv row 3); keep one version")
             for row in (2, 3))),
    Case("product_prices_bad", "a price twice for one date (two date spellings), unknown product, 30.02, "
         "negative price", ("product_prices_bad.csv",),
         sources=(_summary("product_prices_bad.csv", "product_prices", 6, 1, 5, 1),),
         rejected=(
             *(("product_prices_bad.csv", row, "product",
                "product: Botox 2025-01-01 appears more than once in this load with different content "
                "(product_prices_bad.csv row 2, product_prices_bad.csv row 4); keep one version") for row in (2, 4)),
             ("product_prices_bad.csv", 5, "product", f'product: "Botax" is not one of: {PRODUCTS}'),
             ("product_prices_bad.csv", 6, "valid_from", f'valid_from: "2025-02-30" {NOT_A_DATE}'),
             ("product_prices_bad.csv", 7, "cost_per_unit_nok", 'cost_per_unit_nok: "-2" is below the minimum 0'))),
    # ---- dates --------------------------------------------------------------------------------------------
    Case("impossible_dates", "31.02, month 13, 29.02 of a common year, 'i går' (29.02.2024 is fine)",
         ("impossible_dates.csv",),
         sources=(_summary("impossible_dates.csv", "treatments", 5, 1, 4, 1),),
         rejected=(("impossible_dates.csv", 2, "treated_on", f'treated_on: "31.02.2024" {NOT_A_DATE}'),
                   ("impossible_dates.csv", 3, "treated_on", f'treated_on: "2024-13-01" {NOT_A_DATE}'),
                   ("impossible_dates.csv", 4, "treated_on", f'treated_on: "29.02.2023" {NOT_A_DATE}'),
                   ("impossible_dates.csv", 6, "treated_on", f'treated_on: "i går" {NOT_A_DATE}'))),
    Case("future_and_ancient_dates", "2099-01-01 and 31.12.1989 (01.01.1990 is fine)",
         ("future_and_ancient_dates.csv",),
         sources=(_summary("future_and_ancient_dates.csv", "treatments", 3, 1, 2, 1),),
         rejected=(("future_and_ancient_dates.csv", 2, "treated_on", "treated_on: 2099-01-01 lies in the future"),
                   ("future_and_ancient_dates.csv", 3, "treated_on", "treated_on: 1989-12-31 is before 1990-01-01"))),
    Case("follow_up_before_treatment", "a follow-up dated before its session, one for an unknown session, bad "
         "effect and satisfaction", ("follow_up_before_treatment.csv",),
         sources=(_summary("follow_up_before_treatment.csv", "follow_ups", 4, 1, 3, 1),),
         rejected=(("follow_up_before_treatment.csv", 2, "seen_on",
                    "seen_on: 2024-03-04 is before the treatment date 2024-03-05 of T1"),
                   ("follow_up_before_treatment.csv", 4, "treatment_id",
                    'treatment_id: follow-up for unknown treatment "T999" (load the treatments file first; the row '
                    'is kept and can be retried)'),
                   ("follow_up_before_treatment.csv", 5, "effect",
                    'effect: "great" is not one of: full, partial, none, not_assessed; satisfaction: "9" is above '
                    'the maximum 5'))),
    Case("correction_before_session", "a correction dated before the session, one correcting itself, one of an "
         "unknown session", ("correction_before_session.csv",),
         sources=(_summary("correction_before_session.csv", "treatments", 4, 1, 3, 1),),
         rejected=(("correction_before_session.csv", 2, "treated_on",
                    "treated_on: the correction is dated 2024-03-01, before the session it corrects (T1, 2024-03-05)"),
                   ("correction_before_session.csv", 3, "corrects_treatment_id",
                    "corrects_treatment_id: a session cannot correct itself"),
                   ("correction_before_session.csv", 5, "corrects_treatment_id",
                    'corrects_treatment_id: corrects unknown treatment "T404" (load the session it corrects first; '
                    'the row is kept and can be retried)'))),
    Case("follow_up_of_rejected_treatment", "a follow-up whose session is rejected in the same load",
         ("treatments_rejected.csv", "follow_ups_of_rejected.csv"),
         sources=(_summary("treatments_rejected.csv", "treatments", 2, 1, 1, 1),
                  _summary("follow_ups_of_rejected.csv", "follow_ups", 2, 1, 1, 1)),
         rejected=(("follow_ups_of_rejected.csv", 2, "treatment_id",
                    'treatment_id: follow-up for unknown treatment "T95" (load the treatments file first; the row is '
                    'kept and can be retried)'),
                   ("treatments_rejected.csv", 2, "units", 'units: "-1" must be greater than 0'))),
    # ---- values ---------------------------------------------------------------------------------------------
    Case("units_negative_absurd", "-5, 0, 5000 Botox, 1001 Dysport, 'tjue', 'inf' units; negative price "
         "(1 000 Dysport is fine)", ("units_negative_absurd.csv",),
         sources=(_summary("units_negative_absurd.csv", "treatments", 8, 1, 7, 1),),
         rejected=(("units_negative_absurd.csv", 2, "units", 'units: "-5" must be greater than 0'),
                   ("units_negative_absurd.csv", 3, "units", 'units: "0" must be greater than 0'),
                   ("units_negative_absurd.csv", 4, "units",
                    'units: "5000" is more than the plausible maximum of 400 units of Botox for one session'),
                   ("units_negative_absurd.csv", 5, "units",
                    'units: "1001" is more than the plausible maximum of 1000 units of Dysport for one session'),
                   ("units_negative_absurd.csv", 7, "units", 'units: "tjue" is not a number'),
                   ("units_negative_absurd.csv", 8, "units", 'units: "inf" is not a number'),
                   ("units_negative_absurd.csv", 9, "price_nok", 'price_nok: "-1" is below the minimum 0'))),
    Case("unknown_clinician_product", "clinician C99, product Botax, clinician 'Dr Hansen' (c01 / botox are fine)",
         ("unknown_clinician_product.csv",),
         sources=(_summary("unknown_clinician_product.csv", "treatments", 4, 1, 3, 1),),
         rejected=(("unknown_clinician_product.csv", 2, "clinician",
                    'clinician: unknown clinician code "C99" (not in the clinicians table; check for a typo or load '
                    'the clinicians file first)'),
                   ("unknown_clinician_product.csv", 4, "product", f'product: "Botax" is not one of: {PRODUCTS}'),
                   ("unknown_clinician_product.csv", 5, "clinician",
                    'clinician: "Dr Hansen" is not a valid code (letters, digits, - or _, at most 16)')),
         check=("SELECT clinician, product FROM treatments WHERE treatment_id = 'T61'", [("C01", "Botox")])),
    Case("booleans", "yes/no as Ja, NEI, True, 0, y, J, sann, usann, N; and 'yes please', '2', 'ok'",
         ("booleans.csv",),
         sources=(_summary("booleans.csv", "follow_ups", 6, 3, 3, 3),),
         rejected=(("booleans.csv", 5, "asymmetry", f'asymmetry: "yes please" {NOT_YES_NO}'),
                   ("booleans.csv", 6, "eyelid_ptosis", f'eyelid_ptosis: "2" {NOT_YES_NO}'),
                   ("booleans.csv", 7, "bruising", f'bruising: "ok" {NOT_YES_NO}')),
         check=("SELECT follow_up_id, asymmetry, eyelid_ptosis, bruising FROM follow_ups "
                "WHERE follow_up_id IN ('F20', 'F21', 'F22') ORDER BY 1",
                [("F20", True, False, True), ("F21", False, True, True), ("F22", True, False, False)])),
    Case("enum_spellings", "Norwegian spellings (fine) and misspelt indication, area, sex",
         ("enum_spellings.csv",),
         sources=(_summary("enum_spellings.csv", "treatments", 4, 1, 3, 1),),
         rejected=(("enum_spellings.csv", 3, "indication",
                    'indication: "migrane" is not one of: cosmetic, migraine, tension_headache, hyperhidrosis, '
                    'bruxism'),
                   ("enum_spellings.csv", 4, "areas", f'areas: "chin" is not a known area ({AREAS})'),
                   ("enum_spellings.csv", 5, "sex", 'sex: "kvinne?" is not one of: female, male, other')),
         check=("SELECT indication, areas, sex FROM treatments WHERE treatment_id = 'T90'",
                [("migraine", "forehead|glabella", "female")])),
    # ---- privacy ----------------------------------------------------------------------------------------------
    Case("privacy_fnr", "a (synthetic) national identity number as patient reference", ("privacy_fnr.csv",),
         error="privacy_fnr.csv: refused: row 3, column `patient_ref` holds what looks like a Norwegian national "
               "identity number (fødselsnummer). Exports must carry pseudonymous references only; remove direct "
               "identifiers and export again. Nothing from this file was stored"),
    Case("privacy_name_column", "a first-name column", ("privacy_name_column.csv",),
         error="privacy_name_column.csv: refused: column `fornavn` looks like a direct identifier (name, address, "
               "e-mail, phone, national id or birth date). Remove it from the export and load again; nothing from "
               "this file was stored"),
    # ---- Excel ------------------------------------------------------------------------------------------------
    Case("excel_several_sheets", "a cover sheet, a clinicians sheet, a treatments sheet (a blank row, a value "
         "beyond the header, a boolean as units) and a notes sheet", ("excel_several_sheets.xlsx",),
         sources=(_summary("excel_several_sheets.xlsx [Behandlere]", "clinicians", 2, 2, 0, 2),
                  _summary("excel_several_sheets.xlsx [Behandlinger]", "treatments", 4, 1, 3, 1)),
         rejected=(("excel_several_sheets.xlsx [Behandlinger]", 3, "treated_on",
                    f'treated_on: "31.02.2024" {NOT_A_DATE}'),
                   ("excel_several_sheets.xlsx [Behandlinger]", 5, None,
                    "the row has values beyond the header's last column"),
                   ("excel_several_sheets.xlsx [Behandlinger]", 6, "units", 'units: "true" is not a number')),
         check=("SELECT treatment_id, treated_on::VARCHAR, clinician FROM treatments WHERE treatment_id = '101'",
                [("101", "2024-03-05", "C05")])),
    Case("excel_formula_cells", "formula cells: with a cached value, without one, with #DIV/0!, with a negative "
         "result", ("excel_formula_cells.xlsx",),
         sources=(_summary("excel_formula_cells.xlsx [Behandlere]", "clinicians", 4, 1, 3, 1),),
         rejected=(("excel_formula_cells.xlsx [Behandlere]", 3, "cost_per_minute_nok",
                    "cost_per_minute_nok: is empty (required)"),
                   ("excel_formula_cells.xlsx [Behandlere]", 4, "cost_per_minute_nok",
                    "cost_per_minute_nok: is empty (required)"),
                   ("excel_formula_cells.xlsx [Behandlere]", 5, "cost_per_minute_nok",
                    'cost_per_minute_nok: "-20" is below the minimum 0')),
         check=("SELECT clinician, cost_per_minute_nok FROM clinicians WHERE clinician = 'C05'", [("C05", 30.0)])),
    Case("excel_no_recognised_sheet", "a workbook whose only sheet is not an export",
         ("excel_no_recognised_sheet.xlsx",),
         error="excel_no_recognised_sheet.xlsx: no sheet has a recognisable header (sheets: Ark1); the first row of "
               "a sheet must hold the column names"),
    Case("excel_damaged", "a truncated .xlsx", ("excel_damaged.xlsx",),
         error="excel_damaged.xlsx: cannot be read as an Excel workbook ("),
    # ---- Parquet ----------------------------------------------------------------------------------------------
    Case("parquet_wrong_types", "integer ids, a list for areas, booleans for units, a huge float price",
         ("parquet_wrong_types.parquet",),
         sources=(_summary("parquet_wrong_types.parquet", "treatments", 3, 0, 3, 0),),
         rejected=(("parquet_wrong_types.parquet", 1, "areas",
                    f'areas: "[glabella]" is not a known area ({AREAS}); units: "true" is not a number'),
                   ("parquet_wrong_types.parquet", 2, "areas",
                    f'areas: "[forehead]" is not a known area ({AREAS}); units: is empty (required); price_nok: '
                    '"1500000000.0" is above the maximum 200000'),
                   ("parquet_wrong_types.parquet", 3, "treated_on",
                    f'treated_on: is empty (required); areas: "[glabella" is not a known area ({AREAS}); units: '
                    '"false" is not a number'))),
    Case("parquet_timestamps", "timestamps for dates, a float satisfaction, a follow-up before its session",
         ("parquet_timestamps.parquet",),
         sources=(_summary("parquet_timestamps.parquet", "follow_ups", 3, 1, 2, 1),),
         rejected=(("parquet_timestamps.parquet", 2, "satisfaction", 'satisfaction: "2.5" is not a whole number'),
                   ("parquet_timestamps.parquet", 3, "seen_on",
                    "seen_on: 2024-03-04 is before the treatment date 2024-03-05 of T1")),
         check=("SELECT follow_up_id, seen_on::VARCHAR, satisfaction FROM follow_ups WHERE follow_up_id = 'F30'",
                [("F30", "2024-03-19", 4)])),
    Case("parquet_damaged", "PAR1 magic and garbage", ("parquet_damaged.parquet",),
         error="parquet_damaged.parquet: cannot be read as Parquet ("),
)
