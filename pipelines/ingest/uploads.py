"""Files uploaded in the dashboard's "Load data" page, before and around the loader.

An upload is held only while it is checked and loaded: in a fresh owner-only folder (in memory, /dev/shm, where
the machine has it), removed when the page is done with it, also when it was refused or the load failed, so a
refused file (national identity numbers) leaves nothing behind, not even on disk. Its name is the uploaded name
reduced to a plain file name (no folder, no control characters): names are data, never paths or SQL.

`preview` tells, per file (per sheet of a workbook), which table the file was recognised as, which of its columns
matched the contract, which were ignored and which contract columns are missing, and whether the privacy guard
refuses it, by running the loader's own reader and guard on a throw-away in-memory database. The load itself is
`pipelines.ingest.load.load_files`, the command line's loader, unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.ingest import presets, privacy
from pipelines.ingest.read import InputError, normalise_header, read_sources
from pipelines.ingest.store import PRIVATE_FILE_MODE
from pipelines.sqltext import ident

SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet")
MAX_NAME_CHARS = 120
MEMORY_DIR = Path("/dev/shm")


@dataclass
class FilePreview:
    name: str  # the file (and sheet) as the page shows it
    table: str | None  # the contract table it was recognised as (None: not recognised)
    rows_n: int = 0
    matched: list[str] = field(default_factory=list)  # contract columns the file has
    ignored: list[str] = field(default_factory=list)  # the file's columns the contract does not know
    missing_required: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # the file's own (normalised) header, for mapping
    problem: str = ""  # why it cannot be loaded as it is ('' when it can)
    preset: str = ""  # the mapping preset the loader will apply ("name vN"), '' for none
    raw_header: list[str] = field(default_factory=list)  # the header as the file writes it (for a new preset)
    refused: bool = False  # the privacy guard refused it: nothing of it may be stored

    @property
    def loadable(self) -> bool:
        return self.table is not None and not self.problem and not self.refused


def safe_name(name: str, index: int = 0) -> str:
    """The uploaded name as a plain file name: no folder part, no control or separator characters, at most
    MAX_NAME_CHARS; an empty or dot-only name becomes `upload-<index>`. The suffix is kept (it says the format)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if not text or set(text) <= {"."}:
        text = f"upload-{index}"
    if len(text) > MAX_NAME_CHARS:
        stem, suffix = os.path.splitext(text)
        text = stem[: MAX_NAME_CHARS - len(suffix)] + suffix
    return text


@contextlib.contextmanager
def upload_dir() -> Iterator[Path]:
    """A fresh owner-only folder for the uploads of one load (in memory where the machine has /dev/shm), removed
    with everything in it when the block ends, however it ends."""
    base = MEMORY_DIR if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="clinic-upload-", dir=base))
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def save(folder: Path, files: Sequence[tuple[str, bytes]]) -> list[Path]:
    """Write the uploads into `folder` (owner-only files), under their safe names made unique."""
    paths: list[Path] = []
    used: set[str] = set()
    for i, (name, data) in enumerate(files, start=1):
        clean = safe_name(name, i)
        stem, suffix = os.path.splitext(clean)
        candidate, n = clean, 2
        while candidate.lower() in used:
            candidate = f"{stem} ({n}){suffix}"
            n += 1
        used.add(candidate.lower())
        path = folder / candidate
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        paths.append(path)
    return paths


def forget(path: Path) -> None:
    """Remove one upload now (a refused file must not wait for the end of the page)."""
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()


def _normalised(raw: list[str]) -> list[str]:
    """A header as the loader normalises it (names only; empty ones left out)."""
    return [normalise_header(v) for v in raw if normalise_header(v)]


def preview(path: Path, column_map: dict[str, str] | None = None, table: str | None = None, *,
            db: Path | None = None, preset: str | None = None) -> list[FilePreview]:
    """What loading `path` would do with it (see the module docstring); one entry per recognised sheet. With the
    database `db`, the mapping preset the loader would apply (`preset` by name, else the one whose header the file
    has) is applied to the columns here too."""
    path = Path(path)
    raw = next(iter(presets.file_headers(path)), [])
    label = ""
    provided: frozenset[str] = frozenset()
    read_by_preset: set[str] = set()
    if db is not None:
        try:
            plan = presets.PresetPlan.for_files([path], Path(db), preset, column_map or {})
        except presets.PresetError as exc:
            return [FilePreview(path.name, None, header=_normalised(raw), problem=str(exc), raw_header=raw)]
        column_map, provided = plan.column_map(0), plan.provided_columns(0)
        chosen = plan.choices[0].preset
        label = chosen.label if chosen else ""
        if chosen is not None:  # the columns the preset reads for services and corrections are used, not ignored
            read_by_preset = {normalise_header(c) for c in (chosen.service_column,
                                                              chosen.correction.column if chosen.correction else None)
                              if c}
    con = duckdb.connect()  # in memory, thrown away: nothing is stored
    try:
        try:
            sources = read_sources(con, path, column_map=column_map or {}, table_name=table, relation_prefix="pv",
                                   provided_columns=provided)
        except InputError as exc:
            header = _normalised(raw)
            item = FilePreview(path.name, None, header=header, problem=exc.problem,
                               refused=isinstance(exc, privacy.PrivacyError), preset=label, raw_header=raw)
            names = [(column_map or {}).get(h, h) for h in header]
            t = None if item.refused else (contract.TABLES_BY_NAME.get(table) if table
                                           else contract.table_for_header(names))
            if t is not None:  # recognised, but something is missing: say what
                item.table = t.name
                item.matched = [c for c in t.column_names if c in names]
                item.ignored = [h for h, n in zip(header, names, strict=True) if n not in t.column_names]
                item.missing_required = [c for c in t.required_columns if c not in names]
                item.missing_optional = [c for c in t.column_names if c not in names and c not in t.required_columns]
            return [item]
        out = []
        header = _normalised(raw)
        mapped = {(column_map or {}).get(h, h) for h in header} | set(provided)
        for source in sources:
            t = source.table
            present = [c for c in t.column_names if c in mapped] if source.sheet is None or len(sources) == 1 \
                else [c for c in t.column_names if c not in source.ignored_columns]
            item = FilePreview(source.display_name, t.name, source.rows_read, matched=present,
                               ignored=[c for c in source.ignored_columns if c not in read_by_preset],
                               missing_required=[c for c in t.required_columns if c not in present],
                               missing_optional=[c for c in t.column_names
                                                 if c not in present and c not in t.required_columns],
                               header=[*present, *source.ignored_columns], preset=label, raw_header=raw)
            try:
                privacy.guard(con, source)
            except privacy.PrivacyError as exc:
                item.refused, item.problem = True, exc.problem
            out.append(item)
        return out
    finally:
        con.close()


def contract_columns() -> list[str]:
    """Every column of the data contract a file's column can be mapped to (for the mapping assistant)."""
    return list(dict.fromkeys(c for t in contract.TABLES for c in t.column_names))


def table_columns(table: str) -> list[str]:
    return list(contract.TABLES_BY_NAME[table].column_names)


def column_map_csv(mapping: dict[str, str]) -> str:
    """A mapping chosen on the page as the loader's column-map file (`source_column,column`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["source_column", "column"])
    for source, target in mapping.items():
        if target:
            writer.writerow([normalise_header(source), target])
    return buf.getvalue()


MAX_VALUES = 200  # the most distinct values the mapping assistant offers per column


def unknown_values(path: Path, column_map: dict[str, str], table: str) -> dict[str, list[str]]:
    """Per enumerated contract column (product, indication, profession, effect, ...) the file's values the
    contract does not know (case and spacing as validation ignores them), for the page's value mapping. Read with
    the loader's reader on a throw-away in-memory database; values are data, bound, never SQL."""
    t = contract.TABLES_BY_NAME[table]
    con = duckdb.connect()
    try:
        try:
            [source, *_] = read_sources(con, Path(path), column_map=column_map, table_name=table,
                                        relation_prefix="uv")
        except (InputError, ValueError):
            return {}
        out: dict[str, list[str]] = {}
        for col in t.columns:
            if col.kind != "enum" or not col.allowed:
                continue
            known = contract.canonical_lookup(col.allowed)
            values = [r[0] for r in con.execute(
                f"SELECT DISTINCT trim({ident(col.name)}) AS v FROM {ident(source.relation)} "
                f"WHERE {ident(col.name)} IS NOT NULL AND trim({ident(col.name)}) <> '' ORDER BY v LIMIT ?",
                [MAX_VALUES]).fetchall()]
            unknown = [v for v in values if " ".join(v.lower().split()) not in known]
            if unknown:
                out[col.name] = unknown
        return out
    finally:
        con.close()


def allowed_values(column: str, table: str) -> list[str]:
    """The contract's own values of an enumerated column (the choices of the value mapping)."""
    return list(contract.TABLES_BY_NAME[table].column(column).allowed)


def preset_draft(name: str, description: str, table: str, raw_header: list[str], mapping: dict[str, str],
                 values: dict[str, dict[str, str]] | None = None) -> dict:
    """A preset (pipelines/ingest/presets.py's JSON shape) from what the page chose: the file's header as written,
    its columns (by their normalised names, as the page shows them) mapped to contract columns, and value maps.
    Validate it with presets.validate_preset before saving."""
    raw = {normalise_header(h): h for h in raw_header}
    return {"format": 1, "name": name, "description": description, "table": table, "header": list(raw_header),
            "columns": {raw.get(k, k): v for k, v in mapping.items() if v}, "values": dict(values or {})}
