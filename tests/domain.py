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


def response_text(name: str, language: str, **values: Any) -> str:
    """The text of response ``name`` as a customer speaking ``language`` reads it: the variation
    for that language (else the default one), filled with ``values`` as Rasa fills it."""
    variations: list[dict[str, Any]] = load_domain()["responses"][name]

    def language_of(variation: dict[str, Any]) -> str | None:
        conditions = variation.get("condition") or []
        return next((c["value"] for c in conditions if c.get("name") == "language"), None)

    chosen = next((v for v in variations if language_of(v) == language), None)
    chosen = chosen or next(v for v in variations if not v.get("condition"))
    text: str = chosen["text"]
    return text.format(**values)
