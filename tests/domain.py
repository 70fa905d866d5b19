"""The real Rasa domain, loaded the way the Rasa server sends it to the action server."""

from __future__ import annotations

from typing import Any

import yaml

from crm_bridge.settings import PROJECT_ROOT


def load_domain() -> dict[str, Any]:
    domain: dict[str, Any] = {}
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in part.items():
            if isinstance(value, dict):
                domain.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                domain.setdefault(key, []).extend(value)
            else:
                domain[key] = value
    return domain
