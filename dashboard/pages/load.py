"""Load data: the clinic's admin uploads the month's exports, sees what each file was recognised as, maps columns
the loader does not know, and loads them with the command line's own loader (pipelines.ingest.load.load_files:
privacy guard, validation, all-or-nothing, publish). Uploads live only in a private in-memory folder while the
page works on them (pipelines/ingest/uploads.py); a refused file is removed at once. Uploads and loads go into the
access log. A second load while one runs is refused with a message (the loader's lock, not waited for)."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from dashboard import auth, data, filters, i18n
from dashboard import components as ui
from pipelines.errors import UserError
from pipelines.ingest import history, presets, uploads
from pipelines.ingest.load import load_files
from pipelines.ingest.store import LoadBusyError

PAGE_PARAMS = ()
TYPES = ["csv", "txt", "xlsx", "parquet"]
IGNORE = ""  # the mapping choice "leave this column out"
_MAP = "load_column_map"  # session state: the file's column -> contract column chosen on the page
_RESULT = "load_result"  # session state: the last load's summary, shown after the rerun that pins its snapshot
_UPLOADER = "load_uploader_n"  # session state: bumped after a load so the uploader starts empty
_LOGGED = "load_uploads_logged"  # session state: the uploads already in the access log
AUTO = ""  # the preset choice "recognise by the header"


def _log_uploads(who: auth.Viewer, files) -> None:
    logged = st.session_state.setdefault(_LOGGED, set())
    for f in files:
        digest = hashlib.sha256(f.getvalue()).hexdigest()
        if digest in logged:
            continue
        auth.log(who, "upload", f"{uploads.safe_name(f.name)} ({len(f.getvalue()):,} bytes)", file_sha256=digest)
        logged.add(digest)


def _names(values: list[str]) -> str:
    return ", ".join(values) if values else ui.tr("none")


def _preview_table(previews: list[uploads.FilePreview]) -> pd.DataFrame:
    """One short row per file (the column lists are in the expander below it)."""
    lg = ui.lang()
    return pd.DataFrame({
        ui.tr("load_col_status"): [ui.tr("load_status_refused") if p.refused else
                                   ui.tr("load_status_ready") if p.loadable else ui.tr("load_status_fix")
                                   for p in previews],
        ui.tr("col_file"): [p.name for p in previews],
        ui.tr("load_col_table"): [ui.tr(f"load_table_{p.table}") if p.table else ui.tr("load_not_recognised")
                                  for p in previews],
        ui.tr("col_rows_read"): [i18n.number(p.rows_n, lg) if p.rows_n else "–" for p in previews],
        ui.tr("load_col_matched"): [i18n.number(len(p.matched), lg) for p in previews],
        ui.tr("load_col_ignored"): [i18n.number(len(p.ignored), lg) for p in previews],
        ui.tr("load_col_missing"): [_names(p.missing_required) for p in previews],
        ui.tr("load_col_preset"): [p.preset or "–" for p in previews],
    })


def _column_lists(previews: list[uploads.FilePreview]) -> None:
    with st.expander(ui.tr("load_columns_per_file")):
        for p in previews:
            st.markdown(f"**{p.name}**")
            st.caption(f"{ui.tr('load_col_matched')}: {_names(p.matched)}  \n"
                       f"{ui.tr('load_col_ignored')}: {_names(p.ignored)}  \n"
                       f"{ui.tr('load_col_missing_optional')}: {_names(p.missing_optional)}")


def _mapping_assistant(previews: list[uploads.FilePreview]) -> None:
    """Map the columns of files the loader cannot use as they are: one choice per column of the file."""
    needing = [p for p in previews if not p.loadable and not p.refused and p.header]
    if not needing:
        return
    chosen: dict[str, str] = st.session_state.setdefault(_MAP, {})
    st.subheader(ui.tr("load_mapping"))
    st.caption(ui.tr("load_mapping_caption"))
    options = [IGNORE, *uploads.contract_columns()]
    for p in needing:
        with st.expander(p.name, expanded=True):
            cols = st.columns(3)
            for i, column in enumerate(p.header):
                current = chosen.get(column, column if column in options else IGNORE)
                picked = cols[i % 3].selectbox(column, options, index=options.index(current) if current in options
                                               else 0, key=f"load_map_{p.name}_{column}",
                                               format_func=lambda v: ui.tr("load_map_ignore") if v == IGNORE else v)
                if picked != column:
                    chosen[column] = picked
                else:
                    chosen.pop(column, None)


def _show_result(who: auth.Viewer, result: dict) -> None:
    lg = ui.lang()
    st.success(ui.tr("load_done", version=result["version"], rows=i18n.number(result["rows_loaded"], lg),
                     rejected=i18n.number(result["rows_rejected"], lg)), icon=":material/check_circle:")
    ui.table(pd.DataFrame({
        ui.tr("col_file"): [s["name"] for s in result["sources"]],
        ui.tr("load_col_table"): [ui.tr(f"load_table_{s['table']}") for s in result["sources"]],
        ui.tr("col_rows_read"): ui.nums([s["read"] for s in result["sources"]]),
        ui.tr("col_rows_loaded"): ui.nums([s["loaded"] for s in result["sources"]]),
        ui.tr("col_rows_rejected"): ui.nums([s["rejected"] for s in result["sources"]]),
    }), right=[ui.tr(k) for k in ("col_rows_read", "col_rows_loaded", "col_rows_rejected")])
    for note in result["notes"]:
        st.caption(note)
    if result["rows_rejected"]:
        rejected = data.cached(history.rejected_rows_of_load, result["load_id"])
        st.subheader(ui.tr("load_rejected"))
        shown = pd.DataFrame({
            ui.tr("col_file"): rejected["file_name"], ui.tr("load_col_row"): ui.nums(rejected["row_number"]),
            ui.tr("load_col_column"): rejected["column_name"].fillna(""), ui.tr("load_col_reason"): rejected["reason"],
        })
        ui.table(shown)
        st.download_button(ui.tr("load_rejected_download"), shown.to_csv(index=False).encode("utf-8-sig"),
                           file_name=f"rejected-load-{result['load_id']}.csv", mime="text/csv",
                           icon=":material/download:")
    if who.may_open("data_quality"):  # not the loader's: the page lists every load and rejected row
        ui.page_link("data_quality", ui.tr("load_to_data_quality"))


def _preset_choice(db) -> str:
    """The mapping preset for this load: recognised by each file's header (default), or one named."""
    try:
        infos = presets.list_presets(db)
    except presets.PresetError as exc:  # a broken saved preset blocks loads (fail closed): say which file
        st.error(str(exc), icon=":material/error:")
        st.stop()
    labels = {AUTO: ui.tr("load_preset_auto")}
    labels.update({i.name: f"{i.name} v{i.version} ({ui.tr('load_table_' + i.table)}): {i.description}"
                   for i in infos})
    return st.selectbox(ui.tr("load_preset"), list(labels), format_func=labels.get, key="load_preset",
                        help=ui.tr("load_preset_help"))


def _value_maps(path, mapping: dict[str, str], table: str) -> dict[str, dict[str, str]]:
    """The file's values the contract does not know (products, indications, ...), each mapped on the page."""
    unknown = uploads.unknown_values(path, mapping, table)
    chosen: dict[str, dict[str, str]] = {}
    if not unknown:
        return chosen
    st.markdown(f"**{ui.tr('load_values')}**")
    st.caption(ui.tr("load_values_caption"))
    for column, values in unknown.items():
        options = [IGNORE, *uploads.allowed_values(column, table)]
        cols = st.columns(3)
        for i, value in enumerate(values):
            picked = cols[i % 3].selectbox(f"{column}: {value}", options, key=f"load_value_{column}_{value}",
                                           format_func=lambda v: ui.tr("load_value_keep") if v == IGNORE else v)
            if picked:
                chosen.setdefault(column, {})[value] = picked
    return chosen


def _save_preset_form(who: auth.Viewer, db, previews: list[uploads.FilePreview], paths: dict[str, object]) -> None:
    """Save the columns mapped on the page as a preset (validated, a new version beside the database): the next
    export with the same header maps itself. Values, services and corrections can be added in the JSON."""
    mapping: dict[str, str] = st.session_state.get(_MAP, {})
    source = next((p for p in previews if p.raw_header and any(h in mapping for h in p.header)), None)
    if source is None:
        return
    table = next((t for t in ("treatments", "follow_ups", "clinicians", "product_prices")
                  if any(c in uploads.table_columns(t) for c in mapping.values())), "treatments")
    draft = uploads.preset_draft("", "", table, source.raw_header, mapping)
    with st.expander(ui.tr("load_save_preset")):
        st.caption(ui.tr("load_save_preset_caption"))
        if source.name in paths:
            draft["values"] = _value_maps(paths[source.name], {k: v for k, v in mapping.items() if v}, table)
        name = st.text_input(ui.tr("load_preset_name"), key="load_preset_name", max_chars=60)
        description = st.text_input(ui.tr("load_preset_description"), key="load_preset_description", max_chars=300)
        text = st.text_area(ui.tr("load_preset_json"), value=_json({**draft, "name": name,
                                                                       "description": description}),
                            height=260, key=f"load_preset_json_{name}_{hash(_json(draft['values']))}")
        if st.button(ui.tr("load_preset_save"), icon=":material/save:"):
            try:
                import json

                chosen = presets.validate_preset(json.loads(text), ui.tr("load_preset_json"))
                saved = presets.save_preset(chosen, db)
            except (ValueError, UserError) as exc:
                st.error(str(exc), icon=":material/error:")
                return
            auth.log(who, "upload", f"preset saved: {saved.label}")
            st.success(ui.tr("load_preset_saved", preset=saved.label), icon=":material/check_circle:")


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, indent=2)


def _run_load(who: auth.Viewer, folder, paths, previews, preset: str | None = None) -> None:
    mapping = st.session_state.get(_MAP, {})
    column_map = None
    if mapping:
        column_map = folder / "column-map.csv"
        column_map.write_text(uploads.column_map_csv(mapping), encoding="utf-8")
    bar = st.progress(0.0, text=ui.tr("load_progress_start"))

    def step(share: float, label: str) -> None:
        bar.progress(min(max(share, 0.0), 1.0), text=label)

    try:
        result = load_files(paths, data.db_path(), column_map=column_map, progress=step, wait_seconds=0,
                            preset=preset)
    except LoadBusyError:
        bar.empty()
        st.warning(ui.tr("load_busy"), icon=":material/hourglass_top:")
        return
    except UserError as exc:  # a file the loader refuses (privacy, a broken file): nothing was stored
        bar.empty()
        auth.log(who, "refused", f"load: {str(exc)[:200]}")
        st.error(ui.tr("load_refused", error=str(exc)), icon=":material/block:")
        return
    auth.log(who, "load", f"{len(paths)} file(s) -> snapshot {result.version} (load {result.load_id})"
             + (f", preset {preset}" if preset else ""), rows_n=result.rows_loaded)
    st.session_state[_RESULT] = {
        "version": result.version, "load_id": result.load_id, "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected, "notes": list(result.notes),
        "sources": [{"name": s.name, "table": s.table, "read": s.rows_read, "loaded": s.rows_loaded,
                     "rejected": s.rows_rejected} for s in result.sources]}
    st.session_state[_UPLOADER] = st.session_state.get(_UPLOADER, 0) + 1
    st.session_state.pop(_MAP, None)
    st.rerun()  # the next run pins the snapshot this load published


def main() -> None:
    filters.page(PAGE_PARAMS)
    ui.header("page_load", ui.tr("load_caption"))
    who = auth.current()
    if who.demo:
        st.info(ui.tr("load_demo_off"), icon=":material/info:")
        return
    if _RESULT in st.session_state:
        _show_result(who, st.session_state.pop(_RESULT))
    files = st.file_uploader(ui.tr("load_files"), type=TYPES, accept_multiple_files=True,
                             key=f"load_uploader_{st.session_state.get(_UPLOADER, 0)}", help=ui.tr("load_files_help"))
    if not files:
        return
    _log_uploads(who, files)
    db = data.db_path()
    preset = _preset_choice(db)
    with uploads.upload_dir() as folder:
        paths = uploads.save(folder, [(f.name, f.getvalue()) for f in files])
        previews = {path: uploads.preview(path, st.session_state.get(_MAP), db=db, preset=preset or None)
                    for path in paths}
        for path, items in previews.items():
            if any(p.refused for p in items):
                uploads.forget(path)  # nothing of a refused file is kept, not even the upload
        flat = [p for items in previews.values() for p in items]
        st.subheader(ui.tr("load_recognised"))
        ui.table(_preview_table(flat))
        _column_lists(flat)
        for p in flat:
            if p.refused:
                auth.log(who, "refused", f"upload {p.name}: privacy guard")
                st.error(ui.tr("load_file_refused", file=p.name, reason=p.problem), icon=":material/block:")
            elif p.problem:
                st.warning(f"{p.name}: {p.problem}", icon=":material/warning:")
        _mapping_assistant(flat)
        refused = [p for p in flat if p.refused]
        ready = bool(flat) and all(p.loadable for p in flat)
        if refused:
            st.caption(ui.tr("load_remove_refused"))
        elif not ready:
            st.caption(ui.tr("load_fix_first"))
        if st.session_state.get(_MAP):
            _save_preset_form(who, db, flat, {p.name: p for p in paths})
        if st.button(ui.tr("load_button"), type="primary", disabled=not ready, icon=":material/upload:"):
            _run_load(who, folder, [p for p in paths if p.exists()], flat, preset or None)


ui.run_page(main)
