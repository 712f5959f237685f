"""The `export` command: check the options for the kind, run the metric frame, write the CSV."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from pipelines import access, analysis, costs, disclosure, export, metrics, record_export, store
from pipelines import outcomes as registry
from pipelines.metrics import Filters

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


def run_export(args) -> tuple[Path, int]:
    _check(args)
    db = Path(args.db) if args.db else store.default_db_path()
    if not db.exists():
        raise ExportOptionError(f"no database at {db}; load exports first (python -m pipelines load ...)")
    filters = Filters(date_from=args.date_from, date_to=args.date_to, clinicians=tuple(c.upper() for c in args.clinician),
                      indications=tuple(args.indication), areas=tuple(args.area), products=tuple(args.product))
    con = duckdb.connect(str(db), read_only=True)
    try:
        as_of = args.as_of or metrics.default_as_of(con)
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
            options = {"pseudonymisation": "patient and session references re-keyed with HMAC-SHA256 under a "
                                           "one-off key that was not kept; no free text"}
            frame = record_export.records(con, filters=filters, as_of=as_of)
        if args.release:
            rule = disclosure.Rule(args.min_numerator, args.min_denominator)
            groups = [c for c in ("period_start", "month", args.by, "clinician") if c and c in frame.columns]
            frame = export.release(frame, kind, groups, rule)
            options["suppression"] = rule.describe()
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
