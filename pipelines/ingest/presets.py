"""Mapping presets: how one clinic system's export becomes rows of the data contract.

A booking or journal system writes its own headers and its own words. A preset, saved once, says

- ``columns``: which source column holds which contract column (``"Timebestilling ID": "treatment_id"``);
- ``values``: per contract column, the system's spellings of allowed values (``"botox 100E": "Botox"``);
- ``services``: a service-name column whose value gives the indication and the areas treated
  (``"Botox 3 områder"`` -> cosmetic, forehead|glabella|crows_feet);
- ``corrections``: a marker (``redo``, ``korrigering``) in some column that makes the row a correction of the same
  patient's most recent earlier session without a marker (in the same file or already stored) within
  ``within_days`` days. A marked row for which no such session exists is rejected with the reason, never loaded as
  a primary session.

A preset is recognised by its header: the set of the file's normalised column names (``header``). Presets are JSON:
shipped ones in ``data/presets/<name>.json`` (version 1, read-only) and saved ones beside the published database,
``<db stem>.presets/<name>/v<N>.json``, owner-only (0600 files in 0700 folders), one new file per save, never
overwritten. The newest version of a name is used unless a version is named.

Applying a preset (`PresetPlan`) happens after the privacy guard has passed the file as read and before validation,
so every rule of the contract still judges the mapped values. Mappings reach SQL only as bound values in small
temp tables; column names in SQL are the contract's and the relation's own (quoted through pipelines/sqltext.py).
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.errors import UserError
from pipelines.ingest import store
from pipelines.ingest.read import (
    InputError,
    MalformedRow,
    Source,
    normalise_header,
    sniff_delimiter,
    sniff_format,
)
from pipelines.sqltext import ident, literal

PRESET_FORMAT = 1
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "data" / "presets"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
WHITESPACE = " \t\r\n\u00a0\u202f"  # what validation trims (pipelines/ingest/validate.py)
MAX_WITHIN_DAYS = 365
# Kinds of contract column whose values a preset may map (numbers, dates and ids are read as they are).
MAPPABLE_KINDS = ("enum", "bool", "areas", "code")
KEYS = ("format", "name", "version", "description", "table", "header", "columns", "values", "services",
        "corrections")


class PresetError(UserError):
    """A preset that cannot be used: the message names the preset (file) and the key, and says how to fix it."""


@dataclass(frozen=True)
class ServiceRule:
    indication: str
    areas: tuple[str, ...]


@dataclass(frozen=True)
class CorrectionRule:
    column: str  # the source column holding the marker, as written in the header
    markers: tuple[str, ...]
    within_days: int


@dataclass(frozen=True)
class Preset:
    name: str
    version: int | None  # None until saved (or for a shipped file: 1)
    description: str
    table: str
    header: tuple[str, ...]  # the source header as written; its normalised set is the signature
    columns: dict[str, str]  # source column (as written) -> contract column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # contract column -> {spelling: value}
    service_column: str | None = None  # source column (as written)
    services: dict[str, ServiceRule] = field(default_factory=dict)  # service name -> indication and areas
    correction: CorrectionRule | None = None
    origin: str = "new"  # "shipped", "saved" or "new"
    path: Path | None = None

    @property
    def signature(self) -> frozenset[str]:
        return header_signature(self.header)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version else self.name

    def column_map(self) -> dict[str, str]:
        """Normalised source header -> contract column (what the reader's `column_map` takes)."""
        return {normalise_header(k): v for k, v in self.columns.items()}

    def to_dict(self) -> dict:
        out: dict = {"format": PRESET_FORMAT, "name": self.name}
        if self.version is not None:
            out["version"] = self.version
        out.update({"description": self.description, "table": self.table, "header": list(self.header),
                    "columns": dict(self.columns), "values": {k: dict(v) for k, v in self.values.items()}})
        if self.service_column is not None:
            out["services"] = {"column": self.service_column,
                               "map": {k: {"indication": r.indication, "areas": list(r.areas)}
                                       for k, r in self.services.items()}}
        if self.correction is not None:
            out["corrections"] = {"column": self.correction.column, "markers": list(self.correction.markers),
                                  "within_days": self.correction.within_days}
        return out


@dataclass(frozen=True)
class PresetInfo:
    name: str
    version: int  # the newest version (the one used unless another is named)
    description: str
    table: str
    origin: str  # "shipped" or "saved"
    path: Path
    versions: tuple[int, ...]
    header: tuple[str, ...]


def header_signature(header) -> frozenset[str]:
    return frozenset(n for n in (normalise_header(h) for h in header) if n)


# --------------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------------


def _key(text: object) -> str:
    return str(text).strip(WHITESPACE).lower()


def _is_code(text: str) -> bool:
    return 1 <= len(text) <= 16 and all(ch.isalnum() or ch in "_.-" for ch in text)


def validate_preset(data: dict, source: str) -> Preset:
    """A Preset from its JSON form, checked against the data contract; PresetError lists every problem found,
    each naming `source` (the file or the page) and the key, with how to fix it."""
    problems: list[str] = []

    def bad(key: str, message: str) -> None:
        problems.append(f"`{key}`: {message}")

    if not isinstance(data, dict):
        raise PresetError(f"preset {source}: must be a JSON object with the keys name, table, header, columns")
    for k in data:
        if k not in KEYS:
            bad(k, f"unknown key; a preset has only {', '.join(KEYS)}")
    if data.get("format", PRESET_FORMAT) != PRESET_FORMAT:
        bad("format", f"must be {PRESET_FORMAT} (this program reads preset format {PRESET_FORMAT} only)")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        bad("name", f"{name!r} is not a preset name; use 1-63 lower-case letters a-z, digits, `_` or `-`, "
            "starting with a letter or digit (e.g. `booking_export`)")
        name = str(name)
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        bad("version", f"{version!r} is not a version; versions are whole numbers from 1 (leave it out for a "
            "new preset: saving gives it the next version)")
        version = None
    description = data.get("description", "")
    if not isinstance(description, str):
        bad("description", "must be text")
        description = ""
    table_name = data.get("table")
    table = contract.TABLES_BY_NAME.get(table_name) if isinstance(table_name, str) else None
    if table is None:
        bad("table", f"{table_name!r} is not a table of the data contract; use one of "
            + ", ".join(contract.TABLES_BY_NAME))
    header = data.get("header")
    if not isinstance(header, list) or not header or not all(isinstance(h, str) and normalise_header(h)
                                                             for h in header):
        bad("header", "must be the list of the export's column names as written in its first row, none empty")
        header = []
    seen: dict[str, str] = {}
    for h in header:
        n = normalise_header(h)
        if n in seen:
            bad("header", f"`{seen[n]}` and `{h}` are the same column name (names are compared without case, "
                "spaces and hyphens); list each column once")
        seen[n] = h
    in_header = set(seen)

    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        bad("columns", "must be an object mapping a source column to a contract column")
        columns = {}
    column_map: dict[str, str] = {}
    for src, target in columns.items():
        key = f"columns.{src}"
        if normalise_header(src) not in in_header:
            bad(key, f"`{src}` is not a column of `header`; map only columns the export has")
            continue
        if table is not None and (not isinstance(target, str) or target not in table.column_names):
            bad(key, f"{target!r} is not a column of the contract table `{table.name}`; use one of "
                + ", ".join(table.column_names))
            continue
        column_map[src] = target
    # the columns the export will have after mapping (the reader refuses a name twice)
    produced: dict[str, str] = {}
    mapped = {normalise_header(k): v for k, v in column_map.items()}
    for n, h in seen.items():
        out = mapped.get(n, n)
        if table is not None and out in table.column_names:
            if out in produced:
                bad("columns", f"`{produced[out]}` and `{h}` would both become `{out}`; map only one of them")
            produced[out] = h

    values = data.get("values", {})
    if not isinstance(values, dict):
        bad("values", "must be an object: contract column -> {source spelling: contract value}")
        values = {}
    value_maps: dict[str, dict[str, str]] = {}
    for column_name, spellings in values.items():
        key = f"values.{column_name}"
        if table is None:
            continue
        if column_name not in table.column_names:
            bad(key, f"`{column_name}` is not a column of the contract table `{table.name}`")
            continue
        col = table.column(column_name)
        if col.kind not in MAPPABLE_KINDS:
            bad(key, f"values of `{column_name}` ({col.describe_type()}) are read as they are; only enumerations, "
                "yes/no, areas and codes can be mapped")
            continue
        if column_name not in produced:
            bad(key, f"no column of `header` becomes `{column_name}`; map one to it in `columns` first")
        if not isinstance(spellings, dict) or not spellings:
            bad(key, "must be a non-empty object {source spelling: contract value}")
            continue
        out_map: dict[str, str] = {}
        keys_seen: dict[str, str] = {}
        for spelling, target in spellings.items():
            skey = f"{key}.{spelling}"
            if not _key(spelling):
                bad(skey, "an empty spelling cannot be mapped (an empty cell stays empty)")
                continue
            if _key(spelling) in keys_seen:
                bad(skey, f"`{keys_seen[_key(spelling)]}` and `{spelling}` are the same spelling (case and "
                    "surrounding spaces do not count); keep one")
                continue
            keys_seen[_key(spelling)] = spelling
            value = _contract_value(col, target)
            if value is None:
                bad(skey, f"{target!r} is not allowed in `{column_name}`: {_allowed_text(col)}")
                continue
            out_map[spelling] = value
        value_maps[column_name] = out_map

    service_column: str | None = None
    services: dict[str, ServiceRule] = {}
    raw_services = data.get("services")
    if raw_services is not None:
        if table is not None and table.name != "treatments":
            bad("services", "a service map gives indication and areas, so it belongs to a `treatments` preset")
        elif not isinstance(raw_services, dict) or set(raw_services) - {"column", "map"}:
            bad("services", "must be {\"column\": source column, \"map\": {service name: {\"indication\": ..., "
                "\"areas\": [...]}}}")
        else:
            service_column = raw_services.get("column")
            if not isinstance(service_column, str) or normalise_header(service_column) not in in_header:
                bad("services.column", f"{service_column!r} is not a column of `header`; name the column that "
                    "holds the service name")
                service_column = None
            raw_map = raw_services.get("map")
            if not isinstance(raw_map, dict) or not raw_map:
                bad("services.map", "must be a non-empty object {service name: {\"indication\": ..., "
                    "\"areas\": [...]}}")
                raw_map = {}
            keys_seen = {}
            indication_col, areas_col = contract.TREATMENTS.column("indication"), contract.TREATMENTS.column("areas")
            for service, rule in raw_map.items():
                skey = f"services.map.{service}"
                if not _key(service):
                    bad(skey, "an empty service name cannot be mapped")
                    continue
                if _key(service) in keys_seen:
                    bad(skey, f"`{keys_seen[_key(service)]}` and `{service}` are the same service name (case and "
                        "surrounding spaces do not count); keep one")
                    continue
                keys_seen[_key(service)] = service
                if not isinstance(rule, dict) or set(rule) != {"indication", "areas"}:
                    bad(skey, "must be {\"indication\": ..., \"areas\": [...]} (both)")
                    continue
                indication = _contract_value(indication_col, rule["indication"])
                if indication is None:
                    bad(f"{skey}.indication", f"{rule['indication']!r} is not an indication: "
                        + _allowed_text(indication_col))
                areas_raw = rule["areas"]
                if isinstance(areas_raw, str):
                    areas_raw = areas_raw.split(contract.AREA_SEPARATOR)
                areas: list[str] = []
                if not isinstance(areas_raw, list) or not areas_raw:
                    bad(f"{skey}.areas", "must be a non-empty list of areas, e.g. [\"glabella\", \"forehead\"]")
                    areas_raw = []
                lookup = contract.canonical_lookup(areas_col.allowed)
                for area in areas_raw:
                    canonical = lookup.get(_key(area)) if isinstance(area, str) else None
                    if canonical is None:
                        bad(f"{skey}.areas", f"{area!r} is not an area of the data contract; use "
                            + ", ".join(contract.AREAS))
                    elif canonical not in areas:
                        areas.append(canonical)
                if indication is not None and areas:
                    services[service] = ServiceRule(indication, tuple(sorted(areas)))

    correction: CorrectionRule | None = None
    raw_corr = data.get("corrections")
    if raw_corr is not None:
        if table is not None and table.name != "treatments":
            bad("corrections", "corrections are sessions, so they belong to a `treatments` preset")
        elif not isinstance(raw_corr, dict) or set(raw_corr) != {"column", "markers", "within_days"}:
            bad("corrections", "must be {\"column\": source column, \"markers\": [\"redo\", ...], "
                "\"within_days\": 28}")
        else:
            ccol, markers, days = raw_corr["column"], raw_corr["markers"], raw_corr["within_days"]
            ok = True
            if not isinstance(ccol, str) or normalise_header(ccol) not in in_header:
                bad("corrections.column", f"{ccol!r} is not a column of `header`; name the column holding the "
                    "marker")
                ok = False
            if not isinstance(markers, list) or not markers or not all(
                    isinstance(m, str) and _marker_words(m) for m in markers):
                bad("corrections.markers", "must be a non-empty list of words, e.g. [\"korrigering\", \"redo\"]")
                ok = False
            if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_WITHIN_DAYS:
                bad("corrections.within_days", f"{days!r} must be a whole number of days from 1 to "
                    f"{MAX_WITHIN_DAYS} (the clinic corrects after about two weeks: 28 is usual)")
                ok = False
            if table is not None and "corrects_treatment_id" not in table.column_names:
                ok = False
            if ok:
                correction = CorrectionRule(ccol, tuple(markers), days)

    if table is not None:
        from_services = {"indication", "areas"} if service_column else set()
        for required in table.required_columns:
            if required not in produced and required not in from_services:
                bad("columns", f"no column gives `{required}`, which `{table.name}` requires; map the export's "
                    f"column for it (`\"<its header>\": \"{required}\"`)"
                    + (" or give it through `services`" if required in ("indication", "areas") else ""))
    if problems:
        raise PresetError(f"preset {source} has {len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                          + "; ".join(problems))
    return Preset(name, version, description, table.name, tuple(header), column_map, value_maps, service_column,
                  services, correction)


def _contract_value(col: contract.Column, target: object) -> str | None:
    """The contract's own value for a preset's target, or None if the contract does not allow it."""
    if isinstance(target, list) and col.kind == "areas":
        target = contract.AREA_SEPARATOR.join(str(t) for t in target)
    if not isinstance(target, str) or not target.strip(WHITESPACE):
        return None
    text = _key(target)
    if col.kind == "enum":
        return contract.canonical_lookup(col.allowed).get(text)
    if col.kind == "bool":
        return "yes" if text in contract.TRUE_SPELLINGS else "no" if text in contract.FALSE_SPELLINGS else None
    if col.kind == "areas":
        lookup = contract.canonical_lookup(col.allowed)
        parts = [_key(p) for p in text.split(contract.AREA_SEPARATOR)]
        if not all(p in lookup for p in parts):
            return None
        return contract.AREA_SEPARATOR.join(sorted({lookup[p] for p in parts}))
    if col.kind == "code":
        from pipelines.ingest.privacy import identifier_kind

        code = target.strip(WHITESPACE)
        return code.upper() if _is_code(code) and identifier_kind(code) is None else None
    return None


def _allowed_text(col: contract.Column) -> str:
    if col.kind == "bool":
        return "use yes or no"
    if col.kind == "code":
        return "use a code of letters, digits, `-`, `_` or `.` (at most 16), never a phone number or other identifier"
    if col.kind == "areas":
        return ("use one or more of " + ", ".join(col.allowed)
                + f" (a list, or separated by `{contract.AREA_SEPARATOR}`)")
    return "use one of " + ", ".join(col.allowed)


def _marker_words(marker: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", marker.lower()))


# --------------------------------------------------------------------------------------------------------------
# Where presets live
# --------------------------------------------------------------------------------------------------------------


def presets_dir(db: Path) -> Path:
    """Saved presets of a database: `<db stem>.presets/` beside the published database."""
    published = store.DbPaths(Path(db) if db else store.default_db_path()).published
    return published.with_name(published.stem + ".presets")


def _versions_on_disk(db: Path, name: str) -> dict[int, Path]:
    folder = presets_dir(db) / name
    found: dict[int, Path] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = re.fullmatch(r"v([1-9][0-9]{0,8})\.json", p.name)
            if m:
                found[int(m.group(1))] = p
    shipped = SHIPPED_DIR / f"{name}.json"
    if shipped.is_file() and 1 not in found:
        found[1] = shipped
    return found


def _names(db: Path) -> list[str]:
    names = {p.stem for p in SHIPPED_DIR.glob("*.json")} if SHIPPED_DIR.is_dir() else set()
    folder = presets_dir(db)
    if folder.is_dir():
        names |= {p.name for p in folder.iterdir() if p.is_dir()}
    return sorted(n for n in names if NAME_PATTERN.fullmatch(n))


def _read(path: Path, name: str, version: int) -> Preset:
    shown = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"preset file {shown} cannot be read ({exc}); restore it or save the preset again") \
            from None
    except json.JSONDecodeError as exc:
        raise PresetError(f"preset file {shown} is not valid JSON (line {exc.lineno}: {exc.msg}); correct it or "
                          "save the preset again") from None
    preset = validate_preset(data, shown)
    if preset.name != name:
        raise PresetError(f"preset file {shown}: `name` is {preset.name!r} but the file belongs to {name!r}; "
                          "the name in the file must match its file or folder name")
    if preset.version not in (None, version):
        raise PresetError(f"preset file {shown}: `version` is {preset.version} but the file is version {version}; "
                          "do not rename saved preset files")
    origin = "shipped" if path.parent == SHIPPED_DIR else "saved"
    return replace(preset, version=version, origin=origin, path=path)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise PresetError(f"{name!r} is not a preset name; use 1-63 lower-case letters a-z, digits, `_` or `-` "
                          "(list the presets on the Load data page)")
    return name


def shipped_presets() -> list[Preset]:
    """The presets shipped in data/presets/ (version 1 each), checked like any other."""
    names = sorted(p.stem for p in SHIPPED_DIR.glob("*.json")) if SHIPPED_DIR.is_dir() else []
    return [_read(SHIPPED_DIR / f"{_check_name(n)}.json", n, 1) for n in names]


def list_presets(db: Path) -> list[PresetInfo]:
    """Every preset (shipped and saved) with its newest version. A broken preset file raises PresetError."""
    out = []
    for name in _names(db):
        versions = _versions_on_disk(db, name)
        if not versions:
            continue
        newest = max(versions)
        p = _read(versions[newest], name, newest)
        out.append(PresetInfo(p.name, newest, p.description, p.table, p.origin, versions[newest],
                              tuple(sorted(versions)), p.header))
    return out


def load_preset(name: str, db: Path, version: int | None = None) -> Preset:
    """The preset `name` (its newest version, or `version`)."""
    _check_name(name)
    versions = _versions_on_disk(db, name)
    if not versions:
        known = ", ".join(_names(db)) or "none yet"
        raise PresetError(f"no preset named `{name}` (known: {known}); save one on the Load data page or put it in "
                          f"{SHIPPED_DIR}")
    if version is None:
        version = max(versions)
    if version not in versions:
        raise PresetError(f"preset `{name}` has no version {version} (it has "
                          + ", ".join(f"v{v}" for v in sorted(versions)) + ")")
    return _read(versions[version], name, version)


def save_preset(preset: Preset, db: Path) -> Preset:
    """Write `preset` as a new version (never overwriting one) beside the database; returns it with its version.

    The first save of a name is v1 (v2 when a shipped preset of that name exists). Another preset recognising the
    same header is refused: a header must lead to one preset."""
    data = preset.to_dict()
    data.pop("version", None)
    checked = validate_preset(data, f"`{preset.name}` (to save)")
    for info in list_presets(db):
        if info.name != checked.name and header_signature(info.header) == checked.signature:
            raise PresetError(f"preset `{info.name}` already recognises this header; save the mapping as a new "
                              f"version of `{info.name}`, or change one of them")
    folder = store.private_dir(presets_dir(db) / checked.name)
    store.tighten(folder.parent, store.PRIVATE_DIR_MODE)
    store.tighten(folder, store.PRIVATE_DIR_MODE)
    version = max(_versions_on_disk(db, checked.name), default=0) + 1
    while True:
        path = folder / f"v{version}.json"
        saved = replace(checked, version=version, origin="saved", path=path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, store.PRIVATE_FILE_MODE)
        except FileExistsError:  # saved meanwhile by someone else: take the next number, never overwrite
            version += 1
            continue
        try:
            store.tighten(fd)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(saved.to_dict(), fh, ensure_ascii=False, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return saved


def match_preset(header: list[str], db: Path) -> Preset | None:
    """The preset whose header equals the file's (compared as normalised column-name sets), or None."""
    signature = header_signature(header)
    if not signature:
        return None
    hits = [info for info in list_presets(db) if header_signature(info.header) == signature]
    if not hits:
        return None
    if len(hits) > 1:
        raise PresetError("presets " + ", ".join(f"`{h.name}`" for h in hits) + " all recognise this header; "
                          "name the one to use (--preset NAME)")
    return load_preset(hits[0].name, db, hits[0].version)


# --------------------------------------------------------------------------------------------------------------
# Reading a file's header (to recognise its preset before it is read)
# --------------------------------------------------------------------------------------------------------------


def file_headers(path: Path) -> list[list[str]]:
    """The header row(s) of an export: one for CSV and Parquet, one per non-empty sheet of a workbook. A file
    that cannot be read gives [] (the reader then says what is wrong with it)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        fmt = sniff_format(path, head[:8])
    except (OSError, InputError):
        return []
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return [list(pq.read_schema(path).names)]
        if fmt == "xlsx":
            from python_calamine import CalamineWorkbook

            wb = CalamineWorkbook.from_path(str(path))
            out = []
            for name in wb.sheet_names:
                for row in wb.get_sheet_by_name(name).iter_rows():
                    cells = ["" if v is None else str(v) for v in row]
                    while cells and not cells[-1].strip():
                        cells.pop()
                    if cells:
                        out.append(cells)
                    break
            return out
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = head[: len(head) - len(head) % 2].decode("utf-16", errors="replace")
        else:
            raw = head.removeprefix(b"\xef\xbb\xbf")
            raw = raw[: raw.find(b"\n")] if b"\n" in raw else raw
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
        first = text.split("\n", 1)[0].rstrip("\r")
        return [next(csv.reader([first], delimiter=sniff_delimiter(path, first)))]
    except Exception:  # noqa: BLE001 - an unreadable file is the reader's to report, with its own message
        return []


# --------------------------------------------------------------------------------------------------------------
# Applying presets in a load
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _FileChoice:
    preset: Preset | None
    how: str  # "named" or "recognised by its header"


class PresetPlan:
    """Which preset each file of a load gets, and its application between the privacy guard and validation.

        plan = PresetPlan.for_files(paths, db, preset_name, column_map)
        read_sources(con, path, column_map=plan.column_map(i), ...)   # the preset's column names
        notes += plan.apply(con, i, sources)                            # values, services, corrections
        plan.check_used()
    """

    def __init__(self, choices: list[_FileChoice], base_map: dict[str, str], named: Preset | None):
        self.choices = choices
        self.base_map = base_map
        self.named = named
        self.applied_n = 0

    @classmethod
    def for_files(cls, paths: list[Path], db: Path, preset: str | None, column_map: dict[str, str]) -> PresetPlan:
        named = None
        if preset:  # `name`, or `name:vN` for an older version
            m = re.fullmatch(r"(.*):v([1-9][0-9]{0,8})", preset)
            named = load_preset(m.group(1), db, int(m.group(2))) if m else load_preset(preset, db)
        choices = []
        for path in paths:
            if named is not None:
                choices.append(_FileChoice(named, "named"))
                continue
            found = None
            for header in file_headers(Path(path)):
                found = match_preset(header, db)
                if found:
                    break
            choices.append(_FileChoice(found, "recognised by its header"))
        return cls(choices, dict(column_map), named)

    def column_map(self, index: int) -> dict[str, str]:
        """The reader's column map for file `index`: the preset's, then the --map file's (which wins)."""
        preset = self.choices[index].preset
        return {**(preset.column_map() if preset else {}), **self.base_map}

    def provided_columns(self, index: int) -> frozenset[str]:
        """Required columns the file's preset fills from its service map (the file need not have them)."""
        preset = self.choices[index].preset
        return frozenset({"indication", "areas"}) if preset and preset.service_column else frozenset()

    def apply(self, con: duckdb.DuckDBPyConnection, index: int, sources: list[Source]) -> list[str]:
        """Map values, services and corrections of the file's sources of the preset's table. Returns the notes."""
        choice = self.choices[index]
        if choice.preset is None:
            return []
        notes = []
        for source in sources:
            if source.table.name != choice.preset.table:
                continue
            linked, rejected = apply_preset(con, source, choice.preset)
            self.applied_n += 1
            detail = []
            if choice.preset.correction is not None:
                detail.append(f"{linked} correction{'' if linked == 1 else 's'} linked to the session "
                              f"{'it corrects' if linked == 1 else 'they correct'}")
            if rejected:
                detail.append(f"{rejected} row{'' if rejected == 1 else 's'} rejected by the preset")
            notes.append(f"preset {choice.preset.label} applied to {source.display_name} ({choice.how})"
                         + (f": {', '.join(detail)}" if detail else ""))
        return notes

    def check_used(self) -> None:
        if self.named is not None and self.applied_n == 0:
            raise PresetError(f"preset {self.named.label} is for `{self.named.table}` files, but no file of this "
                              f"load was read as `{self.named.table}`; nothing was stored. Load the file the preset "
                              "was made for, or leave out --preset")


def _relation_column(source: Source, preset: Preset, header: str) -> str:
    """The source relation's column holding the file's column `header` (as written in the preset)."""
    name = preset.column_map().get(normalise_header(header), normalise_header(header))
    if name in source.table.column_names:
        return name
    for column, h in source.extra_columns.items():
        if h == name:
            return column
    raise InputError(source.path, f"preset {preset.label} needs the column `{header}`, which this file does not "
                     "have; export it with that column, or choose the preset made for this export")


def _mapping_table(con, name: str, columns: tuple[str, ...], rows: list[tuple]) -> str:
    """A temp table of bound values (the first column is a lookup key: trimmed and lower-cased in SQL)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} ("
                + ", ".join(f"{ident(c)} VARCHAR" for c in columns) + ")").fetchall()
    if rows:
        placeholders = ", ".join(["lower(trim(?, " + literal(WHITESPACE) + "))"] + ["?"] * (len(columns) - 1))
        con.executemany(f"INSERT INTO {ident(name)} VALUES ({placeholders})", rows)
    return name


def _words_sql(expr: str) -> str:
    """A value as its lower-case words separated by single spaces, padded with a space each side."""
    return f"(' ' || trim(regexp_replace(lower({expr}), '[^\\p{{L}}\\p{{N}}]+', ' ', 'g')) || ' ')"


def apply_preset(con: duckdb.DuckDBPyConnection, source: Source, preset: Preset) -> tuple[int, int]:
    """Replace `source.relation` by the mapped rows; rows the preset cannot place join `source.malformed` with
    their reason (they are stored in rejected_rows like any other rejected row). Returns (corrections linked,
    rows rejected by the preset)."""
    from pipelines.ingest.validate import _date

    table = source.table
    rel = source.relation
    prefix = f"{rel}_preset"
    trim = literal(WHITESPACE)

    def clean(expr: str) -> str:
        return f"NULLIF(trim({expr}, {trim}), '')"

    joins: list[str] = []
    value_of: dict[str, str] = {c: f"s.{ident(c)}" for c in table.column_names}
    for i, (column, spellings) in enumerate(sorted(preset.values.items())):
        if column not in table.column_names:
            continue
        t = _mapping_table(con, f"{prefix}_v{i}", ("k", "v"), list(spellings.items()))
        alias = f"v{i}"
        joins.append(f"LEFT JOIN (SELECT k, min(v) AS v FROM {ident(t)} GROUP BY k) {alias} "
                     f"ON {alias}.k = lower(trim(s.{ident(column)}, {trim}))")
        value_of[column] = f"coalesce({alias}.v, s.{ident(column)})"
    service_known = "false"
    service_text = "NULL"
    svc_col = mcol = None
    if preset.service_column and table.name == "treatments":
        svc_col = _relation_column(source, preset, preset.service_column)
        t = _mapping_table(con, f"{prefix}_services", ("k", "indication", "areas"),
                           [(k, r.indication, contract.AREA_SEPARATOR.join(r.areas))
                            for k, r in preset.services.items()])
        joins.append(f"LEFT JOIN (SELECT k, min(indication) AS indication, min(areas) AS areas FROM {ident(t)} "
                     f"GROUP BY k) svc ON svc.k = lower(trim(s.{ident(svc_col)}, {trim}))")
        for column in ("indication", "areas"):
            value_of[column] = f"coalesce({clean(value_of[column])}, svc.{ident(column)})"
        service_known = "svc.k IS NOT NULL"
        service_text = clean(f"s.{ident(svc_col)}")
    marker = "false"
    marker_text = "NULL"
    if preset.correction is not None and table.name == "treatments":
        mcol = _relation_column(source, preset, preset.correction.column)
        t = _mapping_table(con, f"{prefix}_markers", ("m",), [(m,) for m in preset.correction.markers])
        marker_text = clean(f"s.{ident(mcol)}")
        marker = (f"coalesce(EXISTS (SELECT 1 FROM {ident(t)} mk WHERE contains({_words_sql('s.' + ident(mcol))}, "
                  f"{_words_sql('mk.m')})), false)")
    extras = list(source.extra_columns)
    mapped = f"{prefix}_mapped"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ident(mapped)} AS
            SELECT s._row, {', '.join(f'{value_of[c]} AS {ident(c)}' for c in table.column_names)}
                   {''.join(f', s.{ident(c)}' for c in extras)},
                   {service_known} AS _service_known, {service_text} AS _service, {marker} AS _is_correction,
                   {marker_text} AS _marker
            FROM {ident(rel)} s {' '.join(joins)}"""
    ).fetchall()
    reasons: dict[int, str] = {}
    if preset.service_column and table.name == "treatments":
        for row, service in con.execute(
            f"""SELECT _row, _service FROM {ident(mapped)}
                WHERE _service IS NOT NULL AND NOT _service_known
                  AND ({clean('indication')} IS NULL OR {clean('areas')} IS NULL) ORDER BY _row"""
        ).fetchall():
            reasons[row] = (f"{preset.service_column}: service \"{service[:60]}\" is not in preset {preset.label}'s "
                            "service map; add it with its indication and areas (Load data page) and load the file "
                            "again")
    linked = 0
    if preset.correction is not None and table.name == "treatments":
        linked = _link_corrections(con, mapped, preset, reasons, _date)
    if reasons:
        _mapping_table(con, f"{prefix}_rejected", ("r",), [(str(r),) for r in reasons])
        # the row as mapped, with the columns the preset read (extra columns are never stored)
        cols = list(table.column_names) + [c for c in (svc_col, mcol) if c and c not in table.column_names]
        fields = ", ".join(f"coalesce({ident(c)}, '')" for c in cols)
        lines = {row: line for row, line in con.execute(
            f"SELECT _row, concat_ws(';', {fields}) "
            f"FROM {ident(mapped)} WHERE CAST(_row AS VARCHAR) IN (SELECT r FROM {ident(prefix + '_rejected')})"
        ).fetchall()}
        for row in sorted(reasons):
            source.malformed.append(MalformedRow(row, reasons[row], lines.get(row, "")[:500]))
        source.malformed.sort(key=lambda m: m.row_number)
    final = f"{prefix}_rows"
    keep = (f"WHERE CAST(_row AS VARCHAR) NOT IN (SELECT r FROM {ident(prefix + '_rejected')})" if reasons else "")
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {ident(final)} AS
            SELECT _row, {', '.join(ident(c) for c in table.column_names)}{''.join(', ' + ident(c) for c in extras)}
            FROM {ident(mapped)} {keep}"""
    ).fetchall()
    before = con.execute(f"SELECT count(*) FROM {ident(rel)}").fetchall()[0][0]
    after = con.execute(f"SELECT count(*) FROM {ident(final)}").fetchall()[0][0]
    if after + len(reasons) != before:  # every row read is loaded or rejected, never lost (or doubled)
        raise RuntimeError(f"{source.display_name}: preset {preset.label} turned {before} rows into {after} + "
                           f"{len(reasons)} rejected; nothing was stored")
    source.relation = final
    used = {c for c in (svc_col, mcol) if c and c.startswith("extra__")}
    for column in used:  # read by the preset, so not "ignored" in the load report and the load log
        header = source.extra_columns.pop(column)
        if header in source.ignored_columns:
            source.ignored_columns.remove(header)
    return linked, len(reasons)


def _link_corrections(con, mapped: str, preset: Preset, reasons: dict[int, str], date_sql) -> int:
    """Fill `corrects_treatment_id` of marked rows with the same patient's most recent earlier session without a
    marker within the rule's days, from this file or the database; a marked row without one is rejected."""
    rule = preset.correction
    trim = literal(WHITESPACE)
    v_date = f"NULLIF(trim(treated_on, {trim}), '')"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ident(mapped + '_c')} AS
            SELECT _row, NULLIF(trim(treatment_id, {trim}), '') AS tid, NULLIF(trim(patient_ref, {trim}), '') AS pref,
                   {date_sql(v_date)} AS d, _is_correction AS is_corr, _marker AS marker,
                   NULLIF(trim(corrects_treatment_id, {trim}), '') AS given
            FROM {ident(mapped)}"""
    ).fetchall()
    c = ident(mapped + "_c")
    found = con.execute(
        f"""WITH wanted AS (SELECT _row, pref, d FROM {c}
                            WHERE is_corr AND given IS NULL AND pref IS NOT NULL AND d IS NOT NULL),
                 candidates AS (
                     SELECT tid, pref, d FROM {c} WHERE NOT is_corr AND tid IS NOT NULL AND pref IS NOT NULL
                       AND d IS NOT NULL
                     UNION ALL
                     SELECT treatment_id, patient_ref, treated_on FROM main.treatments
                     WHERE corrects_treatment_id IS NULL AND treatment_id NOT IN (SELECT tid FROM {c}
                                                                                  WHERE tid IS NOT NULL))
            SELECT w._row, arg_max(k.tid, (k.d, k.tid)), w.d
            FROM wanted w LEFT JOIN candidates k
              ON k.pref = w.pref AND k.d < w.d AND date_diff('day', k.d, w.d) <= ?
            GROUP BY w._row, w.d ORDER BY w._row""",
        [rule.within_days],
    ).fetchall()
    links = [(str(row), tid) for row, tid, _ in found if tid is not None]
    for row, tid, d in found:
        if tid is None:
            marker = con.execute(f"SELECT marker FROM {c} WHERE _row = ?", [row]).fetchall()[0][0]
            reasons[row] = (f"corrects_treatment_id: marked as a correction ({rule.column}: \"{(marker or '')[:40]}\", "
                            f"preset {preset.label}) "
                            f"but the patient has no earlier session without a marker in the {rule.within_days} days "
                            f"before {d:%Y-%m-%d}, in this file or in the database; load the session it corrects "
                            "first (or write its id in the corrects column), or remove the marker if this is a new "
                            "session")
    if links:
        t = _mapping_table(con, mapped + "_links", ("r", "tid"), links)
        con.execute(
            f"""UPDATE {ident(mapped)} SET corrects_treatment_id = l.tid
                FROM {ident(t)} l WHERE CAST({ident(mapped)}._row AS VARCHAR) = l.r"""
        ).fetchall()
    return len(links)


__all__ = [
    "CorrectionRule",
    "Preset",
    "PresetError",
    "PresetInfo",
    "PresetPlan",
    "ServiceRule",
    "apply_preset",
    "file_headers",
    "header_signature",
    "list_presets",
    "load_preset",
    "match_preset",
    "presets_dir",
    "save_preset",
    "shipped_presets",
    "validate_preset",
]
