"""Dictionary entities: equipment features, competitors' models and paint colours.

These are closed vocabularies the dealership knows better than a statistical extractor: the
dictionary (nlu/resources/gazetteer.yml) gives every match its normalized value directly, and a
competitor's model is never mistaken for a catalog code. Matching runs one compiled alternation of
literals per entity type over the message, so it takes time linear in the message's length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RESOURCE = Path(__file__).resolve().parent / "resources" / "gazetteer.yml"
TYPES = ("feature", "competitor", "color")
EXTRACTOR = "GazetteerExtractor"
_WORD = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class Match:
    entity: str
    start: int
    end: int
    value: str


def _folded(text: str) -> tuple[str, list[int]]:
    """NFKC and lower case, with the index in ``text`` of every character of the result."""
    whole = unicodedata.normalize("NFKC", text).lower()
    if len(whole) == len(text) and unicodedata.is_normalized("NFC", text):
        return whole, list(range(len(text)))  # the common case: one character for one
    out: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).lower()
        out.append(folded)
        index.extend([position] * len(folded))
    return "".join(out), index


def _pattern(alias: str) -> str:
    """A regex for one alias: spaces and "~" match any run of spaces or dashes (or none);
    Latin letters and digits at either end must not continue a longer word."""
    plain = unicodedata.normalize("NFKC", alias).lower().strip()
    parts = [re.escape(p) for p in re.split(r"[\s~]+", plain) if p]
    body = r"[\s\-]*".join(parts)
    if _WORD.match(plain[:1]):
        body = r"(?<![a-z0-9])" + body
    if _WORD.match(plain[-1:]):
        body += r"(?![a-z0-9])"
    return body


def _alternation(aliases: list[str]) -> str:
    # Longest first, so "自适应巡航" wins over "巡航" at the same position.
    ordered = sorted(set(aliases), key=lambda a: (-len(a), a))
    return "|".join(_pattern(a) for a in ordered)


class Gazetteer:
    """Compiled dictionaries; ``find`` returns non-overlapping matches, longest first."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.values: dict[str, dict[str, str]] = {}  # entity -> folded alias -> value
        patterns: dict[str, list[tuple[str, str]]] = {}  # entity -> [(group regex, value)]
        for entity in ("feature", "color"):
            for value, aliases in (data.get(entity) or {}).items():
                patterns.setdefault(entity, []).append((_alternation(aliases), value))
        for brand in (data.get("competitor") or {}).values():
            brand_names = _alternation(brand["brand"])
            for value, aliases in brand["models"].items():
                alone = [a for a in aliases if not a.startswith("^")]
                bare = [a.lstrip("^") for a in aliases]
                branded = rf"(?:{brand_names})[\s\-]*(?:{_alternation(bare)})"
                regex = branded + (f"|{_alternation(alone)}" if alone else "")
                patterns.setdefault("competitor", []).append((regex, value))
        self.regexes: dict[str, tuple[re.Pattern[str], list[str]]] = {}
        for entity, groups in patterns.items():
            compiled = re.compile("|".join(f"({regex})" for regex, _ in groups))
            self.regexes[entity] = (compiled, [value for _, value in groups])
        excluded = [e for e in data.get("exclude") or [] if e]
        self.exclude = re.compile(_alternation(excluded)) if excluded else None

    def find(self, text: str) -> list[Match]:
        folded, index = _folded(text)
        blocked = (
            [(m.start(), m.end()) for m in self.exclude.finditer(folded)] if self.exclude else []
        )
        found: list[tuple[int, int, str, str]] = []
        for entity, (regex, values) in self.regexes.items():
            for match in regex.finditer(folded):
                start, end = match.span()
                if start == end or any(s < end and start < e for s, e in blocked):
                    continue
                group = next(i for i, g in enumerate(match.groups()) if g is not None)
                found.append((start, end, entity, values[group]))
        kept: list[tuple[int, int, str, str]] = []
        for start, end, entity, value in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
            if not any(start < k_end and k_start < end for k_start, k_end, _, _ in kept):
                kept.append((start, end, entity, value))
        return [
            Match(entity, index[start], index[end - 1] + 1, value)
            for start, end, entity, value in sorted(kept)
        ]


@lru_cache(maxsize=4)
def default_gazetteer(path: Path = RESOURCE) -> Gazetteer:
    return Gazetteer(yaml.safe_load(path.read_text(encoding="utf-8")))


def configured(config: dict[str, Any]) -> Gazetteer:
    """The dictionary a component's ``dictionary_path`` names (default: the project's)."""
    path = config.get("dictionary_path")
    return default_gazetteer(Path(path) if path else RESOURCE)


def entities(text: str, gazetteer: Gazetteer | None = None) -> list[dict[str, Any]]:
    """Rasa entity dicts for every dictionary match in ``text``."""
    return [
        {
            "entity": m.entity,
            "start": m.start,
            "end": m.end,
            "value": m.value,
            "confidence_entity": 1.0,
            "extractor": EXTRACTOR,
        }
        for m in (gazetteer or default_gazetteer()).find(text)
    ]


# The Rasa component: imported here so the dictionary logic above stays usable without Rasa.
import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphComponent  # noqa: E402
from rasa.engine.recipes.default_recipe import DefaultV1Recipe  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.engine.storage.storage import ModelStorage  # noqa: E402
from rasa.nlu.constants import TOKENS_NAMES  # noqa: E402
from rasa.nlu.extractors.extractor import EntityExtractorMixin  # noqa: E402
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer  # noqa: E402
from rasa.nlu.tokenizers.tokenizer import Tokenizer  # noqa: E402
from rasa.shared.nlu.constants import ENTITIES, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class GazetteerExtractor(GraphComponent, EntityExtractorMixin):
    """Adds feature, competitor and colour entities from the dictionary, values included."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"dictionary_path": None}  # None: nlu/resources/gazetteer.yml

    def __init__(self, config: dict[str, Any]) -> None:
        self.gazetteer = configured(config)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GazetteerExtractor:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            # Whatever a learned extractor thought of these types, the dictionary decides.
            others = [e for e in message.get(ENTITIES) or [] if e.get("entity") not in TYPES]
            found = entities(message.get(TEXT) or "", self.gazetteer)
            message.set(ENTITIES, others + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class GazetteerFeaturizer(SparseFeaturizer, GraphComponent):
    """Marks the tokens that are a known feature, competitor or colour, so the intent classifier
    reads "Q8跟保时捷卡宴比" and "Q8 vs Cayenne" alike, even with dictionary words never trained on.
    """

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SparseFeaturizer.get_default_config(), "dictionary_path": None}

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self.gazetteer = configured(config)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GazetteerFeaturizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._featurize(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._featurize(message)
        return messages

    def _featurize(self, message: Message) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        text = message.get(TEXT)
        if not text or not tokens:
            return
        sequence = np.zeros([len(tokens), len(TYPES)])
        sentence = np.zeros([1, len(TYPES)])
        for match in self.gazetteer.find(text):
            column = TYPES.index(match.entity)
            sentence[0][column] = 1.0
            for index, token in enumerate(tokens):
                if token.start < match.end and match.start < token.end:
                    sequence[index][column] = 1.0
        self.add_features_to_message(
            scipy.sparse.coo_matrix(sequence), scipy.sparse.coo_matrix(sentence), TEXT, message
        )
