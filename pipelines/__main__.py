"""The command line: a thin layer over the library that turns errors into one-line messages and exit codes.

    python -m pipelines load FILE... [--db PATH] [--table NAME] [--map FILE] [--preset NAME] [--no-alerts]
    python -m pipelines retry [--db PATH] [--no-alerts]
    python -m pipelines snapshots [--db PATH]
    python -m pipelines restore VERSION [--db PATH]
    python -m pipelines demo [--treatments N] [--seed S] [--db PATH]
    python -m pipelines export KIND [options] -o FILE.csv      (KIND: rates, funnel, oe, spc, costs, cusum, signals, records,
                                                                recall, adverse-events)
    python -m pipelines report --month YYYY-MM [--lang nb|en] [--release] -o FILE.pdf|FILE.html
    python -m pipelines docs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from pipelines.errors import UserError
from pipelines.ingest import store


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help="published database (default: $CLINIC_DB, else data/clinic.duckdb)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("load", help="validate and load export files (CSV, .xlsx, Parquet), then publish")
    p.add_argument("files", nargs="+", type=Path)
    _db_arg(p)
    p.add_argument("--table", choices=["clinicians", "product_prices", "treatments", "follow_ups"],
                   help="the table the files hold (default: recognised from the header)")
    p.add_argument("--map", type=Path, default=None, dest="column_map",
                   help="CSV with source_column,column mapping your export headers to ours")
    p.add_argument("--preset", default=None,
                   help="mapping preset for the files (data/presets/, or saved beside the database), NAME or "
                        "NAME:vN; default: the preset whose header the file has, if any")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.add_argument("--no-alerts", action="store_true",
                   help="send no e-mail about new signals after this load (see pipelines/release/alerts.py)")

    p = sub.add_parser("retry", help="retry pending rejected rows after the missing reference data has been loaded")
    _db_arg(p)
    p.add_argument("--no-alerts", action="store_true", help="send no e-mail about new signals after this retry")

    p = sub.add_parser("snapshots", help="list the kept snapshots (version, time, rows per table)")
    _db_arg(p)

    p = sub.add_parser("restore", help="republish a kept snapshot; the next load continues from it")
    p.add_argument("version", type=int, help="snapshot version (see `python -m pipelines snapshots`)")
    _db_arg(p)

    p = sub.add_parser("demo", help="generate realistic demo exports and load them through the real loader")
    p.add_argument("--treatments", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--end-date", default=None, help="last date of the demo data (default: today)")
    p.add_argument("--exports-dir", type=Path, default=None,
                   help="where to write the generated export files (default: a temp folder)")
    _db_arg(p)

    p = sub.add_parser("export", help="write a metric export as CSV (with provenance lines starting with #)")
    p.add_argument("kind", choices=["rates", "funnel", "oe", "spc", "costs", "cusum", "signals", "records", "recall",
                                    "adverse-events"])
    p.add_argument("-o", "--output", type=Path, required=True, help="the CSV file to write")
    _db_arg(p)
    p.add_argument("--outcome", help="outcome key (rates, funnel, oe, spc, cusum); see docs/metrics.md")
    p.add_argument("--by", help="rates: clinician|indication|product|area|lot|dilution|dose_band; funnel: "
                                "clinician|lot|product (default clinician); costs: month|clinician|product")
    p.add_argument("--lot", help="recall: the lot number; every session with it is listed (a case list)")
    p.add_argument("--period", help="rates: month|quarter|year|all (default month); spc: month|quarter|week")
    p.add_argument("--from", dest="date_from", type=_date, help="first treatment date counted (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=_date, help="last treatment date counted (YYYY-MM-DD)")
    p.add_argument("--as-of", dest="as_of", type=_date,
                   help="count only windows closed by this date (default: the newest date in the data)")
    p.add_argument("--clinician", action="append", default=[], help="only these clinicians (repeatable)")
    p.add_argument("--indication", action="append", default=[], help="only these indications (repeatable)")
    p.add_argument("--product", action="append", default=[], help="only these products (repeatable)")
    p.add_argument("--area", action="append", default=[], help="only sessions treating these areas (repeatable)")
    p.add_argument("--method", choices=["arcsine", "exact", "normal"], default="arcsine", help="funnel limits")
    p.add_argument("--overdispersion", choices=["auto", "on", "off"], default="auto", help="funnel adjustment")
    p.add_argument("--chart", choices=["p", "pp", "g"], default="p",
                   help="spc: p-chart or Laney p'-chart by period, or g-chart of the sessions between events (one "
                        "row per event; for rare outcomes)")
    p.add_argument("--rules", choices=["anhoej", "mdc"], default="anhoej",
                   help="spc: Anhoej run rules or NHS Making Data Count rules")
    p.add_argument("--freeze", type=int, default=None, help="spc: centre line and limits from the first N points")
    p.add_argument("--consumables-nok", type=float, default=None,
                   help="costs: consumables per correction (default 100)")
    p.add_argument("--min-completeness", type=float, default=None, metavar="SHARE",
                   help="rates, funnel, spc: follow-up completeness below this share (0 to 1) is marked "
                        "is_low_completeness, the rate least reliable there (default 0.6)")
    p.add_argument("--excel", action="store_true",
                   help="Norwegian Excel format: semicolon separator, a decimal comma in every number, yes/no as "
                        "ja/nei, UTF-8 with BOM; Norwegian headers and provenance unless --lang en")
    p.add_argument("--lang", choices=["en", "nb"], default=None,
                   help="language of the headers, provenance lines, suppression marker and yes/no (default: nb "
                        "with --excel, else en: the column names of docs/metrics.md)")
    p.add_argument("--release", action="store_true",
                   help="for use outside the clinic: aggregate columns only, small cells suppressed and marked")
    p.add_argument("--min-numerator", type=int, default=5,
                   help="with --release: numerators 1 to N-1 are suppressed (default 5)")
    p.add_argument("--min-denominator", type=int, default=10,
                   help="with --release: denominators under N are suppressed (default 10)")

    p = sub.add_parser("report", help="write the monthly quality report (PDF or HTML) for the quality meeting")
    p.add_argument("--month", required=True, help="the reporting month, YYYY-MM")
    p.add_argument("--lang", choices=["nb", "en"], default="nb", help="language of the report (default nb)")
    p.add_argument("--release", action="store_true",
                   help="for use outside the clinic (e-mail): suppressed, rounded figures only; no signals")
    p.add_argument("--min-numerator", type=int, default=5,
                   help="with --release: numerators 1 to N-1 are suppressed (default 5)")
    p.add_argument("--min-denominator", type=int, default=10,
                   help="with --release: denominators under N are suppressed (default 10)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the file to write: .pdf or .html")
    _db_arg(p)

    sub.add_parser("docs", help="regenerate the generated documents in docs/ from the code")
    return parser


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date; write YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        return 130
    except UserFacingErrors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DatabaseErrors as exc:  # e.g. a damaged working database: say what to do, not a traceback
        print(f"error: database error ({str(exc).splitlines()[0][:300]}); nothing was published. If the working "
              "database is damaged, put a kept snapshot back with `python -m pipelines restore VERSION` (list them "
              "with `python -m pipelines snapshots`)", file=sys.stderr)
        return 1


def cmd_load(args) -> int:
    from pipelines.ingest.load import load_files

    result = load_files(args.files, args.db, table=args.table, column_map=args.column_map,
                        progress=False if args.no_progress else None, preset=args.preset)
    print_load_result(result)
    if not args.no_alerts:
        print_alert(result.published)
    return 0


def print_alert(published) -> None:
    """After a publish: e-mail new concerning signals when alerts are configured (never fails the load)."""
    from pipelines.release.alerts import alert_after_load

    try:
        line = alert_after_load(published).line()
    except Exception as exc:  # noqa: BLE001 - the load has published; an alert problem must not turn it into a failure
        line = f"alert: not checked ({type(exc).__name__}: {exc}); it is tried again with the next load"
    if line:
        print(line)


def print_load_result(result) -> None:
    for s in result.sources:
        extra = f"; ignored columns: {', '.join(s.ignored_columns)}" if s.ignored_columns else ""
        print(f"{s.name} ({s.table}): {s.rows_read} read, {s.rows_loaded} loaded, {s.rows_rejected} rejected "
              f"[new {s.rows_inserted}, updated {s.rows_updated}, unchanged {s.rows_unchanged}]{extra}")
    for line in result.rejected_examples:
        print(f"  rejected: {line}")
    if result.rows_rejected > len(result.rejected_examples):
        print(f"  ... {result.rows_rejected - len(result.rejected_examples)} more in the rejected_rows table "
              "(dashboard: Data quality)")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"total: {result.rows_read} read, {result.rows_loaded} loaded, {result.rows_rejected} rejected")
    print(f"published {result.published} (snapshot {result.version}, load {result.load_id})")


def cmd_retry(args) -> int:
    from pipelines.ingest.retry import retry_pending

    result = retry_pending(args.db)
    for s in result.sources:
        print(f"{s.name} ({s.table}): {s.rows_retried} retried, {s.rows_loaded} loaded, "
              f"{s.rows_still_pending} still pending [new {s.rows_inserted}, updated {s.rows_updated}, "
              f"unchanged {s.rows_unchanged}]")
    for line in result.still_pending_examples:
        print(f"  still pending: {line}")
    if result.rows_still_pending > len(result.still_pending_examples):
        print(f"  ... {result.rows_still_pending - len(result.still_pending_examples)} more in the rejected_rows "
              "table (dashboard: Data quality)")
    if result.waiting_behind_newer:
        print(f"{result.waiting_behind_newer} older rejected version(s) of records were not retried: a newer export "
              "of the same record was rejected too; fix that one")
    if result.malformed:
        shown = ", ".join(result.malformed[:5]) + (", ..." if len(result.malformed) > 5 else "")
        print(f"{len(result.malformed)} malformed row(s) cannot be retried (the line could not be split into the "
              f"header's columns); correct them in the file and load it again: {shown}")
    if not result.sources:
        print("no pending rejected rows to retry")
    print(f"total: {result.rows_retried} retried, {result.rows_loaded} loaded, "
          f"{result.rows_still_pending} still pending")
    if result.version is None:
        print("nothing changed; nothing was published")
    else:
        print(f"published {result.published} (snapshot {result.version}, load {result.load_id})")
        if not args.no_alerts:
            print_alert(result.published)
    return 0


def cmd_snapshots(args) -> int:
    from pipelines.contract import TABLES
    from pipelines.ingest.recovery import list_versions

    entries = list_versions(args.db)
    if not entries:
        print(f"no snapshots kept for {store.DbPaths(args.db or store.default_db_path()).published}")
        return 0
    names = [t.name for t in TABLES]
    print(f"{'version':>7}  {'published at':<19}  " + "  ".join(f"{n:>14}" for n in names) + "  pending rejected")
    for e in reversed(entries):
        when = e.published_at.strftime("%Y-%m-%d %H:%M:%S") if e.published_at else "-"
        print(f"{e.version:>7}  {when:<19}  " + "  ".join(f"{e.rows.get(n, 0):>14}" for n in names)
              + f"  {e.pending_rejected:>16}" + ("  (published)" if e.is_published else ""))
    return 0


def cmd_restore(args) -> int:
    from pipelines.ingest.recovery import restore

    entry = restore(args.version, args.db)
    rows = ", ".join(f"{n} {c}" for n, c in entry.rows.items())
    print(f"restored snapshot {args.version} as snapshot {entry.version}: {rows}")
    print(f"published {entry.path}; the next load continues from it")
    return 0


def cmd_demo(args) -> int:
    from pipelines.demo.build import run_demo

    result = run_demo(db=args.db, n_treatments=args.treatments, seed=args.seed, end_date=args.end_date,
                      exports_dir=args.exports_dir)
    print_load_result(result)
    return 0


def cmd_docs(args) -> int:
    from pipelines.docs import write_docs

    for path in write_docs():
        print(f"wrote {path}")
    return 0


def cmd_export(args) -> int:
    from pipelines.release.cli import run_export

    path, rows = run_export(args)
    print(f"wrote {path} ({rows} rows)")
    return 0


def cmd_report(args) -> int:
    from dashboard.report import run_command  # drawn with the dashboard's charts and texts; never imports streamlit

    path = run_command(args)
    print(f"wrote {path}")
    return 0


COMMANDS = {"report": cmd_report, "load": cmd_load, "retry": cmd_retry, "snapshots": cmd_snapshots, "restore": cmd_restore,
            "demo": cmd_demo, "docs": cmd_docs, "export": cmd_export}


UserFacingErrors = (UserError,)  # a message for the user; any other exception is a bug and ends in a traceback
DatabaseErrors = (duckdb.Error,)

if __name__ == "__main__":
    sys.exit(main())
