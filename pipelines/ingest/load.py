"""One load: read files, refuse identifiers, validate rows, write everything in one transaction, publish.

    result = load_files([Path("treatments.csv")], db=Path("data/clinic.duckdb"))

Either the whole load is applied (and a new snapshot published) or nothing is: any whole-file problem raises
before the transaction commits, and the published database is untouched. Every row read ends up loaded or in
`rejected_rows` with its file, row, column and reason; `rows_read == rows_loaded + rows_rejected` per file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines import contract
from pipelines.ingest import presets, privacy, store, validate
from pipelines.ingest.read import InputError, Source, read_column_map, read_sources
from pipelines.metrics import counting, registry
from pipelines.sqltext import ident


@dataclass
class SourceSummary:
    name: str
    table: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    ignored_columns: list[str]


@dataclass
class LoadResult:
    load_id: int
    version: int
    published: Path
    sources: list[SourceSummary]
    rejected_examples: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # read, validate, write, mart, commit, ...
    notes: list[str] = field(default_factory=list)  # e.g. a follow-up file that records an outcome on no contact
    mart_build: str = ""  # how the outcome mart was brought up to date: "full", "incremental" or "unchanged"

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sources)

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.sources)

    @property
    def rows_rejected(self) -> int:
        return sum(s.rows_rejected for s in self.sources)


class Progress:
    """A one-line progress bar on stderr, shown only for loads that take more than a second."""

    def __init__(self, total: int, enabled: bool | None = None, stream=None,
                 callback: Callable[[float, str], None] | None = None):
        self.callback = callback  # the dashboard's progress bar: (share done 0-1, what is being done)
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.shown = False
        self.stage: str | None = None
        self.stage_started = self.started
        self.seconds: dict[str, float] = {}

    def step(self, label: str, stage: str | None = None) -> None:
        """Advance the bar; `stage` starts timing a new stage (the time since the last one goes to that one)."""
        if stage is not None:
            self._end_stage()
            self.stage = stage
        self.done = min(self.done + 1, self.total)
        if self.callback is not None:
            self.callback(self.done / self.total, label)
        if not self.enabled or (time.monotonic() - self.started < 1.0 and not self.shown):
            return
        width = 30
        filled = int(width * self.done / self.total)
        self.stream.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {100 * self.done // self.total:3d}% "
                          f"{label[:50]:<50}")
        self.stream.flush()
        self.shown = True

    def _end_stage(self) -> None:
        now = time.monotonic()
        if self.stage is not None:
            self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.stage_started
        self.stage_started = now

    def close(self, label: str = "done") -> None:
        self._end_stage()
        self.stage = None
        if self.callback is not None:
            self.callback(1.0, label)
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def load_files(
    paths: list[Path],
    db: Path | None = None,
    *,
    table: str | None = None,
    column_map: Path | None = None,
    today: dt.date | None = None,
    progress: bool | Callable[[float, str], None] | None = None,
    wait_seconds: float = 600.0,
    preset: str | None = None,
) -> LoadResult:
    """Load export files into the working database and publish a new snapshot. Raises InputError on bad files.
    `progress`: True / False / None (a bar on a terminal), or a function called with (share done, step).

    `preset` names a mapping preset (pipelines/ingest/presets.py) for the files; without it, a file whose header is
    a preset's gets that preset."""
    db_paths = store.DbPaths(Path(db) if db else store.default_db_path())
    mapping = read_column_map(column_map)
    plan = presets.PresetPlan.for_files([Path(p) for p in paths], db_paths.published, preset, mapping)
    preset_notes: list[str] = []
    today = today or dt.date.today()
    bar = Progress(len(paths) * 2 + 7, enabled=False if callable(progress) else progress,
                   callback=progress if callable(progress) else None)
    with store.load_lock(db_paths, wait_seconds):
        store.clean_stale_temp_files(db_paths)
        con = store.open_work(db_paths)
        try:
            store.size_memory(con, sum(_file_bytes(p) for p in paths))
            con.execute("BEGIN TRANSACTION").fetchall()
            changes = store.start_session_changes(con)
            sources: list[Source] = []
            for i, path in enumerate(paths):
                bar.step(f"reading {Path(path).name}", "read")
                found = read_sources(con, Path(path), column_map=plan.column_map(i), table_name=table,
                                     relation_prefix=f"f{i}", provided_columns=plan.provided_columns(i))
                for source in found:
                    privacy.guard(con, source)
                preset_notes += plan.apply(con, i, found)  # after the guard, before validation
                bar.step(f"checked {Path(path).name}")
                sources.extend(found)
            plan.check_used()
            sources.sort(key=lambda s: s.table.load_order)
            names = [_stored_name(s) for s in sources]
            bar.step("validating rows", "validate")
            batch = validate.validate_batch(con, sources, today, [_stored_display(s) for s in sources])
            for i, source in enumerate(sources):
                privacy.guard_rejected(con, source, batch.relation(source.table.name), i)
            bar.step("writing", "write")
            load_id = store.next_load_id(con)
            summaries, examples = _write(con, batch, sources, names, load_id)
            notes = preset_notes + unrecorded_notes(con, batch, sources)
            bar.step("building the outcome mart", "mart")
            mart_mode = counting.build_mart(con, changes)
            version = store.bump_snapshot(con, load_id)
            bar.step("committing", "commit")
            con.execute("COMMIT").fetchall()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK").fetchall()
            con.close()
            bar.close()
            raise
        bar.step("checkpoint", "checkpoint")
        con.execute("CHECKPOINT").fetchall()
        con.close()
        bar.step("publishing", "publish")
        store.publish(db_paths, version)
        bar.close()
    return LoadResult(load_id, version, db_paths.published, summaries, examples,
                      {k: round(v, 3) for k, v in bar.seconds.items()}, notes, mart_mode)


def _file_bytes(path: Path) -> int:
    """A file's size for sizing memory (0 when it cannot be read: reading it reports why)."""
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def unrecorded_notes(con, batch: validate.Batch, sources: list[Source]) -> list[str]:
    """One note per follow-up file and outcome column (registry `assessed_by`) that none of its loaded contacts
    answered: the column is missing from the file or blank in every row, so those contacts assessed none of the
    outcomes it records (a blank is not "no"; the rates read "not recorded", not 0 %)."""
    table = contract.TABLES_BY_NAME["follow_ups"]
    columns = [c for c in dict.fromkeys(c for o in registry.OUTCOMES for c in o.assessed_by)
               if c in table.column_names and c not in table.required_columns]
    if "follow_ups" not in batch.tables or not columns:
        return []
    answered = ", ".join(f"count({ident(c)})" for c in columns)
    notes = []
    for i, source in enumerate(sources):
        if source.table.name != "follow_ups":
            continue
        row = con.execute(f"SELECT count(*), {answered} FROM {batch.relation('follow_ups')} "
                          "WHERE _src = ? AND len(_issues) = 0", [i]).fetchall()[0]
        contacts_n, counts = row[0], row[1:]
        if not contacts_n:
            continue
        for column, n in zip(columns, counts, strict=True):
            if n:
                continue
            outcomes = [o for o in registry.OUTCOMES if column in o.assessed_by]
            lost = [o.label_en for o in outcomes if o.assessed_sql is None]
            partly = [o.label_en for o in outcomes if o.assessed_sql is not None]
            what = []
            if lost:
                what.append(f"{', '.join(lost)} {'is' if len(lost) == 1 else 'are'} not recorded")
            if partly:
                what.append(f"{', '.join(partly)} {'is' if len(partly) == 1 else 'are'} judged without it")
            notes.append(f"follow_ups file {_stored_display(source)} has no `{column}` answers (no such column, "
                         f"or blank in every row): {' and '.join(what)} for its {contacts_n} contact"
                         f"{'' if contacts_n == 1 else 's'}")
    return notes


def _write(con, batch: validate.Batch, sources: list[Source], names: list[str], load_id: int):
    now = dt.datetime.now().replace(microsecond=0)
    counts: dict[int, store.SourceCounts] = {}
    for source in sources:
        _forget_earlier_rejects(con, source)
    for table_name in batch.tables:
        table = contract.TABLES_BY_NAME[table_name]
        rel = batch.relation(table_name)
        _supersede(con, table, rel, load_id)
        counts.update(store.upsert(con, table, rel, load_id, names))
        for i, source in enumerate(sources):
            if source.table.name == table_name:
                _record_rejected(con, table, rel, i, source, load_id, now)
    for i, source in enumerate(sources):
        if source.malformed:
            con.executemany(
                "INSERT INTO rejected_rows VALUES (nextval('rejected_rows_seq'), ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "
                "?, ?, 'pending', NULL)",
                [(load_id, now, _stored_name(source), _stored_sheet(source), source.sha256, source.table.name,
                  m.row_number, m.reason, json.dumps({"line": m.raw_line}, ensure_ascii=False))
                 for m in source.malformed],
            )
    summaries: list[SourceSummary] = []
    for i, source in enumerate(sources):
        c = counts.get(i, store.SourceCounts())
        rejected = c.rows_rejected + len(source.malformed)
        if c.rows_loaded + rejected != source.rows_read:  # the invariant the whole loader is built around
            raise RuntimeError(f"{source.display_name}: {source.rows_read} rows read but {c.rows_loaded} loaded "
                               f"+ {rejected} rejected; nothing was stored")
        con.execute(
            "INSERT INTO load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded')",
            [load_id, now, _stored_name(source), _stored_sheet(source), source.sha256, source.file_bytes,
             source.table.name, source.source_format, source.encoding, source.delimiter, source.rows_read,
             c.rows_loaded, rejected, c.rows_inserted, c.rows_updated, c.rows_unchanged,
             ", ".join(_stored_ignored(source))],
        ).fetchall()
        summaries.append(SourceSummary(_stored_display(source), source.table.name, source.rows_read, c.rows_loaded,
                                       rejected, c.rows_inserted, c.rows_updated, c.rows_unchanged,
                                       _stored_ignored(source)))
    examples = [
        f"{name} row {row}: {reason}"
        for name, row, reason in con.execute(
            "SELECT coalesce(file_name || ' [' || sheet || ']', file_name), row_number, reason "
            "FROM rejected_rows WHERE load_id = ? ORDER BY file_name, row_number LIMIT 10", [load_id]
        ).fetchall()
    ]
    return summaries, examples


def _stored_name(source: Source) -> str:
    """The file name as stored (load log, rejected rows, `source_file`): a name holding an identifier is withheld."""
    return privacy.withheld_name(source.path.name)


def _stored_sheet(source: Source) -> str | None:
    return privacy.withheld_name(source.sheet)


def _stored_display(source: Source) -> str:
    return _stored_name(source) + (f" [{_stored_sheet(source)}]" if source.sheet else "")


def _stored_ignored(source: Source) -> list[str]:
    return [privacy.withheld_header(header, int(column.removeprefix("extra__")) + 1)
            for column, header in source.extra_columns.items()]


def _forget_earlier_rejects(con, source: Source) -> None:
    """Loading the same file again replaces the pending rejects it produced before (they are the same rows)."""
    con.execute(
        "DELETE FROM rejected_rows WHERE status = 'pending' AND file_sha256 = ? AND sheet IS NOT DISTINCT FROM ?",
        [source.sha256, source.sheet],
    ).fetchall()


def rejected_raw_sql(table: contract.Table, alias: str = "b") -> str:
    """The rejected row's values as JSON: as read when its own values were wrong (`_raw`), else its typed values
    (it failed a rule across rows, e.g. an unknown clinician, and its values parsed)."""
    typed = "to_json(struct_pack(" + ", ".join(f'"{c}" := CAST({alias}."{c}" AS VARCHAR)'
                                               for c in table.column_names) + "))::VARCHAR"
    return f"coalesce({alias}._raw, {typed})"


def _record_rejected(con, table: contract.Table, rel: str, index: int, source: Source, load_id: int,
                     now: dt.datetime) -> None:
    raw = rejected_raw_sql(table)
    record_id = "concat_ws(' ', " + ", ".join(
        f"coalesce(CAST(b.\"{k}\" AS VARCHAR), json_extract_string({raw}, '$.{k}'))" for k in table.key) + ")"
    con.execute(
        f"""INSERT INTO rejected_rows
            SELECT nextval('rejected_rows_seq'), ?, ?, ?, ?, ?, ?, b._row, {record_id},
                   b._issues[1].column,
                   array_to_string(list_transform(b._issues, lambda x: x.column || ': ' || x.message), '; '),
                   {raw}, 'pending', NULL
            FROM {rel} b
            WHERE b._src = ? AND len(b._issues) > 0 ORDER BY b._row""",
        [load_id, now, _stored_name(source), _stored_sheet(source), source.sha256, table.name, index],
    ).fetchall()


def _supersede(con, table: contract.Table, rel: str, load_id: int) -> None:
    """Earlier rejected rows whose record has now loaded are no longer pending."""
    key_text = "concat_ws(' ', " + ", ".join(f'CAST("{k}" AS VARCHAR)' for k in table.key) + ")"
    con.execute(
        f"""UPDATE rejected_rows SET status = 'superseded', resolved_load_id = ?
            WHERE status = 'pending' AND table_name = ? AND record_id IN
              (SELECT {key_text} FROM {rel} WHERE len(_issues) = 0)""",
        [load_id, table.name],
    ).fetchall()


__all__ = ["load_files", "LoadResult", "InputError"]
