"""Reports: every number checked against rows inserted at fixed times (on SQLite and
PostgreSQL), periods in the dealer's days, the CSV tables and PNG charts written, Chinese drawn
with an installed CJK font, and the CLI as a manager runs it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_bridge import migrate, staff
from crm_bridge.catalog import load_dealer_data_into
from crm_bridge.db import SessionFactory, build_engine, build_session_factory, transaction
from crm_bridge.dealer_data import load_dealer_data
from crm_bridge.leads import log_event
from crm_bridge.models import Booking, Consultant, DemoCar, Handoff, Lead, Survey, Ticket
from crm_bridge.reports import build, charts, metrics
from crm_bridge.reports.period import Period, PeriodError, parse_period, percentile
from crm_bridge.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), SHANGHAI)  # weekly: 6 buckets
CLI = str(Path(sys.executable).parent / "dealer-assistant")
PNG = b"\x89PNG\r\n\x1a\n"


def local(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def seed(sessions: SessionFactory) -> None:
    """A month of a small dealership: what each report must count is spelled out below."""
    with transaction(sessions) as session:
        load_dealer_data_into(session, load_dealer_data())
        wang = staff.add(session, staff.StaffEntry(5001, "王磊", "consultant"))

        # Leads: (channel, level, status now, statuses passed through, created at).
        for channel, level, status, path, created in (
            ("web", "H", "won", ["qualified", "handed_off", "contacted", "test_drive_booked",
                                 "won"], local(3)),
            ("telegram", "A", "lost", ["qualified", "test_drive_booked", "lost"], local(4)),
            # a cancelled test drive sends the lead back to qualified: it still reached the stage
            ("telegram", "B", "qualified", ["qualified", "test_drive_booked", "qualified"],
             local(10)),
            ("phone", None, "new", [], local(11)),
            ("web", "C", "contacted", [], local(12)),  # a status without history counts too
            ("rest", "H", "new", [], local(1, 0, 0)),  # the first instant of the period
            (None, None, "new", [], local(30, 23, 59)),  # and the last minute
            ("web", "H", "won", ["won"], local(31, 23, 59, month=10)),  # before the period
            ("web", "H", "new", [], local(1, 0, 0, month=12)),  # after it
        ):  # fmt: skip
            lead = Lead(channel=channel, level=level, status=status, created_at=created)
            session.add(lead)
            session.flush()
            previous = "new"
            for step, new in enumerate(path, start=1):
                at = created + timedelta(hours=step)
                log_event(session, lead, at, "test", "status", "status", previous, new)
                previous = new

        # Hand-offs: opened, minutes to the claim, minutes to the first reply.
        for n, (opened, claim, reply) in enumerate(
            [(local(3), 2, 5), (local(4), 4, 10), (local(5), 12, None), (local(5, 11), None, None),
             (local(10, 9), 20, 30), (local(31, 23, month=10), 1, 1)]
        ):  # fmt: skip
            session.add(
                Handoff(
                    sender_id=f"telegram:{n}",
                    reason="person",
                    state="waiting" if claim is None else "done",
                    owner_id=None if claim is None else wang.id,
                    opened_at=opened,
                    claim_due_at=opened + timedelta(minutes=10),
                    claimed_at=None if claim is None else opened + timedelta(minutes=claim),
                    first_reply_at=None if reply is None else opened + timedelta(minutes=reply),
                )
            )

        # Test drives by their start: completed, no-show, and ones the show rate ignores.
        car = session.scalars(select(DemoCar).order_by(DemoCar.id)).first()
        consultant = session.scalars(select(Consultant).order_by(Consultant.id)).first()
        assert car is not None
        assert consultant is not None
        for start, status in (
            (local(3), "completed"), (local(4), "completed"), (local(6), "no_show"),
            (local(17), "completed"), (local(18), "booked"), (local(19), "cancelled"),
            (local(1, 10, month=12), "no_show"),
        ):  # fmt: skip
            session.add(
                Booking(model_code=car.model_code, demo_car_id=car.id,
                        consultant_id=consultant.id, start=start,
                        end=start + timedelta(minutes=30), status=status)
            )  # fmt: skip

        # Surveys, dated by completed_at, else (answered in part) by sent_at.
        for kind, sent, completed, answers in (
            ("post_delivery", local(2), local(3, 12), {"consultant": 5, "delivery": 4,
                                                       "recommend": 10, "comment": "很好"}),
            ("post_delivery", local(3), local(4, 12), {"consultant": 3, "delivery": 2,
                                                       "recommend": 6}),
            ("post_delivery", local(10), None, {"consultant": 4}),  # partial
            ("post_test_drive", local(11), local(11, 12), {"test_drive": 5, "consultant": 5,
                                                           "comment": "no"}),
            ("post_delivery", local(12), local(12, 12), {"car": 4, "recommend": 8}),
            ("post_delivery", local(25, month=10), local(20), {"recommend": 9}),
            ("post_delivery", local(28), local(2, month=12), {"recommend": 0}),  # finished later
            ("post_delivery", local(30), local(1, 0, 30, month=12), {"consultant": 1}),
        ):  # fmt: skip
            session.add(Survey(kind=kind, scheduled_for=sent, sent_at=sent,
                               completed_at=completed, answers=answers))  # fmt: skip

        # Complaint tickets by cause and state.
        for cause, state, opened in (
            ("consultant", "open", local(4)), ("consultant", "open", local(11)),
            ("consultant", "resolved", local(12)), ("price", "in_progress", local(20)),
            (None, "open", local(21)), ("car", "open", local(1, month=12)),
        ):  # fmt: skip
            session.add(Ticket(source="survey", cause=cause, state=state, opened_at=opened))


@pytest.fixture
def november(sessions: SessionFactory, settings: Settings) -> metrics.ReportData:
    seed(sessions)
    from crm_bridge.surveys.config import cached

    with sessions() as session:
        return metrics.collect(session, NOVEMBER, cached(settings.survey_config_path))


def test_periods_are_whole_dealer_days() -> None:
    period = parse_period("2026-11-01", "2026-11-30", SHANGHAI)
    assert period.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert (period.days, period.granularity) == (30, "week")
    # Weeks start on Mondays; the first one is clipped to the period.
    assert [d.day for d in period.buckets()] == [1, 2, 9, 16, 23, 30]
    assert period.bucket_of(datetime(2026, 11, 8, 15, 59, tzinfo=UTC)) == date(2026, 11, 2)
    assert period.bucket_of(datetime(2026, 11, 8, 16, 0, tzinfo=UTC)) == date(2026, 11, 9)
    week = Period.last_days(date(2026, 11, 30), 7, SHANGHAI)
    assert (week.since, week.granularity, len(week.buckets())) == (date(2026, 11, 24), "day", 7)
    for since, until, message in (
        ("2026-11-31", "2026-12-01", "--since '2026-11-31' is not a date"),
        ("2026-12-02", "2026-12-01", "is after --until"),
        ("2020-01-01", "2026-12-01", "at most"),
    ):
        with pytest.raises(PeriodError, match=message):
            parse_period(since, until, SHANGHAI)


def test_percentiles_interpolate_like_a_spreadsheet() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 90) == 7.0
    assert percentile([2.0, 12.0, 4.0], 50) == 4.0
    assert percentile([2.0, 4.0, 12.0], 90) == pytest.approx(10.4)


def test_lead_funnel_and_sources_count_the_periods_leads(november: metrics.ReportData) -> None:
    funnel = {row.stage: (row.leads, row.pct_of_created) for row in november.funnel}
    assert funnel == {
        "new": (7, 100.0), "qualified": (4, 57.1), "handed_off": (4, 57.1),
        "contacted": (4, 57.1), "test_drive_booked": (3, 42.9), "won": (1, 14.3),
        "lost": (1, 14.3),
    }  # fmt: skip
    counts = {(r.channel, r.level): r.leads for r in november.channels if r.leads}
    assert counts == {
        ("web", "H"): 1, ("web", "C"): 1, ("telegram", "A"): 1, ("telegram", "B"): 1,
        ("phone", "unrated"): 1, ("rest", "H"): 1, ("unknown", "unrated"): 1,
    }  # fmt: skip
    assert len(november.channels) == 5 * 5  # every channel and level, zeros included


def test_handoff_response_times(november: metrics.ReportData) -> None:
    times = november.handoffs
    weeks = {row.bucket: row for row in times.rows}
    first = weeks[date(2026, 11, 2)]
    assert (first.opened, first.claimed, first.replied) == (4, 3, 2)
    assert first.claim_median == 4.0
    assert first.claim_p90 == pytest.approx(10.4)
    assert first.reply_median == 7.5
    assert first.reply_p90 == pytest.approx(9.5)
    second = weeks[date(2026, 11, 9)]
    assert (second.opened, second.claim_median, second.reply_p90) == (1, 20.0, 30.0)
    assert weeks[date(2026, 11, 16)].opened == 0
    assert weeks[date(2026, 11, 16)].claim_median is None
    total = times.total
    assert (total.opened, total.claimed, total.replied) == (5, 4, 3)
    assert total.claim_median == 8.0
    assert total.claim_p90 == pytest.approx(17.6)
    assert total.reply_median == 10.0
    assert total.reply_p90 == pytest.approx(26.0)
    assert sorted(times.claim_minutes) == [2.0, 4.0, 12.0, 20.0]


def test_show_rate_satisfaction_nps_and_complaints(november: metrics.ReportData) -> None:
    rates = {(r.bucket, r.completed, r.no_show, r.rate_pct) for r in november.show_rate}
    assert (date(2026, 11, 2), 2, 1, 66.7) in rates
    assert (date(2026, 11, 16), 1, 0, 100.0) in rates
    assert (date(2026, 11, 9), 0, 0, None) in rates
    assert november.show_rate_total == metrics.ShowRateRow(None, 3, 1, 75.0)

    assert november.questions == ["consultant", "delivery", "car", "test_drive"]
    scores = {(r.bucket, r.question): (r.answers, r.average) for r in november.satisfaction}
    assert scores[(date(2026, 11, 2), "consultant")] == (2, 4.0)
    assert scores[(date(2026, 11, 2), "delivery")] == (2, 3.0)
    assert scores[(date(2026, 11, 9), "consultant")] == (2, 4.5)  # the partial survey counts
    assert scores[(date(2026, 11, 9), "test_drive")] == (1, 5.0)
    assert scores[(date(2026, 11, 23), "car")] == (0, None)
    assert scores[(None, "consultant")] == (4, 4.25)
    assert scores[(None, "car")] == (1, 4.0)

    assert november.nps_total == metrics.NpsRow(None, 4, 2, 1, 1, 25.0)
    weeks = {r.bucket: (r.answers, r.nps) for r in november.nps}
    assert weeks[date(2026, 11, 2)] == (2, 0.0)
    assert weeks[date(2026, 11, 16)] == (1, 100.0)  # completed in the period, sent before it
    assert weeks[date(2026, 11, 30)] == (0, None)

    complaints = [(r.cause, r.by_state, r.total) for r in november.complaints]
    assert complaints == [
        ("consultant", {"open": 2, "in_progress": 0, "resolved": 1}, 3),
        ("price", {"open": 0, "in_progress": 1, "resolved": 0}, 1),
        ("unclassified", {"open": 1, "in_progress": 0, "resolved": 0}, 1),
    ]


def read_csv(path: Path) -> list[list[str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def assert_png(path: Path) -> None:
    content = path.read_bytes()
    assert content.startswith(PNG), path
    assert len(content) > 15_000, path  # a drawn chart, not an empty canvas


def test_tables_and_charts_are_written(november: metrics.ReportData, tmp_path: Path) -> None:
    written = build.write(november, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert len(names) == 15
    for path in build.charts_of(written):
        assert_png(path)
    funnel = read_csv(tmp_path / "out" / "lead_funnel.csv")
    assert funnel[0] == ["stage", "stage_zh", "leads_reached", "pct_of_created"]
    assert funnel[5] == ["test_drive_booked", "已约试驾", "3", "42.9"]
    channels = read_csv(tmp_path / "out" / "leads_by_channel.csv")
    assert channels[0] == ["channel", "channel_zh", "H", "A", "B", "C", "unrated", "total"]
    assert channels[1] == ["web", "网页", "1", "0", "0", "1", "0", "2"]
    handoffs = read_csv(tmp_path / "out" / "handoff_times.csv")
    assert handoffs[0][0] == "week_starting"
    assert handoffs[2] == ["2026-11-02", "4", "3", "2", "4.0", "10.4", "7.5", "9.5"]
    assert handoffs[-1] == ["total", "5", "4", "3", "8.0", "17.6", "10.0", "26.0"]
    assert ["2026-11-09", "0", "0", ""] in read_csv(tmp_path / "out" / "test_drive_show_rate.csv")
    complaints = read_csv(tmp_path / "out" / "complaints.csv")
    assert complaints[3] == ["unclassified", "未分类", "1", "0", "0", "1"]
    summary = {row[0]: row[2] for row in read_csv(tmp_path / "out" / "summary.csv")[1:]}
    assert summary["leads_created"] == "7"
    assert summary["show_rate"] == "75.0"
    assert summary["nps"] == "25.0"
    assert summary["claim_median"] == "8.0"
    assert summary["complaints"] == "5"


def test_an_empty_period_still_draws_every_chart(
    sessions: SessionFactory, settings: Settings, tmp_path: Path
) -> None:
    from crm_bridge.surveys.config import cached

    with sessions() as session:
        data = metrics.collect(session, NOVEMBER, cached(settings.survey_config_path))
    written = build.write(data, tmp_path)
    for path in build.charts_of(written):
        assert path.read_bytes().startswith(PNG)
    summary = {row[0]: row[2] for row in read_csv(tmp_path / "summary.csv")[1:]}
    assert (summary["leads_created"], summary["show_rate"], summary["nps"]) == ("0", "", "")


def test_chinese_is_drawn_with_an_installed_cjk_font(
    november: metrics.ReportData, tmp_path: Path
) -> None:
    """`make setup` installs the font (as root); the charts must find and use it."""
    if charts.cjk_family() is None and os.geteuid() != 0:
        pytest.skip("not root, so `make setup` could not install a CJK font")
    assert charts.cjk_family() is not None, "no CJK font: `make setup` as root installs one"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build.write(november, tmp_path)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []


def test_without_a_cjk_font_the_charts_are_drawn_and_a_warning_says_so_once(
    november: metrics.ReportData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font SC",))
    charts.cjk_family.cache_clear()
    try:
        for folder in ("first", "second"):
            for path in build.charts_of(build.write(november, tmp_path / folder)):
                assert_png(path)
    finally:
        charts.cjk_family.cache_clear()
    assert capsys.readouterr().err.count("Chinese labels will not render") == 1


def test_cli_writes_the_reports_or_says_what_is_wrong(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dealer.db'}"
    migrate.upgrade(url)
    engine = build_engine(url)
    seed(build_session_factory(engine))
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "VAR_DIR": str(tmp_path / "var")}
    out = tmp_path / "reports"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, "report", *args], env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    done = run("--since", "2026-11-01", "--until", "2026-11-30", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert str(out / "lead_funnel.png") in done.stdout.splitlines()
    assert_png(out / "nps.png")
    assert read_csv(out / "lead_funnel.csv")[1] == ["new", "新线索", "7", "100.0"]
    for args, message in (
        (("--since", "2026-11-31", "--until", "2026-11-30"), "not a date"),
        (("--since", "2026-12-01", "--until", "2026-11-30"), "is after --until"),
    ):
        refused = run(*args, "--out", str(tmp_path / "no"))
        assert (refused.returncode, refused.stdout) == (2, "")
        assert message in refused.stderr
    assert not (tmp_path / "no").exists()
