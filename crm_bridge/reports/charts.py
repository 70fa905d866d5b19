"""The reports' charts (matplotlib, no display): one figure per report, titled in Chinese and
English, with the period and the dealer's time zone, units on the axes, "no data" when empty.

Importing this module loads matplotlib's font list, so it is imported only when charts are
drawn (``build.write``), never at start-up. Chinese needs a CJK font: the project's set-up
installs one (``make setup``, Debian's fonts-wqy-microhei); here it is looked up by family name
among the installed fonts, never downloaded. Without one the charts are still drawn, the
Chinese shown as boxes, and a warning says so once.

Figures are bare ``Figure`` objects (no pyplot): nothing global is kept, so charts can be drawn
in a worker thread of the gateway.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Final

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from crm_bridge.reports import labels
from crm_bridge.reports.labels import both
from crm_bridge.reports.metrics import STAGES, ReportData
from crm_bridge.reports.period import Period

# Fonts with simplified Chinese, best first; the set-up installs WenQuanYi Micro Hei.
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
    "Noto Sans SC", "Sarasa Gothic SC", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN",
    "Noto Sans CJK JP", "Noto Sans CJK TC", "Microsoft YaHei", "SimHei", "PingFang SC",
)  # fmt: skip
SIZE: Final = (10.0, 5.6)  # inches; 1200 x 672 pixels at DPI
DPI: Final = 120
BLUE, GREY, GREEN, ORANGE, RED = "#1f77b4", "#9e9e9e", "#2ca02c", "#ff7f0e", "#d62728"
LEVEL_COLOURS: Final = {"H": RED, "A": ORANGE, "B": "#bcbd22", "C": BLUE, "unrated": GREY}
STATE_COLOURS: Final = {"open": RED, "in_progress": ORANGE, "resolved": GREEN}
NO_DATA: Final = "本期暂无数据 No data in this period"


def _family_among_installed() -> str | None:
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


@cache
def cjk_family() -> str | None:
    """The installed CJK font family the charts use, or None (warned about once).

    Matplotlib keeps a cached list of the system's fonts; a font installed after that list was
    made (``make setup`` after a first report) is added from the system's font folders."""
    found = _family_among_installed()
    if found is None:
        known = {entry.fname for entry in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a broken font file is not ours to fix
        found = _family_among_installed()
    if found is None:
        print(
            "warning: no Chinese (CJK) font is installed, so Chinese labels will not render "
            "in the charts; `make setup` as root installs one (Debian: fonts-wqy-microhei)",
            file=sys.stderr,
        )
    return found


@contextmanager
def style() -> Iterator[str | None]:
    """Draw within this: the CJK font first, readable defaults; yields the font family."""
    family = cjk_family()
    rc = matplotlib.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [*([family] if family else []), "DejaVu Sans"],
            "axes.unicode_minus": False,  # not every CJK font has U+2212
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.axisbelow": True,
            "grid.alpha": 0.3,
            "axes.titlesize": 11,
            "figure.titlesize": 14,
            "savefig.dpi": DPI,
        }
    )
    with rc, warnings.catch_warnings():
        if family is None:  # said once already; not once per missing character
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        yield family


def _figure(title: str, period: Period, panels: int = 1) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=SIZE, layout="constrained")
    figure.suptitle(f"{title}\n{period.label}")
    ratios = [2.0, 1.0] if panels == 2 else [1.0]
    axes = figure.subplots(1, panels, width_ratios=ratios, squeeze=False)[0]
    return figure, list(axes)


def _no_data(axes: Axes) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=16, color=GREY,
              transform=axes.transAxes)  # fmt: skip


def _empty(title: str, period: Period) -> Figure:
    figure, (axes,) = _figure(title, period)
    _no_data(axes)
    return figure


def _bucket_axis(axes: Axes, period: Period) -> list[int]:
    """Day or week labels on the x axis (dates in the dealer's zone); their positions."""
    starts = period.buckets()
    positions = list(range(len(starts)))
    axes.set_xticks(positions, [f"{day:%m-%d}" for day in starts])
    axes.set_xlim(-0.5, len(starts) - 0.5)  # every day or week shown, also those without data
    if len(starts) > 10:
        axes.tick_params(axis="x", labelrotation=45)
    what = "日期 Date" if period.granularity == "day" else "周（起始日） Week starting"
    axes.set_xlabel(f"{what} ({period.zone.key})")
    return positions


def _counts(axes: Axes, axis: str = "y") -> None:
    (axes.yaxis if axis == "y" else axes.xaxis).set_major_locator(MaxNLocator(integer=True))


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def lead_funnel(data: ReportData) -> Figure:
    title = "线索漏斗 Lead funnel"
    if not data.leads_created:
        return _empty(title, data.period)
    figure, (axes,) = _figure(title, data.period)
    rows = data.funnel
    positions = list(range(len(rows)))
    colours = [BLUE if row.stage in STAGES else GREY for row in rows]
    axes.barh(positions, [row.leads for row in rows], color=colours)
    axes.set_yticks(positions, [both(labels.STAGES, row.stage) for row in rows])
    axes.invert_yaxis()
    for position, row in zip(positions, rows, strict=True):
        axes.text(row.leads, position, f"  {row.leads} ({row.pct_of_created or 0:g}%)",
                  va="center")  # fmt: skip
    axes.set_xlim(0, data.leads_created * 1.25)
    axes.set_xlabel("线索数 Leads (count)")
    _counts(axes, "x")
    axes.set_title(
        f"本期新建线索 {data.leads_created} leads created; 到达 = 目前到过的最远阶段 "
        "reached = furthest status so far",
        loc="left",
    )
    return figure


def leads_by_channel(data: ReportData) -> Figure:
    title = "线索来源与级别 Leads by channel and level"
    if not data.leads_created:
        return _empty(title, data.period)
    figure, (axes,) = _figure(title, data.period)
    channels = list(dict.fromkeys(row.channel for row in data.channels))
    positions = list(range(len(channels)))
    bottom = [0] * len(channels)
    for level, colour in LEVEL_COLOURS.items():
        counts = [
            sum(r.leads for r in data.channels if r.channel == c and r.level == level)
            for c in channels
        ]
        axes.bar(positions, counts, bottom=bottom, color=colour,
                 label=both(labels.LEVELS, level))  # fmt: skip
        bottom = [b + n for b, n in zip(bottom, counts, strict=True)]
    for position, total in zip(positions, bottom, strict=True):
        axes.text(position, total, str(total), ha="center", va="bottom")
    axes.set_xticks(positions, [both(labels.CHANNELS, c) for c in channels])
    axes.set_xlabel("渠道 Channel")
    axes.set_ylabel("线索数 Leads (count)")
    axes.set_ylim(0, max(bottom) * 1.15)
    _counts(axes)
    axes.legend(title="级别 Level", loc="upper right")
    return figure


def handoff_times(data: ReportData) -> Figure:
    times, title = data.handoffs, "转人工响应时间 Hand-off response times"
    if not times.total.opened:
        return _empty(title, data.period)
    figure, (trend, spread) = _figure(title, data.period, 2)
    positions = _bucket_axis(trend, data.period)
    series = (
        ("认领 中位数 Claim median", [r.claim_median for r in times.rows], BLUE, "-"),
        ("认领 P90 Claim p90", [r.claim_p90 for r in times.rows], BLUE, "--"),
        ("首次回复 中位数 First reply median", [r.reply_median for r in times.rows], ORANGE, "-"),
        ("首次回复 P90 First reply p90", [r.reply_p90 for r in times.rows], ORANGE, "--"),
    )
    for name, values, colour, line in series:
        p90 = line == "--"  # hollow squares: visible where the median is the same
        trend.plot(
            positions,
            _nan(values),
            line,
            color=colour,
            label=name,
            marker="s" if p90 else "o",
            markerfacecolor="white" if p90 else colour,
        )
    trend.set_ylabel("分钟 Minutes (from hand-off)")
    trend.set_ylim(bottom=0)
    trend.legend(fontsize=8)
    total = times.total
    trend.set_title(
        f"转人工 {total.opened} opened · 已认领 {total.claimed} claimed · 已回复 {total.replied} "
        "replied",
        loc="left",
    )
    shown = [(n, v) for n, v in (("认领\nClaim", times.claim_minutes),
                                  ("首次回复\nFirst reply", times.reply_minutes)) if v]  # fmt: skip
    if shown:
        spread.boxplot([v for _, v in shown], tick_labels=[n for n, _ in shown])
        spread.set_ylabel("分钟 Minutes")
        spread.set_title("分布 Distribution", loc="left")
    else:
        _no_data(spread)
    return figure


def show_rate(data: ReportData) -> Figure:
    total, title = data.show_rate_total, "试驾到店率 Test-drive show rate"
    if not total.completed + total.no_show:
        return _empty(title, data.period)
    figure, (axes,) = _figure(title, data.period)
    rows = data.show_rate[:-1]
    positions = _bucket_axis(axes, data.period)
    axes.bar(positions, _nan([r.rate_pct for r in rows]), color=GREEN)
    for position, row in zip(positions, rows, strict=True):
        if row.rate_pct is not None:
            axes.text(position, row.rate_pct, f"{row.completed}/{row.completed + row.no_show}",
                      ha="center", va="bottom", fontsize=8)  # fmt: skip
    axes.set_ylim(0, 110)
    axes.set_ylabel("到店率 Show rate (%)")
    axes.set_title(
        f"整体 Overall {total.rate_pct:g}%: 到店 {total.completed} completed / 未到店 "
        f"{total.no_show} no-show",
        loc="left",
    )
    return figure


def satisfaction(data: ReportData) -> Figure:
    title = "满意度（按题） Satisfaction per question"
    overall = {r.question: r for r in data.satisfaction if r.bucket is None}
    if not any(r.answers for r in overall.values()):
        return _empty(title, data.period)
    figure, (axes,) = _figure(title, data.period)
    positions = _bucket_axis(axes, data.period)
    for question in data.questions:
        if not overall[question].answers:
            continue
        averages = [r.average for r in data.satisfaction
                    if r.question == question and r.bucket is not None]  # fmt: skip
        name = f"{both(labels.QUESTIONS, question)} (n={overall[question].answers}, "
        name += f"avg {overall[question].average:g})"
        axes.plot(positions, _nan(averages), marker="o", label=name)
    axes.set_ylim(1, 5.2)
    axes.set_ylabel("平均分 Average score (1–5)")
    axes.legend(fontsize=8, loc="lower left")
    return figure


def nps(data: ReportData) -> Figure:
    total, title = data.nps_total, "净推荐值 NPS"
    if not total.answers:
        return _empty(title, data.period)
    figure, (trend, mix) = _figure(title, data.period, 2)
    rows = data.nps[:-1]
    positions = _bucket_axis(trend, data.period)
    values = _nan([r.nps for r in rows])
    colours = [GREEN if not v < 0 else RED for v in values]
    trend.bar(positions, values, color=colours)
    for position, row in zip(positions, rows, strict=True):
        if row.nps is not None:
            trend.text(position, row.nps, f"n={row.answers}", ha="center",
                       va="bottom" if row.nps >= 0 else "top", fontsize=8)  # fmt: skip
    trend.axhline(0, color=GREY, linewidth=0.8)
    trend.set_ylim(-110, 110)
    trend.set_ylabel("NPS (% 推荐者 promoters − % 贬损者 detractors)")
    trend.set_title(f"整体 Overall NPS {total.nps:g} (n={total.answers})", loc="left")
    groups = (("推荐者 9–10\nPromoters", total.promoters, GREEN),
              ("中立者 7–8\nPassives", total.passives, GREY),
              ("贬损者 0–6\nDetractors", total.detractors, RED))  # fmt: skip
    mix.bar([0, 1, 2], [n for _, n, _ in groups], color=[c for _, _, c in groups])
    mix.set_xticks([0, 1, 2], [name for name, _, _ in groups], fontsize=8)
    mix.set_ylabel("回答数 Answers (count)")
    _counts(mix)
    return figure


def complaints(data: ReportData) -> Figure:
    title = "投诉原因 Complaints by cause"
    if not data.complaints:
        return _empty(title, data.period)
    figure, (axes,) = _figure(title, data.period)
    rows = data.complaints
    positions = list(range(len(rows)))
    left = [0] * len(rows)
    for state, colour in STATE_COLOURS.items():
        counts = [row.by_state.get(state, 0) for row in rows]
        axes.barh(positions, counts, left=left, color=colour,
                  label=both(labels.TICKET_STATES, state))  # fmt: skip
        left = [a + n for a, n in zip(left, counts, strict=True)]
    for position, total in zip(positions, left, strict=True):
        axes.text(total, position, f" {total}", va="center")
    axes.set_yticks(positions, [both(labels.CAUSES, row.cause) for row in rows])
    axes.invert_yaxis()
    axes.set_xlim(0, max(left) * 1.15)
    axes.set_xlabel("投诉数 Complaints (count)")
    _counts(axes, "x")
    axes.legend(title="状态 State", loc="lower right")
    axes.set_title(f"本期投诉 {sum(left)} complaints opened", loc="left")
    return figure
