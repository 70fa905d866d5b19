"""How equipment, colours, trims and stock read in each language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from actions import formatting as fmt
from crm_bridge.models import Trim
from crm_bridge.vehicles import FeatureAnswer, StockAnswer, StockLine

FEATURES = {
    "seat_heating": ("座椅加热", "seat heating"),
    "seat_ventilation": ("座椅通风", "seat ventilation"),
    "seat_massage": ("座椅按摩", "seat massage"),
    "heated_steering": ("方向盘加热", "a heated steering wheel"),
    "cruise_control": ("定速巡航", "cruise control"),
    "adaptive_cruise": ("全速自适应巡航", "adaptive cruise control"),
    "driver_assist": ("车道保持等辅助驾驶", "driver assistance with lane keeping"),
    "parking_assist": ("自动泊车", "park assist"),
    "camera_360": ("360°全景影像", "a 360° camera"),
    "quattro": ("quattro四驱", "quattro all-wheel drive"),
    "air_suspension": ("自适应空气悬架", "adaptive air suspension"),
    "matrix_led": ("Matrix矩阵式LED大灯", "Matrix LED headlights"),
    "panoramic_roof": ("全景天窗", "a panoramic sunroof"),
    "head_up_display": ("HUD抬头显示", "a head-up display"),
    "virtual_cockpit": ("全液晶虚拟座舱", "the virtual cockpit"),
    "wireless_charging": ("手机无线充电", "wireless phone charging"),
    "carplay": ("CarPlay/CarLife手机互联", "CarPlay and CarLife"),
    "premium_audio": ("B&O高级音响", "Bang & Olufsen sound"),
    "power_tailgate": ("电动尾门", "a power tailgate"),
    "keyless": ("无钥匙进入", "keyless entry"),
    "ambient_lighting": ("多色氛围灯", "multi-colour ambient lighting"),
}
COLORS = {
    "white": ("白色", "white"), "black": ("黑色", "black"), "grey": ("灰色", "grey"),
    "silver": ("银色", "silver"), "blue": ("蓝色", "blue"), "red": ("红色", "red"),
    "green": ("绿色", "green"), "brown": ("棕色", "brown"),
}  # fmt: skip


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[1] if language == "en" else pair[0]


def feature(code: str, language: str) -> str:
    return _pick(FEATURES.get(code, (code, code.replace("_", " "))), language)


def features(codes: Sequence[str], language: str) -> str:
    return fmt.joined((feature(c, language) for c in codes), language)


def color(code: str, language: str) -> str:
    return _pick(COLORS.get(code, (code, code)), language)


def trim(t: Trim, language: str) -> str:
    return t.name_en if language == "en" else t.name


def availability(answer: FeatureAnswer, language: str) -> str:
    """ "豪华动感型起标配，时尚动感型可选装" / "standard from the Luxury Dynamic up; optional …" """
    first = answer.standard_from()
    lowest = answer.by_trim[0][0] if answer.by_trim else None
    parts: list[str] = []
    if first is not None and first is lowest:
        parts.append("all trims have it as standard" if language == "en" else "全系标配")
    elif first is not None:
        parts.append(
            f"standard from the {trim(first, 'en')} up"
            if language == "en"
            else f"{trim(first, 'zh')}起标配"
        )
    below = [(t, a) for t, a in answer.by_trim if first is None or t.price_cny < first.price_cny]
    standard = [t for t, a in below if a == "standard"]
    optional = [t for t, a in below if a == "optional"]
    missing = [t for t, a in below if a is None]

    def names(trims: list[Trim]) -> str:
        return fmt.joined((trim(t, language) for t in trims), language)

    if standard:
        parts.append(f"standard on the {names(standard)}" if language == "en"
                     else f"{names(standard)}标配")  # fmt: skip
    if optional:
        parts.append(f"optional on the {names(optional)}" if language == "en"
                     else f"{names(optional)}可选装")  # fmt: skip
    if missing:
        parts.append(f"not available on the {names(missing)}" if language == "en"
                     else f"{names(missing)}不提供")  # fmt: skip
    return ("; " if language == "en" else "，").join(parts)


def _stock_line(line: StockLine, language: str, today: date) -> str:
    what = f"{trim(line.trim, language)} {color(line.color, language)}"
    if line.status == "in_stock":
        return (f"{what}: {line.quantity} in stock" if language == "en"
                else f"{what}现车{line.quantity}台")  # fmt: skip
    if line.status == "arriving" and line.arrives_on is not None:
        if line.arrives_on <= today:
            return (f"{what}: arriving any day now" if language == "en"
                    else f"{what}即将到店")  # fmt: skip
        when = (f"{line.arrives_on.day} {line.arrives_on.strftime('%b')}" if language == "en"
                else f"{line.arrives_on.month}月{line.arrives_on.day}日")  # fmt: skip
        return f"{what}: arriving about {when}" if language == "en" else f"{what}预计{when}到店"
    weeks = max(1, round((line.lead_time_days or 0) / 7))
    return (f"{what}: to order, about {weeks} weeks" if language == "en"
            else f"{what}需订车，约{weeks}周")  # fmt: skip


def stock(answer: StockAnswer, language: str, today: date, limit: int = 4) -> str:
    """In-stock cars first, then the next arrivals, then what must be ordered."""
    lines = [*answer.in_stock, *answer.arriving, *answer.to_order][:limit]
    return ("; " if language == "en" else "；").join(_stock_line(x, language, today) for x in lines)


def size(length: int | None, wheelbase: int | None, language: str) -> str:
    if not length or not wheelbase:
        return ""
    if language == "en":
        return f"{length:,} mm long with a {wheelbase:,} mm wheelbase"
    return f"车长{length}毫米，轴距{wheelbase}毫米"
