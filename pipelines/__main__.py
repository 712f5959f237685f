"""The command line: a thin layer over the library that turns errors into one-line messages and exit codes.

    python -m pipelines load FILE... [--db PATH] [--table NAME] [--map FILE]
    python -m pipelines demo [--treatments N] [--seed S] [--db PATH]
    python -m pipelines export KIND [options] -o FILE.csv      (KIND: rates, funnel, spc, costs, cusum)
    python -m pipelines docs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines import store


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
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")

    p = sub.add_parser("demo", help="generate realistic demo exports and load them through the real loader")
    p.add_argument("--treatments", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--end-date", default=None, help="last date of the demo data (default: today)")
    p.add_argument("--exports-dir", type=Path, default=None,
                   help="where to write the generated export files (default: a temp folder)")
    _db_arg(p)

    p = sub.add_parser("export", help="write a metric export as CSV (with provenance lines starting with #)")
    p.add_argument("kind", choices=["rates", "funnel", "spc", "costs", "cusum"])
    p.add_argument("-o", "--output", type=Path, required=True, help="the CSV file to write")
    _db_arg(p)
    p.add_argument("--outcome", help="outcome key (rates, funnel, spc, cusum); see docs/metrics.md")
    p.add_argument("--by", help="rates: clinician|indication|product|area; costs: month|clinician|product")
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
    p.add_argument("--chart", choices=["p", "pp"], default="p", help="spc: p-chart or Laney p'-chart")
    p.add_argument("--rules", choices=["anhoej", "mdc"], default="anhoej",
                   help="spc: Anhoej run rules or NHS Making Data Count rules")
    p.add_argument("--freeze", type=int, default=None, help="spc: centre line and limits from the first N points")
    p.add_argument("--consumables-nok", type=float, default=None,
                   help="costs: consumables per correction (default 100)")
    p.add_argument("--excel", action="store_true",
                   help="Norwegian Excel format: semicolon separator, decimal comma, UTF-8 with BOM")

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


def cmd_load(args) -> int:
    from pipelines.load import load_files

    result = load_files(args.files, args.db, table=args.table, column_map=args.column_map,
                        progress=False if args.no_progress else None)
    print_load_result(result)
    return 0


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
    print(f"total: {result.rows_read} read, {result.rows_loaded} loaded, {result.rows_rejected} rejected")
    print(f"published {result.published} (snapshot {result.version}, load {result.load_id})")


def cmd_demo(args) -> int:
    from pipelines.demo_load import run_demo

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
    from pipelines.export_cli import run_export

    path, rows = run_export(args)
    print(f"wrote {path} ({rows} rows)")
    return 0


COMMANDS = {"load": cmd_load, "demo": cmd_demo, "docs": cmd_docs, "export": cmd_export}


def _user_facing_errors() -> tuple[type[BaseException], ...]:
    from pipelines.read import InputError

    return (InputError, store.LoadBusyError, FileNotFoundError, ValueError)  # ExportOptionError is a ValueError


UserFacingErrors = _user_facing_errors()

if __name__ == "__main__":
    sys.exit(main())
