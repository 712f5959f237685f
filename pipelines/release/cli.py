"""The `export` command: check the options for the kind, run the metric frame, write the CSV."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from pipelines.ingest import store
from pipelines.metrics import analysis, costs, counting, registry
from pipelines.metrics.counting import Filters
from pipelines.release import access, disclosure, export, records

BY_CHOICES = {"rates": ("clinician", "indication", "product", "area"), "costs": tuple(costs.COST_GROUPS)}
PERIOD_CHOICES = {"rates": ("month", "quarter", "year", "all"), "spc": ("week", "month", "quarter")}
NEEDS_OUTCOME = ("rates", "funnel", "spc", "cusum")


class ExportOptionError(ValueError):
    pass


def _check(args) -> None:
    kind = args.kind
    if kind == "records":
        if args.outcome or args.by or args.period:
            raise ExportOptionError("export records takes no --outcome, --by or --period (it holds every outcome)")
        if args.release:
            raise ExportOptionError("export records is pseudonymised per export already; --release is for "
                                    "aggregate exports")
        return
    if kind in NEEDS_OUTCOME:
        if not args.outcome:
            raise ExportOptionError(f"export {kind} needs --outcome KEY (one of: {', '.join(registry.OUTCOMES_BY_KEY)})")
        registry.get(args.outcome)
    elif args.outcome:
        raise ExportOptionError("export costs takes no --outcome")
    if args.by is not None:
        if kind not in BY_CHOICES:
            raise ExportOptionError(f"export {kind} takes no --by")
        if args.by not in BY_CHOICES[kind]:
            raise ExportOptionError(f"--by for {kind} must be one of: {', '.join(BY_CHOICES[kind])}")
    if args.period is not None:
        if kind not in PERIOD_CHOICES:
            raise ExportOptionError(f"export {kind} takes no --period")
        if args.period not in PERIOD_CHOICES[kind]:
            raise ExportOptionError(f"--period for {kind} must be one of: {', '.join(PERIOD_CHOICES[kind])}")
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise ExportOptionError("--from is after --to")


def protected_paths(db: Path) -> tuple[list[Path], list[Path]]:
    """(files, folders) an export must never write to: the published database and its write-ahead log, the
    loader's working file, its log and lock, the kept snapshots, the access log (and files beside it named after
    it, e.g. a key) and the role file."""
    paths = store.DbPaths(Path(db))
    log = access.log_path_for(Path(db))
    files = [paths.published, paths.work, paths.lock, log, access.default_roles_file()]
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
    _check(args)
    db = Path(args.db) if args.db else store.default_db_path()
    check_output(args.output, db)
    if not db.exists():
        raise ExportOptionError(f"no database at {db}; load exports first (python -m pipelines load ...)")
    filters = Filters(date_from=args.date_from, date_to=args.date_to, clinicians=tuple(c.upper() for c in args.clinician),
                      indications=tuple(args.indication), areas=tuple(args.area), products=tuple(args.product))
    con = duckdb.connect(str(db), read_only=True)
    try:
        if args.release:
            period = args.period or ("month" if args.kind in ("rates", "spc") else None)
            as_of = export.check_release(args.kind, filters, as_of=args.as_of, data_as_of=counting.default_as_of(con),
                                         period=period)
        else:
            as_of = args.as_of or counting.default_as_of(con)
        options: dict[str, object] = {}
        kind = args.kind
        if kind == "rates":
            period = args.period or "month"
            options = {"by": args.by or "", "period": period, "interval": "Wilson score 95 %"}
            frame = export.rates_frame(con, args.outcome, by=args.by, period=period, filters=filters, as_of=as_of)
        elif kind == "funnel":
            options = {"method": args.method, "overdispersion": args.overdispersion,
                       "flag": "outside the 99.8 % limits"}
            frame = export.funnel_frame(con, args.outcome, method=args.method, overdispersion=args.overdispersion,
                                        filters=filters, as_of=as_of)
        elif kind == "spc":
            period = args.period or "month"
            options = {"chart": args.chart, "period": period, "rules": args.rules, "freeze": args.freeze or ""}
            frame = export.spc_frame(con, args.outcome, chart=args.chart, period=period, rules=args.rules,
                                     freeze=args.freeze, filters=filters, as_of=as_of)
        elif kind == "costs":
            by = args.by or "month"
            consumables = costs.DEFAULT_CONSUMABLES_NOK if args.consumables_nok is None else args.consumables_nok
            options = {"by": by, "consumables_nok": consumables}
            frame = export.costs_frame(con, by=by, consumables_nok=consumables, filters=filters, as_of=as_of)
        elif kind == "cusum":
            options = analysis.cusum_provenance()
            frame = export.cusum_frame(con, args.outcome, filters=filters, as_of=as_of)
        else:
            frame, anonymisation = records.anonymised(con, filters=filters, as_of=as_of)
            options = {"pseudonymisation": records.PSEUDONYMISATION_NOTE, **anonymisation}
        if args.release:
            rule = disclosure.Rule(args.min_numerator, args.min_denominator)
            groups = [c for c in ("period_start", "month", args.by, "clinician") if c and c in frame.columns]
            frame = export.release(frame, kind, list(dict.fromkeys(groups)), rule, outcome_key=args.outcome,
                                   method=args.method, overdispersion=args.overdispersion, chart=args.chart,
                                   rules=args.rules, freeze=args.freeze)
            options.update(export.release_provenance(rule, filters))
        prov = export.provenance(con, kind, as_of=as_of, filters=filters, options=options,
                                 outcome_key=args.outcome, db_path=db)
    finally:
        con.close()
    path = export.write_csv(frame, args.output, prov, excel=args.excel)
    # an export from the command line is an export too: it goes into the same access log as the dashboard's
    access.append(access.log_path_for(db), access.Entry(
        user=str(prov["generated_by"]), role="command line", event="export",
        what=f"{kind} -> {path.name}" + (" (release)" if args.release else ""), filters=str(prov["filters"]),
        rows_n=len(frame), file_sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    return path, len(frame)
