"""The `export` command: parse the arguments into ExportOptions, check them, build the export
(pipelines.release.build, the same builder as the dashboard's Export page), write the CSV and log it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from pipelines.ingest import store
from pipelines.metrics.counting import Filters
from pipelines.release import access, adverse_events, build, disclosure, export, reviews

ExportOptionError = build.ExportOptionError  # the option checks live with the builder (build.check)


def options_from_args(args) -> build.ExportOptions:
    """The command line's arguments as the builder's options (clinician codes upper-cased, as stored)."""
    filters = Filters(date_from=args.date_from, date_to=args.date_to,
                      clinicians=tuple(c.upper() for c in args.clinician), indications=tuple(args.indication),
                      areas=tuple(args.area), products=tuple(args.product))
    return build.ExportOptions(
        outcome=args.outcome, by=args.by, lot=getattr(args, "lot", None), period=args.period, method=args.method, overdispersion=args.overdispersion,
        chart=args.chart, rules=args.rules, freeze=args.freeze, consumables_nok=args.consumables_nok,
        min_completeness=build.ExportOptions.min_completeness if getattr(args, "min_completeness", None) is None
        else args.min_completeness, filters=filters,
        as_of=args.as_of, release=disclosure.Rule(args.min_numerator, args.min_denominator) if args.release else None,
        excel=args.excel, lang=export_lang(args), database=Path(args.db) if args.db else store.default_db_path())


def export_lang(args) -> str:
    """The file's language: --lang, else Norwegian for --excel (a file for Norwegian Excel: Norwegian headers,
    provenance, suppression marker and ja / nei) and English otherwise (the column names scripts read)."""
    lang = getattr(args, "lang", None)
    return lang or ("nb" if args.excel else "en")


def protected_paths(db: Path) -> tuple[list[Path], list[Path]]:
    """(files, folders) an export must never write to: the published database and its write-ahead log, the
    loader's working file, its log and lock, the kept snapshots, the access log (and files beside it named after
    it, e.g. a key), the role file, the signal review file and the adverse-event report file."""
    paths = store.DbPaths(Path(db))
    log = access.log_path_for(Path(db))
    files = [paths.published, paths.work, paths.lock, log, access.default_roles_file(),
             reviews.reviews_path_for(Path(db)), adverse_events.status_path_for(Path(db))]
    files += [f.with_name(f.name + ".wal") for f in (paths.published, paths.work)]
    return files, [paths.snapshots]


def check_output(output: Path, db: Path) -> None:
    """Refuse an output file that is (or links to) one of the clinic's own files: `-o data/clinic.duckdb` would
    replace the database with a CSV. Paths are compared after resolving symbolic links and `..`, and an existing
    file also by its inode (a hard link)."""
    out = Path(output)
    target = out.resolve()
    files, folders = protected_paths(db)
    same_inode = None
    if out.exists():
        st = out.stat()
        same_inode = (st.st_dev, st.st_ino)
    for f in files:
        resolved = f.resolve()
        hit = target == resolved
        if not hit and same_inode is not None and f.exists():
            fst = f.stat()
            hit = (fst.st_dev, fst.st_ino) == same_inode
        if not hit and f == access.log_path_for(Path(db)) and target.parent == resolved.parent \
                and target.name.startswith(resolved.name + "."):
            hit = True  # the access log's companions (its key, lock or rotated parts)
        if hit:
            raise ExportOptionError(f"-o {output} is the clinic's own file {f} (the database, its working copy or "
                                    "log, the access log or the role file); write the export somewhere else, e.g. "
                                    "-o exports/name.csv")
    for folder in folders:
        resolved = folder.resolve()
        if target == resolved or resolved in target.parents:
            raise ExportOptionError(f"-o {output} is inside the kept snapshots ({folder}); write the export "
                                    "somewhere else, e.g. -o exports/name.csv")
    if target.is_dir():
        raise ExportOptionError(f"-o {output} is a folder; give a file name, e.g. -o {Path(output) / 'export.csv'}")


def run_export(args) -> tuple[Path, int]:
    options = options_from_args(args)
    kind = args.kind
    build.check(kind, options)
    db = options.database
    check_output(args.output, db)
    if not db.exists():
        raise ExportOptionError(f"no database at {db}; load exports first (python -m pipelines load ...)")
    con = duckdb.connect(str(db), read_only=True)
    try:
        frame, prov = build.build(con, kind, options)
    finally:
        con.close()
    path = export.write_csv(frame, args.output, prov, excel=options.excel, lang=options.lang)
    # an export from the command line is an export too: it goes into the same access log as the dashboard's
    what = f"{kind} -> {path.name}" + (" (release)" if options.release else "")
    if kind == "recall":  # a case list: which lot, which products, how many sessions
        what = f"recall (case list) lot {prov['lot']} -> {path.name}"
    if kind == "adverse-events":  # a case list: the reportable reactions with their reporting status
        what = f"adverse-events (case list) -> {path.name}"
    access.append(access.log_path_for(db), access.Entry(
        user=str(prov["generated_by"]), role="command line", event="export",
        what=what, filters=str(prov["filters"]),
        rows_n=len(frame), file_sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    return path, len(frame)
