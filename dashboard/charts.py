"""Plotly figures for the dashboard: pure functions, DataFrame in, `go.Figure` out (no streamlit import). They draw
what the library computed: every interval and limit comes as columns of the frame (pipelines/metrics/analysis.py,
counting.py), never from pipelines.stats here. Of the dashboard only dashboard/i18n.py is imported
(tests/test_architecture.py).

Conventions for every chart:
- rates are proportions (0-1) in the frames and drawn in percent;
- hover shows the numerator / denominator, the interval, and whatever else explains the number (completeness,
  limits, the rule that fired); texts are built in Python per language (dashboard/i18n.py);
- a rate over fewer than SMALL_N sessions is drawn hollow; a cell hidden for the viewer's role (`is_hidden`,
  pipelines/metrics/small_cells.py) is not drawn and sends no figure to the browser (a control chart names its period
  and says it is hidden);
- the published reference range is a shaded band (a dotted line when it is a single value);
- colours are the Okabe-Ito colour-blind-safe palette: grey for common cause / inside the limits, vermillion for
  concerning, blue for improving; signals also differ in marker shape, so colour is never the only cue.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import i18n
from dashboard.i18n import t

SMALL_N = 20

# Okabe & Ito (2008)
BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#5F6B73"
LIGHT_GREY = "#AEB6BD"
REPORT_FILL = "rgba(0, 114, 178, 0.10)"  # the reporting period's band (BLUE, light)
CONCERNING = VERMILLION
IMPROVING = BLUE
COMMON = GREY
REFERENCE_FILL = "rgba(0, 158, 115, 0.13)"
REFERENCE_LINE = "rgba(0, 158, 115, 0.85)"
SERIES = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, BLACK, YELLOW)
READING_COLOURS = {"common_cause": COMMON, "special_cause_concerning": CONCERNING,
                   "special_cause_improving": IMPROVING, "": LIGHT_GREY}
FONT = "Source Sans, Source Sans Pro, Helvetica Neue, Arial, sans-serif"


# --------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _p(x) -> float | None:
    """Proportion -> percent (None for missing)."""
    return 100.0 * float(x) if _finite(x) else None


def _pcts(values) -> list[float | None]:
    return [_p(v) for v in values]


def _legend_rows(fig: go.Figure, width: int = 900) -> int:
    """Rough number of rows a horizontal legend needs (about 7 px per character plus the symbol)."""
    items = [tr.name or "" for tr in fig.data if tr.showlegend is not False and tr.name]
    seen: list[str] = []
    for name in items:
        if name not in seen:
            seen.append(name)
    if not seen:
        return 0
    rows, used = 1, 0
    for name in seen:
        w = 50 + 7 * len(name)
        if used and used + w > width:
            rows, used = rows + 1, 0
        used += w
    return rows


def _layout(fig: go.Figure, *, title: str, subtitle: str | None = None, lang: str, height: int = 420,
            y_title: str | None = None, x_title: str | None = None, legend: bool = True) -> go.Figure:
    rows = _legend_rows(fig) if legend else 0
    bottom = 36 + (26 if x_title else 0) + 24 * rows
    fig.update_layout(
        title=dict(text=f"<b>{title}</b>", x=0, xanchor="left", y=0.98, yanchor="top",
                   font=dict(size=16, color="#1f2328"),
                   subtitle=dict(text=subtitle or "", font=dict(size=12, color="#57606a"))),
        template="plotly_white",
        font=dict(family=FONT, size=13, color="#1f2328"),
        separators=i18n.plotly_separators(lang),
        height=height + 24 * max(rows - 1, 0),
        margin=dict(l=10, r=20, t=84 if subtitle else 56, b=bottom),
        hoverlabel=dict(bgcolor="white", font=dict(family=FONT, size=13), align="left"),
        showlegend=legend,
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left",
                    font=dict(size=12), itemclick=False, itemdoubleclick=False, traceorder="normal"),
        hovermode="closest",
    )
    if y_title is not None:
        fig.update_yaxes(title_text=y_title, title_font=dict(size=13))
    if x_title is not None:
        fig.update_xaxes(title_text=x_title, title_font=dict(size=13), title_standoff=8)
    fig.update_xaxes(showline=True, linecolor="#d0d7de", gridcolor="#eef1f4", zeroline=False, automargin=True)
    fig.update_yaxes(showline=False, gridcolor="#eef1f4", zeroline=False, automargin=True)
    return fig


def _reference_shapes(fig: go.Figure, reference: tuple[float | None, float | None] | None, lang: str, *,
                      axis: str = "y", row: int | None = None, col: int | None = None,
                      show_legend: bool = True) -> None:
    """Published reference range (percent) as a band across the plot; a dotted line for a single value."""
    if not reference:
        return
    low, high = reference
    if low is None and high is None:
        return
    kw = {"row": row, "col": col} if row else {}
    name = t("reference_band", lang)
    if low is not None and high is not None and high > low:
        if axis == "y":
            fig.add_hrect(y0=low, y1=high, fillcolor=REFERENCE_FILL, line_width=0, layer="below", **kw)
        else:
            fig.add_vrect(x0=low, x1=high, fillcolor=REFERENCE_FILL, line_width=0, layer="below", **kw)
        legend_marker = dict(symbol="square", size=12, color=REFERENCE_FILL, line=dict(color=REFERENCE_LINE, width=1))
    else:
        value = high if low is None or (high is not None and high == low) else low
        if low is None and high is not None:  # "below x": band from 0
            if axis == "y":
                fig.add_hrect(y0=0, y1=high, fillcolor=REFERENCE_FILL, line_width=0, layer="below", **kw)
            else:
                fig.add_vrect(x0=0, x1=high, fillcolor=REFERENCE_FILL, line_width=0, layer="below", **kw)
            legend_marker = dict(symbol="square", size=12, color=REFERENCE_FILL,
                                 line=dict(color=REFERENCE_LINE, width=1))
        else:
            if axis == "y":
                fig.add_hline(y=value, line=dict(color=REFERENCE_LINE, dash="dot", width=2), layer="below", **kw)
            else:
                fig.add_vline(x=value, line=dict(color=REFERENCE_LINE, dash="dot", width=2), layer="below", **kw)
            legend_marker = dict(symbol="line-ew-open", size=14, color=REFERENCE_LINE, line=dict(width=2))
    if show_legend:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=legend_marker, name=name,
                                 hoverinfo="skip", showlegend=True), **kw)


def _hidden(frame: pd.DataFrame | None) -> np.ndarray:
    """The `is_hidden` flags of a frame's rows (all False when the frame has none)."""
    if frame is None or "is_hidden" not in frame:
        return np.zeros(0 if frame is None else len(frame), dtype=bool)
    return frame["is_hidden"].fillna(False).to_numpy(dtype=bool)


def _visible(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of a frame that are not hidden for the viewer's role."""
    if frame is None or "is_hidden" not in frame:
        return frame
    return frame[~_hidden(frame)]


def _hidden_line(lang: str) -> str:
    from pipelines.metrics.small_cells import MIN_SESSIONS

    return i18n.tn("hover_cell_hidden", MIN_SESSIONS, lang)


def _hover(lines: Sequence[str | None]) -> str:
    return "<br>".join(line for line in lines if line)


def _rate_line(rate, num, den, lang: str) -> str:
    return t("hover_rate", lang, rate=i18n.pct(rate, lang), num=i18n.number(num, lang),
             den=i18n.number(den, lang))


def _ci_line(low, high, lang: str) -> str | None:
    if not (_finite(low) and _finite(high)):
        return None
    return t("hover_ci", lang, low=i18n.pct(low, lang), high=i18n.pct(high, lang))


def _small_line(den, lang: str, small_n: int) -> str | None:
    if _finite(den) and float(den) < small_n:
        return "⚠ " + i18n.tn("small_n", small_n, lang)
    return None


def _symbols(den, small_n: int, base: str = "circle") -> list[str]:
    return [f"{base}-open" if (_finite(d) and float(d) < small_n) else base for d in den]


def reference_tuple(reference) -> tuple[float | None, float | None] | None:
    """(low, high) in percent from a registry PublishedRange (or None)."""
    if reference is None:
        return None
    return (reference.low_pct, reference.high_pct)


def empty_figure(message: str, *, lang: str, title: str = "", height: int = 260) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color=GREY))
    _layout(fig, title=title, lang=lang, height=height, legend=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# --------------------------------------------------------------------------------------------------------------
# p-chart
# --------------------------------------------------------------------------------------------------------------


def _spc_rules_text(row, rules: str, lang: str) -> str:
    """The rule(s) that flag this point, as the chart marks it."""
    if rules == "mdc":
        names = [n for n in str(row.get("mdc_rule") or "").split("; ") if n]
        return "; ".join(t(f"rule_mdc_{n}", lang, value=i18n.pct(row.get("rate"), lang)).split(": ", 1)[-1]
                         for n in names)
    if bool(row.get("sigma_signal")):
        limit = row.get("ucl") if row.get("rate", 0) > row.get("ucl", 1) else row.get("lcl")
        return t("rule_sigma", lang, value=i18n.pct(row.get("rate"), lang), limit=i18n.pct(limit, lang))
    return ""


def _low_line(r: Mapping, lang: str) -> str:
    """The hover line of a period or clinician with low follow-up completeness."""
    return "⚠ " + t("hover_low_completeness", lang, pct=i18n.pct(r.get("followup_completeness"), lang, 0))


def _low_legend(min_completeness: float | None, lang: str) -> str:
    """The legend entry of a low-completeness marker, naming the threshold when known."""
    if min_completeness is None:
        return t("legend_low_completeness_plain", lang)
    return t("legend_low_completeness", lang, pct=i18n.pct(min_completeness, lang, 0))


def _centre_line(x, y, runs: bool, name: str, *, first: bool) -> go.Scatter:
    """A chart part's centre line: solid black, or dashed in the concerning colour when its Anhoej run rules fired
    (qicharts2's convention); in the legend once."""
    return go.Scatter(x=x, y=y, mode="lines", line=dict(color=CONCERNING if runs else BLACK, width=1.5,
                                                        dash="dash" if runs else "solid"),
                      name=name, legendgroup="cl", showlegend=first, hoverinfo="skip")


def _runs_note(first: Mapping, lang: str) -> str:
    """The note of a chart part whose Anhoej run rules fired (its first row holds the part's run counts): which
    rule, with the count and its limit."""
    parts = []
    if pd.notna(first["longest_run"]) and first["longest_run"] > first["longest_run_max"]:
        parts.append(t("runs_longest_note", lang, run=int(first["longest_run"]), limit=int(first["longest_run_max"])))
    if pd.notna(first["crossings"]) and first["crossings"] < first["crossings_min"]:
        parts.append(i18n.tn("runs_crossings_note", int(first["crossings"]), lang, limit=int(first["crossings_min"])))
    return t("spc_runs_note", lang, text="; ".join(parts))


def spc_chart(
    frame: pd.DataFrame,
    *,
    outcome_label: str,
    lang: str,
    chart: str = "p",
    rules: str = "anhoej",
    period: str = "month",
    reference: tuple[float | None, float | None] | None = None,
    reference_text: str | None = None,
    higher_is_better: bool = False,
    highlight: dt.date | None = None,
    small_n: int = SMALL_N,
    height: int = 440,
    min_completeness: float | None = None,
    report: tuple[dt.date, dt.date] | None = None,
    report_label: str | None = None,
    changes: pd.DataFrame | None = None,
    target: float | None = None,
    assurance: str = "",
    changes_by_month: bool = False,
) -> go.Figure:
    """p / p' control chart of an analysis.spc frame: points, centre line, 3-sigma limits (2-sigma with the MDC
    rules), flagged points with the rule named in hover, Anhoej run signal on the centre line, reference band.

    A period not closed (`period_closed` False: some windows still open, never judged) is drawn apart from the
    line: a hollow marker labelled "incomplete", in its own legend entry, without limits. A period with low
    follow-up completeness (`is_low_completeness`) is a square (a diamond with a cross when also flagged) with a
    hover line saying its rate is least reliable; `min_completeness` names the threshold in the legend.
    `changes` (pipelines.metrics.changes.concerning): dated process-change annotations (add_process_changes;
    `changes_by_month` for viewers who see no day);
    `target` (a proportion): the clinic's target line (add_target), its legend naming the `assurance` reading
    (pipelines.metrics.targets.assurance)."""
    chart_name = t("chart_pp" if chart == "pp" else "chart_p", lang)
    title = t("spc_title", lang, outcome=outcome_label, chart=chart_name, period=t(f"by_{period}", lang)
              if f"by_{period}" in i18n.TEXTS else period)
    subtitle = i18n.tn("spc_subtitle", small_n, lang, rules=t(f"spc_rules_{rules}", lang))
    if frame is None or frame.empty or frame["rate"].notna().sum() == 0:
        return empty_figure(t("spc_empty", lang), lang=lang, title=title)
    f = frame.reset_index(drop=True)
    x = pd.to_datetime(f["period_start"])
    fig = go.Figure()
    _reference_shapes(fig, reference, lang)
    _report_band(fig, report, report_label, lang)

    # limits (step lines centred on the points: the limits depend on each period's denominator)
    fig.add_trace(go.Scatter(x=x, y=_pcts(f["ucl"]), mode="lines", line=dict(color=LIGHT_GREY, width=1.5,
                             shape="hvh"), name=t("legend_limits", lang), legendgroup="limits", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=_pcts(f["lcl"]), mode="lines", line=dict(color=LIGHT_GREY, width=1.5,
                             shape="hvh"), name=t("legend_limits", lang), legendgroup="limits", showlegend=False,
                             hoverinfo="skip"))
    if rules == "mdc" and "ucl_95" in f:
        for col, show in (("ucl_95", True), ("lcl_95", False)):
            fig.add_trace(go.Scatter(x=x, y=_pcts(f[col]), mode="lines",
                                     line=dict(color=LIGHT_GREY, width=1, dash="dot", shape="hvh"),
                                     name=t("legend_limits_2", lang), legendgroup="limits2", showlegend=show,
                                     hoverinfo="skip"))
    # centre line, per part; dashed and coloured when Anhoej's run rules fire (qicharts2's convention)
    runs_notes = []
    for i, (_part, idx) in enumerate(f.groupby("part", sort=True).groups.items()):
        sub = f.loc[idx]
        runs = bool(sub["runs_signal"].iloc[0]) and rules == "anhoej"
        fig.add_trace(_centre_line(pd.to_datetime(sub["period_start"]), _pcts(sub["cl"]), runs,
                                   t("legend_centre", lang), first=i == 0))
        if runs:
            runs_notes.append(_runs_note(sub.iloc[0], lang))

    # the series; periods not closed are drawn apart (below) and never judged
    closed = (f["period_closed"].fillna(True).to_numpy(dtype=bool) if "period_closed" in f
              else np.ones(len(f), dtype=bool))
    low = (f["is_low_completeness"].fillna(False).to_numpy(dtype=bool) if "is_low_completeness" in f
           else np.zeros(len(f), dtype=bool))
    signal_texts = [_spc_rules_text(r, rules, lang) if c else "" for r, c in zip(f.to_dict("records"), closed,
                                                                                 strict=True)]
    flagged = np.array([bool(s) for s in signal_texts])
    if rules == "mdc":
        directions = f["direction"].fillna("").astype(str).to_numpy()
    else:
        directions = np.where(f["rate"] > f["ucl"], "high", np.where(f["rate"] < f["lcl"], "low", ""))
    concerning = np.array([(d == "high") != higher_is_better if d else False for d in directions])
    hover = []
    for r, sig, c, lo in zip(f.to_dict("records"), signal_texts, closed, low, strict=True):
        if r.get("is_hidden"):
            hover.append(_hover([f"<b>{i18n.period_label(r['period_start'], period, lang)}</b>",
                                 _hidden_line(lang)]))
            continue
        lines = [f"<b>{i18n.period_label(r['period_start'], period, lang)}</b>",
                 _rate_line(r["rate"], r["numerator_n"], r["denominator_n"], lang) if _finite(r["rate"]) else
                 i18n.tn("hover_awaiting", int(r.get("awaiting_n") or 0), lang),
                 t("hover_limits", lang, low=i18n.pct(r["lcl"], lang), high=i18n.pct(r["ucl"], lang),
                   cl=i18n.pct(r["cl"], lang)) if _finite(r["ucl"]) else None,
                 t("hover_completeness", lang, pct=i18n.pct(r.get("followup_completeness"), lang),
                   num=i18n.number(r.get("followed_up_n"), lang), den=i18n.number(r.get("eligible_n"), lang))
                 if _finite(r.get("followup_completeness")) else None,
                 i18n.tn("hover_awaiting", r.get("awaiting_n"), lang)
                 if _finite(r.get("awaiting_n")) and r.get("awaiting_n") > 0 else None,
                 _small_line(r["denominator_n"], lang, small_n),
                 _low_line(r, lang) if lo else None,
                 t("hover_reference", lang, text=reference_text) if reference_text else None,
                 f"<b>{t('hover_signal', lang, rules=sig)}</b>" if sig else None,
                 t("hover_incomplete", lang) if not c else None]
        hover.append(_hover(lines))
    y = _pcts(f["rate"])
    symbols = _symbols(f["denominator_n"], small_n)
    colours = [CONCERNING if (fl and c) else IMPROVING if fl else GREY for fl, c in zip(flagged, concerning,
                                                                                      strict=True)]
    symbols = [("diamond" + ("-x" if lo else "") + ("-open" if s.endswith("-open") else "")) if fl
               else ("square" + ("-open" if s.endswith("-open") else "")) if lo else s
               for s, fl, lo in zip(symbols, flagged, low, strict=True)]
    sizes = [12 if fl else 8 for fl in flagged]
    y_closed = [v if c else None for v, c in zip(y, closed, strict=True)]
    fig.add_trace(go.Scatter(
        x=x, y=y_closed, mode="lines+markers", name=t("legend_rate", lang),
        line=dict(color=GREY, width=1.5),
        marker=dict(color=colours, symbol=symbols, size=sizes, line=dict(width=1.5, color=colours)),
        customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>",
        connectgaps=False,
    ))
    open_ = ~closed & np.array([v is not None for v in y], dtype=bool)
    if open_.any():  # apart from the line: hollow, labelled, no limits, no rule
        fig.add_trace(go.Scatter(
            x=x[open_], y=[v for v, o in zip(y, open_, strict=True) if o], mode="markers+text",
            name=t("legend_incomplete", lang), text=[t("spc_incomplete_label", lang)] * int(open_.sum()),
            textposition="top left", textfont=dict(size=11, color=GREY),  # inside the date axis
            marker=dict(symbol="circle-open", size=10, color=GREY, line=dict(width=1.5, color=GREY)),
            customdata=np.array([h for h, o in zip(hover, open_, strict=True) if o], dtype=object).reshape(-1, 1),
            hovertemplate="%{customdata[0]}<extra></extra>"))
    # legend entries for the marker meanings (only those present)
    if (flagged & concerning).any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=t("legend_signal_concerning", lang),
                                 marker=dict(symbol="diamond", size=11, color=CONCERNING), hoverinfo="skip"))
    if (flagged & ~concerning).any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=t("legend_signal_improving", lang),
                                 marker=dict(symbol="diamond", size=11, color=IMPROVING), hoverinfo="skip"))
    if any(s.endswith("-open") for s, c in zip(symbols, closed, strict=True) if c):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=i18n.tn("legend_small_n", small_n, lang),
                                 marker=dict(symbol="circle-open", size=9, color=GREY), hoverinfo="skip"))
    if (low & closed).any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=_low_legend(min_completeness, lang),
                                 marker=dict(symbol="square", size=9, color=GREY), hoverinfo="skip"))
    if highlight is not None:
        hit = f.index[pd.to_datetime(f["period_start"]) == pd.Timestamp(highlight)]
        if len(hit):
            i = hit[0]
            fig.add_trace(go.Scatter(x=[x.iloc[i]], y=[y[i]], mode="markers", name=t("legend_selected", lang),
                                     marker=dict(symbol="circle-open", size=20, color=BLACK, line=dict(width=2)),
                                     hoverinfo="skip"))
    for k, note in enumerate(runs_notes):
        fig.add_annotation(text=note, xref="paper", yref="paper", x=1, y=1.0 - 0.07 * k, xanchor="right",
                           yanchor="bottom", showarrow=False, font=dict(size=12, color=CONCERNING))
    _layout(fig, title=title, subtitle=subtitle, lang=lang, height=height, y_title=t("axis_rate", lang))
    # the y range follows the rates and the limits of periods with enough sessions: a first partial month with a
    # handful of sessions has very wide limits that would squash the chart (they run off the top instead)
    # an incomplete newest period with a handful of closed sessions (1 of 1: 100 %) is drawn but does not set the
    # scale either: it would squash every judged month into the bottom of a 0-100 % axis
    big = (f["denominator_n"] >= small_n).to_numpy()
    mostly_big = big.mean() >= 0.5
    rates = _nan(f["rate"])
    rates = rates[closed | big] if (closed | big).any() else rates
    top_values = [*rates, *(_nan(f["ucl"])[big] if mostly_big else _nan(f["ucl"]))]
    if reference and reference[1] is not None:
        top_values.append(reference[1] / 100)
    if target is not None and _finite(target):
        top_values.append(float(target))
    top = np.nanmax(top_values) if np.isfinite(top_values).any() else 0.01
    fig.update_yaxes(range=[0, min(100 * top * 1.12, 100 * 1.12)], ticksuffix=" %")
    _date_range(fig, x, lang)
    add_target(fig, target, x, lang, assurance)
    add_process_changes(fig, changes, lang, by_month=changes_by_month)
    return fig


def _date_range(fig: go.Figure, x: pd.Series, lang: str) -> None:
    """A date axis from half a month before the first point to half a month after the last (Plotly's own padding,
    with a text label on the newest point, ran into the next year), its ticks labelled in the language."""
    days = pd.to_datetime(pd.Series(x)).dropna()
    ticks = i18n.month_ticks((trace.x for trace in fig.data), lang)
    if days.empty:
        fig.update_xaxes(type="date", **ticks)
        return
    pad = pd.Timedelta(days=16)
    fig.update_xaxes(type="date", range=[(days.min() - pad).isoformat(), (days.max() + pad).isoformat()], **ticks)


def _report_band(fig: go.Figure, report: tuple[dt.date, dt.date] | None, label: str | None, lang: str) -> None:
    """The reporting period (dashboard/filters.py Report) as a light band behind the months it covers."""
    if not report:
        return
    start, end = report  # a month's point sits on its first day: the band spans half a month either side
    fig.add_vrect(x0=pd.Timestamp(start.replace(day=1)) - pd.Timedelta(days=14),
                  x1=pd.Timestamp(end.replace(day=1)) + pd.Timedelta(days=14),
                  fillcolor=REPORT_FILL, line_width=0, layer="below")
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip",
                             name=label or t("report_period", lang),
                             marker=dict(symbol="square", size=12, color=REPORT_FILL)))


# --------------------------------------------------------------------------------------------------------------
# g-chart (rare outcomes: sessions between events)
# --------------------------------------------------------------------------------------------------------------


def g_chart(
    frame: pd.DataFrame,
    *,
    outcome_label: str,
    lang: str,
    as_of: dt.date | None = None,
    sessions_since_last: int | None = None,
    sessions_n: int | None = None,
    changes: pd.DataFrame | None = None,
    height: int = 440,
) -> go.Figure:
    """g-chart of an analysis.g_chart frame: one point per event at its treatment date, the followed-up sessions
    without the event since the previous one; the median as centre line and the mean-based 3-sigma upper limit
    per part (the lower limit is 0). A point above the limit (an unusually long run without the event: better)
    is a blue diamond; Anhoej's run rules fired on a part: its centre line dashed in the concerning colour with a
    note (a long run below the median means events coming closer together). `sessions_since_last` (the open gap
    after the last event, at `as_of`) is drawn apart as a hollow marker: not a point of the chart, never judged."""
    title = t("g_title", lang, outcome=outcome_label)
    subtitle = t("g_subtitle", lang)
    if frame is None or frame.empty:
        return empty_figure(t("g_empty", lang, n=i18n.number(sessions_n or 0, lang)), lang=lang, title=title)
    f = frame.reset_index(drop=True)
    x = pd.to_datetime(pd.Series(f["event_date"]))
    fig = go.Figure()
    runs_notes = []
    for i, (_part, idx) in enumerate(f.groupby("part", sort=True).groups.items()):
        sub, xs = f.loc[idx], x.loc[idx]
        fig.add_trace(go.Scatter(x=xs, y=sub["ucl"], mode="lines", line=dict(color=LIGHT_GREY, width=1.5,
                                 shape="hvh"), name=t("legend_g_ucl", lang), legendgroup="limits",
                                 showlegend=i == 0, hoverinfo="skip"))
        runs = bool(sub["runs_signal"].iloc[0])
        fig.add_trace(_centre_line(xs, sub["cl"], runs, t("legend_median", lang), first=i == 0))
        if runs:
            runs_notes.append(_runs_note(sub.iloc[0], lang))
    flagged = f["sigma_signal"].astype(bool).to_numpy()
    hover = [_hover([f"<b>{i18n.date(r['event_date'], lang)}</b>",
                     i18n.tn("g_hover_between", int(r["sessions_between"]), lang),
                     t("g_hover_limits", lang, cl=i18n.number(r["cl"], lang), ucl=i18n.number(r["ucl"], lang, 1)),
                     f"<b>{t('g_hover_long_gap', lang)}</b>" if fl else None])
             for r, fl in zip(f.to_dict("records"), flagged, strict=True)]
    fig.add_trace(go.Scatter(
        x=x, y=f["sessions_between"], mode="lines+markers", name=t("legend_g_points", lang),
        line=dict(color=GREY, width=1.5),
        marker=dict(color=[IMPROVING if fl else GREY for fl in flagged],
                    symbol=["diamond" if fl else "circle" for fl in flagged], size=[12 if fl else 8 for fl in flagged]),
        customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
    if flagged.any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=t("legend_g_long_gap", lang),
                                 marker=dict(symbol="diamond", size=11, color=IMPROVING), hoverinfo="skip"))
    xs_all = list(x)
    if sessions_since_last is not None and as_of is not None:
        at = pd.Timestamp(as_of)
        xs_all.append(at)
        fig.add_trace(go.Scatter(
            x=[at], y=[sessions_since_last], mode="markers+text", name=t("legend_g_open", lang),
            text=[t("g_open_label", lang)], textposition="top left", textfont=dict(size=11, color=GREY),
            marker=dict(symbol="circle-open", size=10, color=GREY, line=dict(width=1.5, color=GREY)),
            customdata=[[i18n.tn("g_open_hover", int(sessions_since_last), lang, date=i18n.date(as_of, lang))]],
            hovertemplate="%{customdata[0]}<extra></extra>"))
    for k, note in enumerate(runs_notes):
        fig.add_annotation(text=note, xref="paper", yref="paper", x=1, y=1.0 - 0.07 * k, xanchor="right",
                           yanchor="bottom", showarrow=False, font=dict(size=12, color=CONCERNING))
    _layout(fig, title=title, subtitle=subtitle, lang=lang, height=height, y_title=t("axis_sessions_between", lang))
    top = np.nanmax([*f["sessions_between"].astype(float), *f["ucl"].astype(float),
                     float(sessions_since_last or 0)])
    fig.update_yaxes(range=[0, top * 1.08 if top > 0 else 1], rangemode="tozero")
    _date_range(fig, pd.Series(xs_all), lang)
    add_process_changes(fig, changes, lang)
    return fig


# --------------------------------------------------------------------------------------------------------------
# process changes and targets on the time charts (issue 12)
# --------------------------------------------------------------------------------------------------------------

CHANGE_LABEL_CHARS = 28


def _plain(text: object) -> str:
    """Text for a plotly label: Plotly reads a subset of HTML in texts (<b>, <a href=...>), so a description typed
    by a user is escaped and never becomes markup or a link."""
    import html

    return html.escape(" ".join(str(text).split()), quote=True)


def add_process_changes(fig: go.Figure, changes: pd.DataFrame | None, lang: str, *, by_month: bool = False) -> None:
    """Each process change (changed_on, description, rebase) as a vertical line at its date, labelled at the top
    with its (shortened) description; hover gives the date and the whole description. A change that starts a
    new chart part (`rebase`) is a dashed dark line and says so; the others are dotted grey. `by_month` (viewers
    who see no day, docs/security.md): drawn at the first day of its month and named by the month."""
    if changes is None or len(changes) == 0:
        return
    for k, r in enumerate(changes.itertuples(index=False)):
        x = pd.Timestamp(r.changed_on)
        if by_month:
            x = x.replace(day=1)
        rebase = bool(r.rebase)
        fig.add_shape(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                      line=dict(color=BLACK if rebase else GREY, width=1.2, dash="dash" if rebase else "dot"))
        desc = " ".join(str(r.description).split())
        short = desc if len(desc) <= CHANGE_LABEL_CHARS else desc[: CHANGE_LABEL_CHARS - 1] + "…"
        when = i18n.period_label(x.date(), "month", lang) if by_month else i18n.date(r.changed_on, lang)
        hover = t("change_hover_rebase" if rebase else "change_hover", lang, date=when, text=_plain(desc))
        fig.add_annotation(x=x, xref="x", yref="paper", y=1.0 - 0.06 * (k % 3), yanchor="top", xanchor="left",
                           text=_plain(("⟂ " if rebase else "▸ ") + short), hovertext=hover, showarrow=False,
                           font=dict(size=11, color=BLACK if rebase else GREY), bgcolor="rgba(255,255,255,0.7)")


def add_target(fig: go.Figure, target: float | None, x, lang: str, assurance: str = "") -> None:
    """The clinic's target (a proportion) as a dashed horizontal line across the chart, in the legend as
    "Target n %" and, when given, its assurance reading ("consistently meets", ...)."""
    if target is None or not _finite(target) or x is None or len(x) == 0:
        return
    xs = pd.to_datetime(pd.Series(x))
    name = t("legend_clinic_target", lang, value=i18n.pct(float(target), lang))
    if assurance:
        name += " · " + t("assurance_" + assurance, lang)
    fig.add_trace(go.Scatter(x=[xs.min(), xs.max()], y=[100 * float(target)] * 2, mode="lines",
                             line=dict(color=IMPROVING, width=1.5, dash="longdash"), name=name,
                             hoverinfo="skip"))


# --------------------------------------------------------------------------------------------------------------
# funnel plot
# --------------------------------------------------------------------------------------------------------------


def funnel_chart(
    frame: pd.DataFrame,
    curve: pd.DataFrame,
    info: Mapping,
    *,
    outcome_label: str,
    lang: str,
    reference: tuple[float | None, float | None] | None = None,
    highlight: str | None = None,
    small_n: int = SMALL_N,
    height: int = 480,
    min_completeness: float | None = None,
) -> go.Figure:
    """Funnel plot of analysis.funnel: clinicians' rates by number of sessions (hover: the frame's ci_low / ci_high),
    the clinic rate, 95 % and 99.8 % limits (method and overdispersion in the subtitle), flagged clinicians coloured
    and shaped. A clinician with low follow-up completeness (`is_low_completeness`) is a square (a diamond with a
    cross when flagged) with a hover line saying the rate is least reliable."""
    target = info.get("target", np.nan)
    method = info.get("method", "arcsine")
    title = t("funnel_title", lang, outcome=outcome_label, target=i18n.pct(target, lang))
    frame = _visible(frame)
    if frame is None or frame.empty or not _finite(target):
        return empty_figure(t("funnel_empty", lang), lang=lang, title=outcome_label)
    phi = i18n.number(info.get("phi"), lang, 2)
    od = (t("od_applied", lang, phi=phi, tau2=i18n.number(info.get("tau2"), lang, 4))
          if info.get("overdispersion_applied") else t("od_not_applied", lang, phi=phi))
    subtitle = t("funnel_subtitle", lang, method=t(f"method_{method}", lang), od=od)
    fig = go.Figure()
    _reference_shapes(fig, reference, lang)
    c = curve.sort_values("denominator_n")
    fig.add_trace(go.Scatter(x=c["denominator_n"], y=_pcts(c["ucl_998"]), mode="lines",
                             line=dict(color=GREY, width=1.5), name=t("legend_998", lang), legendgroup="998",
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=c["denominator_n"], y=_pcts(c["lcl_998"]), mode="lines",
                             line=dict(color=GREY, width=1.5), name=t("legend_998", lang), legendgroup="998",
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=c["denominator_n"], y=_pcts(c["ucl_95"]), mode="lines",
                             line=dict(color=LIGHT_GREY, width=1.5, dash="dash"), name=t("legend_95", lang),
                             legendgroup="95", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=c["denominator_n"], y=_pcts(c["lcl_95"]), mode="lines",
                             line=dict(color=LIGHT_GREY, width=1.5, dash="dash"), name=t("legend_95", lang),
                             legendgroup="95", showlegend=False, hoverinfo="skip"))
    fig.add_hline(y=100 * target, line=dict(color=BLACK, width=1.5))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=BLACK, width=1.5),
                             name=t("legend_target", lang), hoverinfo="skip"))
    f = frame.sort_values("clinician").reset_index(drop=True)
    low, high = f["ci_low"].to_numpy(float), f["ci_high"].to_numpy(float)  # the library's Wilson 95 % interval
    any_low = False
    for flag, name, colour, symbol in (("", t("legend_inside", lang), GREY, "circle"),
                                       ("high", t("legend_high", lang), CONCERNING, "diamond"),
                                       ("low", t("legend_low", lang), IMPROVING, "diamond")):
        mask = (f["flag"].fillna("") == flag).to_numpy()
        if not mask.any():
            continue
        sub = f[mask]
        is_low = (sub["is_low_completeness"].fillna(False).to_numpy(dtype=bool) if "is_low_completeness" in sub
                  else np.zeros(len(sub), dtype=bool))
        any_low = any_low or bool(is_low.any())
        hover = []
        for r, lo, hi, weak in zip(sub.to_dict("records"), low[mask], high[mask], is_low, strict=True):
            pos = (t("pos_high", lang) if r["flag"] == "high" else t("pos_low", lang) if r["flag"] == "low"
                   else t(f"pos_{r['flag_95']}95", lang) if r.get("flag_95") else t("pos_inside", lang))
            hover.append(_hover([f"<b>{r['clinician']}</b>",
                                 _rate_line(r["rate"], r["numerator_n"], r["denominator_n"], lang),
                                 _ci_line(lo, hi, lang),
                                 f"{t('funnel_position', lang)}: {pos} (z = {i18n.number(r.get('z'), lang, 2)})",
                                 _small_line(r["denominator_n"], lang, small_n),
                                 _low_line(r, lang) if weak else None]))
        syms = [(("square" if symbol == "circle" else f"{symbol}-x") + s[len(symbol):]) if weak else s
                for s, weak in zip(_symbols(sub["denominator_n"], small_n, symbol), is_low, strict=True)]
        fig.add_trace(go.Scatter(
            x=sub["denominator_n"], y=_pcts(sub["rate"]), mode="markers+text", text=sub["clinician"],
            textposition="top center", textfont=dict(size=11, color=colour), name=name,
            marker=dict(color=colour, size=11 if flag else 9, symbol=syms, line=dict(width=1.5, color=colour)),
            customdata=np.array(hover, dtype=object).reshape(-1, 1),
            hovertemplate="%{customdata[0]}<extra></extra>"))
    if any_low:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=_low_legend(min_completeness, lang),
                                 marker=dict(symbol="square", size=9, color=GREY), hoverinfo="skip"))
    if highlight and (f["clinician"] == highlight).any():
        r = f[f["clinician"] == highlight].iloc[0]
        fig.add_trace(go.Scatter(x=[r["denominator_n"]], y=[_p(r["rate"])], mode="markers",
                                 name=t("legend_focus", lang), hoverinfo="skip",
                                 marker=dict(symbol="circle-open", size=22, color=BLACK, line=dict(width=2))))
    _layout(fig, title=title, subtitle=subtitle, lang=lang, height=height, y_title=t("axis_rate", lang),
            x_title=t("axis_sessions", lang))
    top = max(np.nanmax(_nan(f["rate"])) * 100, 100 * target * 2, (reference[1] or 0) if reference and
              reference[1] else 0) * 1.15
    fig.update_yaxes(range=[0, max(top, 0.5)], ticksuffix=" %")
    fig.update_xaxes(rangemode="tozero")
    return fig


def _nan(values) -> np.ndarray:
    return np.array([float(v) if _finite(v) else np.nan for v in values], dtype=float)


# --------------------------------------------------------------------------------------------------------------
# O/E and CUSUM
# --------------------------------------------------------------------------------------------------------------


def oe_chart(frame: pd.DataFrame, *, outcome_label: str, lang: str, highlight: str | None = None,
             height: int = 420) -> go.Figure:
    """Observed / expected per clinician (by code) with its exact Poisson 95 % interval and the line at 1. Expected
    counts are at the other clinicians' rates (analysis.case_mix: leave-one-out, the whole clinic as reference
    whatever the filters), which the subtitle says."""
    title = t("oe_title", lang, outcome=outcome_label)
    frame = _visible(frame)
    if frame is None or frame.empty or not np.isfinite(_nan(frame["oe_ratio"])).any():
        return empty_figure(t("funnel_empty", lang), lang=lang, title=title)
    f = frame.sort_values("clinician", ascending=False).reset_index(drop=True)
    colours = [CONCERNING if fl == "high" else IMPROVING if fl == "low" else GREY for fl in f["flag"].fillna("")]
    hover = [_hover([f"<b>{r['clinician']}</b>",
                     f"O/E = {i18n.number(r['oe_ratio'], lang, 2)} ({i18n.number(r['observed_n'], lang)} / "
                     f"{i18n.number(r['expected_n'], lang, 1)})",
                     f"95 %: {i18n.number(r['oe_low'], lang, 2)}–{i18n.number(r['oe_high'], lang, 2)}",
                     f"{t('sessions', lang)}: {i18n.number(r['denominator_n'], lang)}"])
             for r in f.to_dict("records")]
    fig = go.Figure()
    fig.add_vline(x=1, line=dict(color=BLACK, width=1.5))
    fig.add_trace(go.Scatter(
        x=f["oe_ratio"], y=f["clinician"], mode="markers",
        marker=dict(color=colours, size=10, symbol=["diamond" if fl else "circle" for fl in f["flag"].fillna("")]),
        error_x=dict(type="data", symmetric=False, array=(f["oe_high"] - f["oe_ratio"]).to_numpy(float),
                     arrayminus=(f["oe_ratio"] - f["oe_low"]).to_numpy(float), color=LIGHT_GREY, thickness=2,
                     width=0),
        customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>",
        showlegend=False))
    if highlight and (f["clinician"] == highlight).any():
        r = f[f["clinician"] == highlight].iloc[0]
        fig.add_trace(go.Scatter(x=[r["oe_ratio"]], y=[r["clinician"]], mode="markers", hoverinfo="skip",
                                 showlegend=False,
                                 marker=dict(symbol="circle-open", size=20, color=BLACK, line=dict(width=2))))
    _layout(fig, title=title, subtitle=t("oe_subtitle", lang), lang=lang,
            height=max(height, 60 + 34 * len(f)), x_title=t("axis_oe", lang), legend=False)
    fig.update_yaxes(type="category")
    fig.update_xaxes(rangemode="tozero")
    return fig


def cusum_chart(daily: pd.DataFrame, *, clinician: str, outcome_label: str, lang: str, arl0: float,
                height: int = 380) -> go.Figure:
    """Risk-adjusted CUSUM of one clinician, its threshold and the signals. The chart updates once per session
    (analysis.cusum); a point is a treatment day at the highest value its sessions reached (signals.cusum_daily),
    as the legend and subtitle say."""
    title = t("cusum_title", lang, outcome=outcome_label, clinician=clinician)
    daily = daily[daily["clinician"] == clinician] if not daily.empty else daily
    if daily.empty:
        return empty_figure(t("cusum_no_events", lang), lang=lang, title=title)
    h = float(daily["threshold"].iloc[-1])
    subtitle = t("cusum_subtitle", lang, h=i18n.number(h, lang, 2), arl=i18n.tn("count_sessions", arl0, lang))
    hover = [_hover([f"<b>{i18n.date(r['treated_on'], lang)}</b>",
                     f"CUSUM: {i18n.number(r['cusum'], lang, 2)} / {i18n.number(r['threshold'], lang, 2)}",
                     f"{t('sessions', lang)}: {r['sessions_n']}, {t('events', lang).lower()}: {int(r['events_n'])}",
                     f"<b>{t('legend_cusum_signal', lang)}</b>" if r["signal"] else None])
             for r in daily.to_dict("records")]
    fig = go.Figure()
    x = pd.to_datetime(daily["treated_on"])
    fig.add_trace(go.Scatter(x=x, y=daily["cusum"], mode="lines", line=dict(color=BLUE, width=1.5, shape="hv"),
                             name=t("legend_cusum", lang), customdata=np.array(hover, dtype=object).reshape(-1, 1),
                             hovertemplate="%{customdata[0]}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=daily["threshold"], mode="lines", line=dict(color=CONCERNING, dash="dash",
                             width=1.5), name=t("legend_threshold", lang), hoverinfo="skip"))
    sig = daily[daily["signal"]]
    if not sig.empty:
        fig.add_trace(go.Scatter(x=pd.to_datetime(sig["treated_on"]), y=sig["cusum"], mode="markers",
                                 marker=dict(symbol="diamond", size=11, color=CONCERNING),
                                 name=t("legend_cusum_signal", lang), hoverinfo="skip"))
    _layout(fig, title=title, subtitle=subtitle, lang=lang, height=height, y_title=t("axis_cusum", lang),
            x_title=t("axis_treatment_date", lang))
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(type="date", **i18n.month_ticks((trace.x for trace in fig.data), lang))
    return fig


def cusum_monthly_chart(monthly: pd.DataFrame, *, clinician: str, outcome_label: str, lang: str, arl0: float,
                        min_sessions: int = 0, height: int = 380) -> go.Figure:
    """The CUSUM of one clinician by calendar month (signals.cusum_monthly), for roles without case access: the
    value at each month's end, the threshold, and the months with a signal (marked at that month's highest value).
    Nothing finer than a month and no counts reach the browser: x is the month's first day, hover names the month,
    the value at its end and its highest value. With `min_sessions` > 0 a point closes a span of months holding at
    least that many of the clinician's sessions (signals.cusum_spans): hover names the span's months."""
    title = t("cusum_title", lang, outcome=outcome_label, clinician=clinician)
    monthly = monthly[monthly["clinician"] == clinician] if not monthly.empty else monthly
    if monthly.empty:
        return empty_figure(i18n.tn("cusum_too_few", min_sessions, lang) if min_sessions > 0
                            else t("cusum_no_events", lang), lang=lang, title=title)
    h = float(monthly["threshold"].iloc[-1])
    if min_sessions > 0:
        subtitle = t("cusum_subtitle_span", lang, n=min_sessions, h=i18n.number(h, lang, 2),
                     arl=i18n.tn("count_sessions", arl0, lang))
    else:
        subtitle = t("cusum_subtitle_month", lang, h=i18n.number(h, lang, 2), arl=i18n.tn("count_sessions", arl0, lang))
    starts = monthly["span_start"] if "span_start" in monthly else monthly["month"]

    def when(first, last) -> str:
        if first == last:
            return i18n.period_label(last, "month", lang)
        return f"{i18n.period_label(first, 'month', lang)} – {i18n.period_label(last, 'month', lang)}"

    hover = [_hover([f"<b>{when(first, r['month'])}</b>",
                     t("hover_cusum_month_end", lang, value=i18n.number(r["cusum"], lang, 2),
                       threshold=i18n.number(r["threshold"], lang, 2)),
                     t("hover_cusum_peak" if first == r["month"] else "hover_cusum_span_peak", lang,
                       value=i18n.number(r["peak"], lang, 2)),
                     f"<b>{t('legend_cusum_signal_span' if min_sessions > 0 else 'legend_cusum_signal_month', lang)}"
                     "</b>" if r["signal"] else None])
             for first, r in zip(starts, monthly.to_dict("records"), strict=True)]
    fig = go.Figure()
    x = pd.to_datetime(monthly["month"])
    fig.add_trace(go.Scatter(x=x, y=monthly["cusum"], mode="lines+markers", line=dict(color=BLUE, width=1.5),
                             marker=dict(size=5, color=BLUE), name=t("legend_cusum_month", lang),
                             customdata=np.array(hover, dtype=object).reshape(-1, 1),
                             hovertemplate="%{customdata[0]}<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=monthly["threshold"], mode="lines", line=dict(color=CONCERNING, dash="dash",
                             width=1.5), name=t("legend_threshold", lang), hoverinfo="skip"))
    sig = monthly[monthly["signal"].astype(bool)]
    if not sig.empty:
        fig.add_trace(go.Scatter(x=pd.to_datetime(sig["month"]), y=sig["peak"], mode="markers",
                                 marker=dict(symbol="diamond", size=11, color=CONCERNING),
                                 name=t("legend_cusum_signal_span" if min_sessions > 0
                                        else "legend_cusum_signal_month", lang), hoverinfo="skip"))
    _layout(fig, title=title, subtitle=subtitle, lang=lang, height=height, y_title=t("axis_cusum", lang),
            x_title=t("axis_month", lang))
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(type="date", **i18n.month_ticks((trace.x for trace in fig.data), lang))
    return fig


# --------------------------------------------------------------------------------------------------------------
# rates: forest (overview), breakdown, over time
# --------------------------------------------------------------------------------------------------------------


def forest_chart(rows: pd.DataFrame, *, lang: str, small_n: int = SMALL_N) -> go.Figure:
    """Overview: each outcome's rate with its interval, its reference range as a band on its own row, coloured by
    its Making Data Count reading; two panels (complications / non-response) on their own scales.

    rows: label, group, rate, ci_low, ci_high, numerator_n, denominator_n, followup_completeness, ref_low,
    ref_high (percent), reference_text, reading (common_cause / special_cause_* / '').
    """
    title = t("forest_title", lang)
    if rows is None or rows.empty:
        return empty_figure(t("no_match", lang), lang=lang, title=title)
    panels = [("forest_complications", rows[rows["group"] != "response"]),
              ("forest_response", rows[rows["group"] == "response"])]
    panels = [(k, p) for k, p in panels if not p.empty]
    n_rows = max(len(p) for _, p in panels)
    fig = make_subplots(rows=1, cols=len(panels), column_widths=[0.62, 0.38][:len(panels)] if len(panels) > 1
                        else [1.0], horizontal_spacing=0.2,
                        subplot_titles=[t(k, lang) for k, _ in panels])
    legend_done: set[str] = set()
    for col, (_key, p) in enumerate(panels, start=1):
        p = p.iloc[::-1].reset_index(drop=True)  # first outcome at the top
        labels = list(p["label"])
        for i, r in p.iterrows():
            # a frame holds a missing reference as NaN: an outcome without a reference gets no band (a NaN corner
            # drew a slanted line across its row)
            lo = r.get("ref_low") if _finite(r.get("ref_low")) else None
            hi = r.get("ref_high") if _finite(r.get("ref_high")) else None
            if lo is None and hi is None:
                continue
            lo_v = lo if lo is not None else 0.0
            hi_v = hi if hi is not None else lo
            if hi_v is not None and lo_v is not None and hi_v > lo_v:
                fig.add_shape(type="rect", x0=lo_v, x1=hi_v, y0=i - 0.38, y1=i + 0.38, fillcolor=REFERENCE_FILL,
                              line_width=0, layer="below", row=1, col=col)
            else:
                fig.add_shape(type="line", x0=lo_v, x1=lo_v, y0=i - 0.38, y1=i + 0.38,
                              line=dict(color=REFERENCE_LINE, width=2.5), layer="below", row=1, col=col)
        for reading in ("common_cause", "special_cause_concerning", "special_cause_improving", ""):
            mask = (p["reading"].fillna("") == reading).to_numpy()
            if not mask.any():
                continue
            sub = p[mask]
            colour = READING_COLOURS[reading]
            hover = [_hover([f"<b>{r['label']}</b>", _hidden_line(lang)]) if r.get("is_hidden") else
                     _hover([f"<b>{r['label']}</b>",
                             _rate_line(r["rate"], r["numerator_n"], r["denominator_n"], lang),
                             _ci_line(r["ci_low"], r["ci_high"], lang),
                             t("hover_completeness", lang, pct=i18n.pct(r["followup_completeness"], lang),
                               num=i18n.number(r.get("followed_up_n"), lang),
                               den=i18n.number(r.get("eligible_n"), lang)),
                             t("hover_reference", lang, text=r["reference_text"]) if r.get("reference_text") else None,
                             t(f"reading_{reading}", lang) if reading else t("reading_none", lang),
                             _small_line(r["denominator_n"], lang, small_n)])
                     for r in sub.to_dict("records")]
            name = t(f"reading_{reading}", lang) if reading else t("reading_none", lang)
            fig.add_trace(go.Scatter(
                x=_pcts(sub["rate"]), y=sub.index.to_numpy(), mode="markers", name=name, legendgroup=name,
                showlegend=name not in legend_done,
                marker=dict(color=colour, size=10, symbol=_symbols(sub["denominator_n"], small_n,
                                                                   "diamond" if reading.startswith("special")
                                                                   else "circle"),
                            line=dict(width=1.5, color=colour)),
                error_x=dict(type="data", symmetric=False,
                             array=[(_p(h) or 0) - (_p(v) or 0) for h, v in zip(sub["ci_high"], sub["rate"],
                                                                                 strict=True)],
                             arrayminus=[(_p(v) or 0) - (_p(lo_) or 0) for v, lo_ in zip(sub["rate"], sub["ci_low"],
                                                                                        strict=True)],
                             color=colour, thickness=1.5, width=0),
                customdata=np.array(hover, dtype=object).reshape(-1, 1),
                hovertemplate="%{customdata[0]}<extra></extra>"), row=1, col=col)
            legend_done.add(name)
        fig.update_yaxes(tickmode="array", tickvals=list(range(len(labels))), ticktext=labels,
                         range=[-0.6, len(labels) - 0.4], row=1, col=col, showgrid=False)
        fig.update_xaxes(ticksuffix=" %", rangemode="tozero", row=1, col=col)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=t("reference_band", lang), hoverinfo="skip",
                             marker=dict(symbol="square", size=12, color=REFERENCE_FILL,
                                         line=dict(color=REFERENCE_LINE, width=1))))
    _layout(fig, title=title, lang=lang, height=130 + 30 * n_rows)
    fig.update_annotations(font=dict(size=13, color="#57606a"))
    return fig


def breakdown_chart(frame: pd.DataFrame, *, by: str, labels: Mapping[str, str], outcome_label: str, lang: str,
                    overall: float | None = None, reference: tuple[float | None, float | None] | None = None,
                    small_n: int = SMALL_N, height: int | None = None) -> go.Figure:
    """One outcome's rate per category (metrics.rates by=...) with Wilson intervals, in the given label order
    (never sorted by rate), the overall rate as a dashed line and the reference band."""
    title = t("breakdown_title", lang, outcome=outcome_label, by=t(f"by_{by}", lang))
    frame = _visible(frame)
    f = frame[frame["denominator_n"] > 0] if frame is not None and not frame.empty else frame
    if f is None or f.empty:
        return empty_figure(t("no_eligible", lang), lang=lang, title=title)
    order = [k for k in labels if k in set(f[by])] + sorted(set(f[by]) - set(labels))
    f = f.set_index(by).loc[order].reset_index().iloc[::-1].reset_index(drop=True)
    names = [labels.get(k, k) for k in f[by]]
    hover = [_hover([f"<b>{n}</b>", _rate_line(r["rate"], r["numerator_n"], r["denominator_n"], lang),
                     _ci_line(r["ci_low"], r["ci_high"], lang),
                     t("hover_completeness", lang, pct=i18n.pct(r["followup_completeness"], lang),
                       num=i18n.number(r["followed_up_n"], lang), den=i18n.number(r["eligible_n"], lang)),
                     _small_line(r["denominator_n"], lang, small_n)])
             for n, r in zip(names, f.to_dict("records"), strict=True)]
    fig = go.Figure()
    _reference_shapes(fig, reference, lang, axis="x")
    if _finite(overall):
        fig.add_vline(x=100 * overall, line=dict(color=BLACK, dash="dash", width=1.2))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=BLACK, dash="dash", width=1.2),
                                 name=t("overall", lang), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=_pcts(f["rate"]), y=names, mode="markers", name=t("legend_rate", lang),
        marker=dict(color=BLUE, size=10, symbol=_symbols(f["denominator_n"], small_n),
                    line=dict(width=1.5, color=BLUE)),
        error_x=dict(type="data", symmetric=False, array=(100 * (f["ci_high"] - f["rate"])).to_numpy(float),
                     arrayminus=(100 * (f["rate"] - f["ci_low"])).to_numpy(float), color=SKY, thickness=2, width=0),
        customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
    if (f["denominator_n"] < small_n).any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=i18n.tn("legend_small_n", small_n, lang),
                                 marker=dict(symbol="circle-open", size=9, color=BLUE), hoverinfo="skip"))
    _layout(fig, title=title, lang=lang, height=height or max(260, 120 + 30 * len(f)),
            x_title=t("axis_rate", lang))
    fig.update_xaxes(ticksuffix=" %", rangemode="tozero")
    fig.update_yaxes(type="category", automargin=True)
    return fig


def rate_time_chart(frame: pd.DataFrame, *, lang: str, title: str, subtitle: str | None = None,
                    series: str | None = None, series_labels: Mapping[str, str] | None = None,
                    name: str | None = None,
                    invert: bool = False, references: Mapping[str, float] | None = None,
                    reference: tuple[float | None, float | None] | None = None, period: str = "month",
                    y_title: str | None = None, small_n: int = SMALL_N, height: int = 380) -> go.Figure:
    """Rates over time with a 95 % band, one line per `series` value (e.g. indication).

    frame: period_start, numerator_n, denominator_n, rate, ci_low, ci_high[, followup_completeness, series].
    invert=True draws 1 - rate (responder rate from a non-response rate), with the interval flipped and the
    hover counting responders. references: per series value, a single reference proportion (dotted line).
    """
    if frame is not None and len(frame) and _hidden(frame).all():
        return empty_figure(_hidden_line(lang), lang=lang, title=title)
    frame = _visible(frame)
    if frame is None or frame.empty or (frame["denominator_n"] > 0).sum() == 0:
        return empty_figure(t("no_eligible", lang), lang=lang, title=title)
    fig = go.Figure()
    _reference_shapes(fig, reference, lang)
    f = frame[frame["denominator_n"] > 0].copy()
    if invert:
        f["rate"], f["ci_low"], f["ci_high"] = 1 - f["rate"], 1 - f["ci_high"], 1 - f["ci_low"]
        f["numerator_n"] = f["denominator_n"] - f["numerator_n"]
    name_ = name
    # periods not closed (`period_closed` False, when the frame says): drawn hollow apart, without a band, and
    # left out of the scale (a newest quarter with one closed session has a 0-100 % interval)
    is_open = (~f["period_closed"].fillna(True).astype(bool)).to_numpy() if "period_closed" in f \
        else np.zeros(len(f), dtype=bool)
    if is_open.all():  # nothing closed yet: draw what there is
        is_open[:] = False
    f["_open"] = is_open
    open_rows = f[f["_open"]]
    f = f[~f["_open"]]
    groups = [(None, f)] if series is None else list(f.groupby(series, sort=False))
    if series is not None and series_labels:
        order = {k: i for i, k in enumerate(series_labels)}
        groups.sort(key=lambda g: order.get(g[0], len(order)))
    for i, (key, sub) in enumerate(groups):
        colour = SERIES[i % len(SERIES)]
        name = (series_labels or {}).get(key, key) if key is not None else (name_ or t("legend_rate", lang))
        part = open_rows if series is None else open_rows[open_rows[series] == key]
        if len(part):
            fig.add_trace(go.Scatter(
                x=pd.to_datetime(part["period_start"]), y=_pcts(part["rate"]), mode="markers",
                name=t("legend_incomplete", lang), legendgroup="incomplete", showlegend=i == 0,
                marker=dict(symbol="circle-open", size=9, color=colour, line=dict(width=1.5, color=colour)),
                customdata=np.array([_hover([f"<b>{name}: {i18n.period_label(r['period_start'], period, lang)}</b>",
                                             t("hover_incomplete", lang)]) for r in part.to_dict("records")],
                                    dtype=object).reshape(-1, 1),
                hovertemplate="%{customdata[0]}<extra></extra>"))
        sub = sub.sort_values("period_start")
        x = pd.to_datetime(sub["period_start"])
        fig.add_trace(go.Scatter(x=pd.concat([x, x[::-1]]), y=_pcts(list(sub["ci_high"]) + list(sub["ci_low"])[::-1]),
                                 fill="toself", fillcolor=_alpha(colour, 0.14), line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, legendgroup=str(name)))
        hover = [_hover([f"<b>{name}: {i18n.period_label(r['period_start'], period, lang)}</b>",
                         (t("responder_of", lang, num=i18n.number(r["numerator_n"], lang),
                            den=i18n.number(r["denominator_n"], lang)) + f" ({i18n.pct(r['rate'], lang)})")
                         if invert else _rate_line(r["rate"], r["numerator_n"], r["denominator_n"], lang),
                         _ci_line(r["ci_low"], r["ci_high"], lang),
                         t("hover_completeness", lang, pct=i18n.pct(r.get("followup_completeness"), lang),
                           num=i18n.number(r.get("followed_up_n"), lang), den=i18n.number(r.get("eligible_n"), lang))
                         if _finite(r.get("followup_completeness")) else None,
                         _small_line(r["denominator_n"], lang, small_n)])
                 for r in sub.to_dict("records")]
        fig.add_trace(go.Scatter(
            x=x, y=_pcts(sub["rate"]), mode="lines+markers", name=str(name), legendgroup=str(name),
            line=dict(color=colour, width=2),
            marker=dict(color=colour, size=8, symbol=_symbols(sub["denominator_n"], small_n),
                        line=dict(width=1.5, color=colour)),
            customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
        if references and key in references and references[key] is not None:
            fig.add_hline(y=100 * references[key], line=dict(color=colour, dash="dot", width=1.5))
    if (f["denominator_n"] < small_n).any():
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=i18n.tn("legend_small_n", small_n, lang),
                                 marker=dict(symbol="circle-open", size=9, color=GREY), hoverinfo="skip"))
    _layout(fig, title=title, subtitle=subtitle, lang=lang, height=height, y_title=y_title or t("axis_rate", lang))
    # as on the p-chart: the bands of periods with a handful of sessions may run off the top
    big = (f["denominator_n"] >= small_n).to_numpy()
    highs = _nan(f["ci_high"])[big] if big.mean() >= 0.5 else _nan(f["ci_high"])
    top_values = [*_nan(f["rate"]), *highs, *(v for v in (references or {}).values() if v is not None)]
    if reference and reference[1] is not None:
        top_values.append(reference[1] / 100)
    top = min(1.0, np.nanmax(top_values) * 1.12) if np.isfinite(top_values).any() else 1.0
    fig.update_yaxes(range=[0, 100 * top], ticksuffix=" %")
    _date_range(fig, pd.to_datetime(pd.concat([f["period_start"], open_rows["period_start"]])), lang)
    return fig


def _alpha(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"


# --------------------------------------------------------------------------------------------------------------
# costs
# --------------------------------------------------------------------------------------------------------------


def cost_time_chart(frame: pd.DataFrame, *, lang: str, height: int = 380) -> go.Figure:
    """Correction cost per month (costs.cost_summary by='month'), stacked by product, chair time, consumables."""
    title = t("cost_month_title", lang)
    frame = _visible(frame)
    if frame is None or frame.empty or frame["correction_n"].sum() == 0:
        return empty_figure(t("costs_empty", lang), lang=lang, title=title)
    f = frame.sort_values("month")
    x = pd.to_datetime(f["month"])
    hover = [_hover([f"<b>{i18n.period_label(r['month'], 'month', lang)}</b>",
                     f"{t('kpi_cost', lang)}: {i18n.nok(r['correction_cost_nok'], lang)}",
                     f"{t('col_corrections', lang)}: {i18n.number(r['correction_n'], lang)}",
                     f"{t('kpi_cost_per_100', lang)}: {i18n.nok(r['cost_per_100_primary_nok'], lang)} "
                     f"({i18n.number(r['primary_n'], lang)} {t('col_primary', lang).lower()})",
                     f"{t('kpi_cost_share', lang)}: {i18n.pct(r['cost_share'], lang, 2)}"])
             for r in f.to_dict("records")]
    fig = go.Figure()
    for col, key, colour in (("product_cost_nok", "cost_product", BLUE), ("chair_cost_nok", "cost_chair", ORANGE),
                             ("consumables_nok", "cost_consumables", SKY)):
        fig.add_trace(go.Bar(x=x, y=f[col], name=t(key, lang), marker_color=colour,
                             customdata=np.array(hover, dtype=object).reshape(-1, 1),
                             hovertemplate="%{customdata[0]}<extra></extra>"))
    _layout(fig, title=title, subtitle=t("cost_month_subtitle", lang), lang=lang, height=height,
            y_title=t("axis_nok", lang))
    fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_xaxes(type="date", **i18n.month_ticks((trace.x for trace in fig.data), lang))
    fig.update_yaxes(tickformat=",.0f")
    return fig


def cost_group_chart(frame: pd.DataFrame, *, by: str, lang: str, labels: Mapping[str, str] | None = None,
                     height: int | None = None) -> go.Figure:
    """Correction cost per 100 primary treatments per clinician or product, in code / name order (no ranking)."""
    title = t("cost_by_title", lang, by=t(f"by_{by}", lang))
    frame = _visible(frame)
    if frame is None or frame.empty or frame["primary_n"].sum() == 0:
        return empty_figure(t("costs_empty", lang), lang=lang, title=title)
    f = frame.sort_values(by, ascending=False).reset_index(drop=True)
    names = [(labels or {}).get(v, v) for v in f[by]]
    hover = [_hover([f"<b>{n}</b>",
                     f"{t('kpi_cost_per_100', lang)}: {i18n.nok(r['cost_per_100_primary_nok'], lang)}",
                     f"{t('kpi_cost', lang)}: {i18n.nok(r['correction_cost_nok'], lang)}",
                     f"{t('col_corrections', lang)}: {i18n.number(r['correction_n'], lang)} / "
                     f"{t('col_primary', lang).lower()}: {i18n.number(r['primary_n'], lang)}",
                     f"{t('kpi_cost_share', lang)}: {i18n.pct(r['cost_share'], lang, 2)}",
                     _small_line(r["primary_n"], lang, SMALL_N)])
             for n, r in zip(names, f.to_dict("records"), strict=True)]
    fig = go.Figure(go.Bar(
        x=f["cost_per_100_primary_nok"], y=names, orientation="h",
        marker=dict(color=[_alpha(BLUE, 0.35) if p < SMALL_N else BLUE for p in f["primary_n"]],
                    line=dict(color=BLUE, width=1)),
        customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
    _layout(fig, title=title, subtitle=t("cost_by_subtitle", lang), lang=lang,
            height=height or max(280, 110 + 28 * len(f)), x_title=t("axis_nok_per_100", lang), legend=False)
    fig.update_yaxes(type="category", automargin=True)
    return fig


# --------------------------------------------------------------------------------------------------------------
# data quality
# --------------------------------------------------------------------------------------------------------------


def completeness_heatmap(frame: pd.DataFrame, *, outcome_label: str, lang: str, height: int | None = None
                         ) -> go.Figure:
    """Follow-up completeness by month (columns) and clinician (rows, by code); hover followed / eligible."""
    title = t("completeness_heatmap_title", lang, outcome=outcome_label)
    f = frame[frame["eligible_n"] > 0] if frame is not None and not frame.empty else frame
    if f is None or f.empty:
        return empty_figure(t("no_eligible", lang), lang=lang, title=title)
    months = sorted(f["period_start"].unique())
    clinicians = sorted(f["clinician"].unique(), reverse=True)
    z = np.full((len(clinicians), len(months)), np.nan)
    text = np.full((len(clinicians), len(months)), "", dtype=object)
    ci = {c: i for i, c in enumerate(clinicians)}
    mi = {m: j for j, m in enumerate(months)}
    for r in f.to_dict("records"):
        i, j = ci[r["clinician"]], mi[r["period_start"]]
        z[i, j] = 100 * r["followed_up_n"] / r["eligible_n"]
        text[i, j] = _hover([f"<b>{r['clinician']}, {i18n.period_label(r['period_start'], 'month', lang)}</b>",
                             t("hover_completeness", lang, pct=i18n.pct(r["followed_up_n"] / r["eligible_n"], lang),
                               num=i18n.number(r["followed_up_n"], lang), den=i18n.number(r["eligible_n"], lang)),
                             _small_line(r["eligible_n"], lang, SMALL_N)])
    fig = go.Figure(go.Heatmap(
        z=z, x=[pd.Timestamp(m) for m in months], y=clinicians, zmin=0, zmax=100, colorscale="Blues",
        colorbar=dict(title=dict(text="%", side="top"), thickness=12, len=0.8, ticksuffix=" %"),
        customdata=text, hovertemplate="%{customdata}<extra></extra>", xgap=1, ygap=1))
    _layout(fig, title=title, lang=lang, height=height or max(300, 120 + 26 * len(clinicians)), legend=False)
    fig.update_yaxes(type="category", showgrid=False)
    fig.update_xaxes(showgrid=False, **i18n.month_ticks((trace.x for trace in fig.data), lang))
    return fig


# --------------------------------------------------------------------------------------------------------------
# headache and sweating
# --------------------------------------------------------------------------------------------------------------


def change_chart(frame: pd.DataFrame, *, lang: str, labels: Mapping[str, str], height: int = 360) -> go.Figure:
    """Mean change in headache days per month by quarter and indication (responses.headache_change), with the
    95 % interval of the mean as error bars."""
    title = t("change_title", lang)
    frame = _visible(frame)
    if frame is None or frame.empty or frame["measured_n"].sum() == 0:
        return empty_figure(t("no_eligible", lang), lang=lang, title=title)
    fig = go.Figure()
    fig.add_hline(y=0, line=dict(color=BLACK, width=1))
    for i, (ind, sub) in enumerate(sorted(frame.groupby("indication"), key=lambda g: list(labels).index(g[0])
                                          if g[0] in labels else 99)):
        sub = sub[sub["measured_n"] > 0].sort_values("period_start")
        colour = SERIES[i % len(SERIES)]
        name = labels.get(ind, ind)
        hover = [_hover([f"<b>{name}: {i18n.period_label(r['period_start'], 'quarter', lang)}</b>",
                         f"{t('col_change', lang)}: {i18n.number(r['change_mean'], lang, 1)} "
                         f"({i18n.number(r['change_low'], lang, 1)} – {i18n.number(r['change_high'], lang, 1)})",
                         f"{t('col_baseline', lang)}: {i18n.number(r['baseline_mean'], lang, 1)} → "
                         f"{i18n.number(r['follow_up_mean'], lang, 1)}",
                         f"{t('col_measured', lang)}: {i18n.number(r['measured_n'], lang)} / "
                         f"{t('col_lost_n', lang).lower()}: {i18n.number(r['lost_n'], lang)}",
                         _small_line(r["measured_n"], lang, SMALL_N)])
                 for r in sub.to_dict("records")]
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(sub["period_start"]), y=sub["change_mean"], mode="lines+markers", name=name,
            line=dict(color=colour, width=2),
            marker=dict(color=colour, size=8, symbol=_symbols(sub["measured_n"], SMALL_N),
                        line=dict(width=1.5, color=colour)),
            error_y=dict(type="data", symmetric=False, array=(sub["change_high"] - sub["change_mean"]).to_numpy(float),
                         arrayminus=(sub["change_mean"] - sub["change_low"]).to_numpy(float), color=colour,
                         thickness=1.2, width=3),
            customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
    _layout(fig, title=title, subtitle=t("change_subtitle", lang), lang=lang, height=height,
            y_title=t("axis_change_days", lang))
    fig.update_xaxes(type="date", **i18n.month_ticks((trace.x for trace in fig.data), lang))
    return fig


def change_distribution_chart(frame: pd.DataFrame, *, lang: str, labels: Mapping[str, str],
                              height: int = 360) -> go.Figure:
    """Sessions per 10 % band of change in headache days (responses.headache_change_distribution), one bar
    series per indication, responder bands solid, the 50 % threshold as a line; the lost count in the subtitle."""
    title = t("distribution_title", lang)
    frame = _visible(frame)
    if frame is None or frame.empty:
        return empty_figure(t("no_eligible", lang), lang=lang, title=title)
    f = frame[frame["bin_start"].notna()]
    fig = go.Figure()
    for i, ind in enumerate([k for k in labels if k in set(f["indication"])]):
        sub = f[f["indication"] == ind]
        colour = SERIES[i % len(SERIES)]
        total = int(frame.loc[frame["indication"] == ind, "sessions_n"].sum())
        hover = [_hover([f"<b>{labels[ind]}</b>",
                         f"{int(r['bin_start'])} % … {int(r['bin_end'])} %: {i18n.number(r['sessions_n'], lang)} "
                         f"({i18n.pct(r['sessions_n'] / total if total else np.nan, lang)})",
                         t("responders", lang) if r["responder"] else t("non_responders", lang)])
                 for r in sub.to_dict("records")]
        n_series = max(1, len([k for k in labels if k in set(f["indication"])]))
        w = 9.0 / n_series
        fig.add_trace(go.Bar(
            x=sub["bin_start"].astype(float) + 0.5 + w * (i + 0.5), y=sub["sessions_n"],
            width=[w * 0.92] * len(sub), name=labels[ind],
            marker=dict(color=[colour if r else _alpha(colour, 0.35) for r in sub["responder"]],
                        line=dict(color=colour, width=1)),
            customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
    fig.add_vline(x=-50, line=dict(color=BLACK, dash="dash", width=1.5))
    fig.add_annotation(x=-50, y=1, yref="paper", text="−50 %", showarrow=False, xanchor="left", yanchor="bottom",
                       font=dict(size=11))
    _layout(fig, title=title, subtitle=t("distribution_subtitle", lang), lang=lang,
            height=height, x_title=t("axis_pct_change", lang), y_title=t("sessions", lang))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(ticksuffix=" %", dtick=20)
    return fig


def hdss_chart(frame: pd.DataFrame, *, lang: str, height: int = 320) -> go.Figure:
    """Hyperhidrosis sessions by drop in HDSS points (responses.hdss_change); 2 or more = response."""
    title = t("hdss_title", lang)
    frame = _visible(frame)
    f = frame[frame["hdss_drop"].notna()] if frame is not None and not frame.empty else frame
    if f is None or f.empty:
        return empty_figure(t("no_eligible", lang), lang=lang, title=title)
    total = int(f["sessions_n"].sum())
    hover = [_hover([f"<b>{int(r['hdss_drop'])}</b>: {i18n.number(r['sessions_n'], lang)} "
                     f"({i18n.pct(r['sessions_n'] / total, lang)})",
                     t("responders", lang) if r["hdss_drop"] >= 2 else t("non_responders", lang)])
             for r in f.to_dict("records")]
    fig = go.Figure(go.Bar(
        x=f["hdss_drop"].astype(int), y=f["sessions_n"],
        marker=dict(color=[GREEN if d >= 2 else _alpha(GREEN, 0.35) for d in f["hdss_drop"]],
                    line=dict(color=GREEN, width=1)),
        customdata=np.array(hover, dtype=object).reshape(-1, 1), hovertemplate="%{customdata[0]}<extra></extra>"))
    _layout(fig, title=title, subtitle=t("hdss_subtitle", lang), lang=lang, height=height,
            x_title=t("axis_hdss_drop", lang), y_title=t("sessions", lang), legend=False)
    fig.update_xaxes(dtick=1)
    return fig
