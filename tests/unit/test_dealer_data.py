"""The dealership data file: the demo loads; a dealership's own file gets clear errors."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from crm_bridge.dealer_data import CATALOG_CODES, DEMO_FILE, load_dealer_data


def test_demo_file_covers_the_catalog() -> None:
    data = load_dealer_data()
    assert data.prices_illustrative
    assert sorted(m.code for m in data.catalog) == sorted(CATALOG_CODES)
    assert data.dealer.phone == "+862168880000"
    assert set(data.dealer.opening_hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    assert all(m.range_km for m in data.catalog if m.powertrain == "ev")
    assert {m.seats for m in data.catalog} >= {4, 5, 7}
    assert data.consultants
    assert data.dealer.test_drive_slot_minutes % 15 == 0
    assert (data.dealer.test_drive_min_notice_minutes, data.dealer.test_drive_horizon_days) == (
        60, 30,
    )  # fmt: skip


def _write(tmp_path: Path, change: Any) -> Path:
    raw = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "dealer.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["catalog"][0].update(code="Q9"), "not a catalog code"),
        (lambda d: d["catalog"][0].update(price_min_cny=999_999_999), "price_min_cny"),
        (lambda d: d["catalog"].append(dict(d["catalog"][0])), "appears twice"),
        (lambda d: d["dealer"].update(phone="12345"), "phone"),
        (lambda d: d["dealer"].update(timezone="Mars/Base"), "time zone"),
        (lambda d: d["dealer"]["opening_hours"].update(mon=["18:00", "09:00"]), "not before"),
        (lambda d: d["promotions"][0].update(models=["X1"]), "unknown models"),
        (lambda d: d["catalog"][7].pop("range_km"), "range_km"),
        (lambda d: d.update(surprise=1), "Extra inputs"),
        (lambda d: d["dealer"].update(test_drive_slot_minutes=50), "multiple of 15"),
        (lambda d: d["dealer"].update(test_drive_horizon_days=0), "test_drive_horizon_days"),
        (lambda d: d["dealer"].update(test_drive_min_notice_minutes=-5), "notice"),
    ],
)
def test_a_wrong_file_is_refused_with_a_clear_reason(
    tmp_path: Path, change: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        load_dealer_data(_write(tmp_path, change))
