"""How well free-text survey answers map to scores, on the held-out set written by someone who
never saw the mapper (tests/data/survey_answers_heldout.yml).

    .venv/bin/python bench/survey_answers.py [--misses]

Prints accuracy overall, by scale and by language; results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from crm_bridge.surveys import scores

HELD_OUT = Path(__file__).parents[1] / "tests" / "data" / "survey_answers_heldout.yml"
CJK = re.compile(r"[\u4e00-\u9fff]")


def load_items(path: Path = HELD_OUT) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    return items


def correct(item: dict[str, Any]) -> bool:
    expected = item["expected"]
    allowed = expected if isinstance(expected, list) else [expected]
    return scores.score(item["text"], item["scale"]) in allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the answers mapped wrongly")
    args = parser.parse_args()
    items = load_items()
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for item in items:
        language = "zh" if CJK.search(item["text"]) else "en"
        groups = ("all", f"scale:{item['scale']}", f"language:{language}")
        ok = correct(item)
        for group in groups:
            total[group] += 1
            right[group] += ok
        if args.misses and not ok:
            got = scores.score(item["text"], item["scale"])
            print(f"  miss: {item['text']!r} ({item['scale']}) -> {got}, want {item['expected']}")
    for group in sorted(total, key=lambda g: (g != "all", g)):
        print(f"{group:24} {right[group]:4}/{total[group]:<4} {right[group] / total[group]:.1%}")


if __name__ == "__main__":
    main()
