"""Writing the reports: for each, a CSV table and a PNG chart, plus ``summary.csv``.

CSV files are UTF-8 with a byte-order mark, so Excel (the managers' tool, set to Chinese) opens
the Chinese names correctly instead of guessing GBK. Numbers are plain (a dot for decimals), an
empty cell where there is nothing to measure (no hand-off claimed, no test drive recorded). The
definitions of the figures are in ``metrics`` and the README.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tqdm import tqdm

from crm_bridge.reports import labels
from crm_bridge.reports.metrics import ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Cell = str | int | float | None
Table = tuple[list[str], list[list[Cell]]]
TOTAL: Final = "total"


def _bucket_header(data: ReportData) -> str:
    return "day" if data.period.granularity == "day" else "week_starting"


def _bucket(day: date | None) -> str:
    return TOTAL if day is None else day.isoformat()


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def funnel_table(data: ReportData) -> Table:
    header = ["stage", "stage_zh", "leads_reached", "pct_of_created"]
    rows: list[list[Cell]] = [
        [r.stage, labels.zh(labels.STAGES, r.stage), r.leads, r.pct_of_created] for r in data.funnel
    ]
    return header, rows


def channel_table(data: ReportData) -> Table:
    levels = list(dict.fromkeys(r.level for r in data.channels))
    rows: list[list[Cell]] = []
    for channel in dict.fromkeys(r.channel for r in data.channels):
        counts = [
            sum(r.leads for r in data.channels if r.channel == channel and r.level == level)
            for level in levels
        ]
        rows.append([channel, labels.zh(labels.CHANNELS, channel), *counts, sum(counts)])
    return ["channel", "channel_zh", *levels, "total"], rows


def handoff_table(data: ReportData) -> Table:
    header = [_bucket_header(data), "opened", "claimed", "replied", "claim_median_min",
              "claim_p90_min", "first_reply_median_min", "first_reply_p90_min"]  # fmt: skip
    rows: list[list[Cell]] = [
        [_bucket(r.bucket), r.opened, r.claimed, r.replied, _round(r.claim_median),
         _round(r.claim_p90), _round(r.reply_median), _round(r.reply_p90)]
        for r in [*data.handoffs.rows, data.handoffs.total]
    ]  # fmt: skip
    return header, rows


def show_rate_table(data: ReportData) -> Table:
    header = [_bucket_header(data), "completed", "no_show", "show_rate_pct"]
    rows: list[list[Cell]] = [
        [_bucket(r.bucket), r.completed, r.no_show, r.rate_pct] for r in data.show_rate
    ]
    return header, rows


def satisfaction_table(data: ReportData) -> Table:
    header = [_bucket_header(data), "question", "question_zh", "answers", "average_1_to_5"]
    rows: list[list[Cell]] = [
        [_bucket(r.bucket), r.question, labels.zh(labels.QUESTIONS, r.question), r.answers,
         r.average]
        for r in data.satisfaction
    ]  # fmt: skip
    return header, rows


def nps_table(data: ReportData) -> Table:
    header = [_bucket_header(data), "answers", "promoters_9_10", "passives_7_8",
              "detractors_0_6", "nps"]  # fmt: skip
    rows: list[list[Cell]] = [
        [_bucket(r.bucket), r.answers, r.promoters, r.passives, r.detractors, r.nps]
        for r in data.nps
    ]
    return header, rows


def complaint_table(data: ReportData) -> Table:
    states = list(labels.TICKET_STATES)
    rows: list[list[Cell]] = [
        [r.cause, labels.zh(labels.CAUSES, r.cause), *(r.by_state[s] for s in states), r.total]
        for r in data.complaints
    ]
    return ["cause", "cause_zh", *states, "total"], rows


def summary_table(data: ReportData) -> Table:
    """The headline figures of the period, one a row."""
    period, handoffs = data.period, data.handoffs.total
    shows, score = data.show_rate_total, data.nps_total
    funnel = {r.stage: r.leads for r in data.funnel}
    answers = sum(r.answers for r in data.satisfaction if r.bucket is None)
    rows: list[list[Cell]] = [
        ["since", "开始日期", period.since.isoformat(), "date"],
        ["until", "结束日期", period.until.isoformat(), "date"],
        ["timezone", "时区", period.zone.key, ""],
        ["leads_created", "新建线索", data.leads_created, "count"],
        ["leads_won", "成交", funnel["won"], "count"],
        ["leads_lost", "战败", funnel["lost"], "count"],
        ["handoffs_opened", "转人工", handoffs.opened, "count"],
        ["claim_median", "认领时间中位数", _round(handoffs.claim_median), "minutes"],
        ["first_reply_median", "首次回复时间中位数", _round(handoffs.reply_median), "minutes"],
        ["test_drives_completed", "试驾到店", shows.completed, "count"],
        ["test_drives_no_show", "试驾未到店", shows.no_show, "count"],
        ["show_rate", "试驾到店率", shows.rate_pct, "%"],
        ["satisfaction_answers", "满意度回答数", answers, "count"],
        ["nps", "净推荐值", score.nps, "-100..100"],
        ["nps_answers", "推荐意愿回答数", score.answers, "count"],
        ["complaints", "投诉", sum(r.total for r in data.complaints), "count"],
    ]
    return ["metric", "metric_zh", "value", "unit"], rows


def write_csv(path: Path, table: Table) -> Path:
    header, rows = table
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if cell is None else cell for cell in row] for row in rows])
    return path


def _reports() -> list[tuple[str, Callable[[ReportData], Table], Callable[[ReportData], Figure]]]:
    """Each report's file name, table and chart (charts imported here: matplotlib is heavy)."""
    from crm_bridge.reports import charts

    return [
        ("lead_funnel", funnel_table, charts.lead_funnel),
        ("leads_by_channel", channel_table, charts.leads_by_channel),
        ("handoff_times", handoff_table, charts.handoff_times),
        ("test_drive_show_rate", show_rate_table, charts.show_rate),
        ("satisfaction", satisfaction_table, charts.satisfaction),
        ("nps", nps_table, charts.nps),
        ("complaints", complaint_table, charts.complaints),
    ]


def write(data: ReportData, out: Path, progress: bool = False) -> list[Path]:
    """Write every report's CSV and PNG, then ``summary.csv``, into ``out``; the files written.

    ``progress`` shows a bar on stderr while the charts are drawn (when stderr is a terminal).
    """
    from crm_bridge.reports import charts

    out.mkdir(parents=True, exist_ok=True)
    reports = _reports()
    written: list[Path] = []
    bar = tqdm(reports, desc="报表 reports", unit="chart", file=sys.stderr,
               disable=None if progress else True)  # fmt: skip
    with charts.style():
        for name, table, chart in bar:
            bar.set_postfix_str(name)
            written.append(write_csv(out / f"{name}.csv", table(data)))
            chart(data).savefig(out / f"{name}.png", format="png")
            written.append(out / f"{name}.png")
    written.append(write_csv(out / "summary.csv", summary_table(data)))
    return written


def charts_of(written: Sequence[Path]) -> list[Path]:
    return [path for path in written if path.suffix == ".png"]
