"""A tokenizer for Chinese, English and both mixed in one message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jieba
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.limits import MAX_MESSAGE_CHARS, TOO_LONG
from nlu.runtime import apply_server_fixes

USER_DICTIONARY = Path(__file__).resolve().parent / "resources" / "jieba_user_dict.txt"
# Runs of one script: Chinese characters, or Latin letters/digits. A token never spans both, so
# "想看Q5L预算40万" splits as 想 看 Q5L 预算 40 万 and entity spans stay on token boundaries.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Value words glued to a generic noun by jieba: "电动车" is 电动 + 车, so the entity (powertrain
# "电动") is a whole token at run time too. Words that are values as a whole (轿车, 电车, 旅行车)
# are not listed.
_VALUE_STEM = re.compile(
    r"^(电动|纯电|燃油|汽油|柴油|混动|插混|插电混动|油电混动|新能源|两厢|三厢)(车|版|款|的)$"
)
_SCRIPT_RUN = re.compile(rf"[{_HAN}]+|[^{_HAN}]+")
# Markup, code and emoji around a request ("<b>想试驾Q5L</b>", "```test drive```", "😀 q3多少钱"):
# blanked out before tokenizing, character for character, so spans still point into the text.
_MARKUP = re.compile(
    r"</?[A-Za-z!][^<>\n]{0,80}>|&(?:[A-Za-z]{2,8}|#\d{1,6});|`+|\*\*|__|~~|"
    r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200B-\u200D\u2060]"
)


def mask_markup(text: str) -> str:
    """``text`` with markup, code marks and emoji replaced by as many spaces."""
    return _MARKUP.sub(lambda m: " " * len(m.group()), text)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class MixedTokenizer(Tokenizer):
    """jieba with the dealership's user dictionary; no whitespace tokens; spans kept aligned.

    In training, tokens are also split where an annotated entity starts or ends, so every
    annotation lines up with token boundaries.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "dictionary_path": None,  # None: nlu/resources/jieba_user_dict.txt
            "hmm": True,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return None  # Chinese, English and both mixed

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba"]

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        # The pipeline's first component is built when the server loads the model: the moment to
        # apply the server's speed fixes (nlu/runtime.py), never at import.
        apply_server_fixes()
        self._jieba = jieba.Tokenizer()
        self._jieba.load_userdict(str(config.get("dictionary_path") or USER_DICTIONARY))
        self._jieba.initialize()
        self._hmm = bool(config.get("hmm", True))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedTokenizer:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        """Tokens for each message; one over ``MAX_MESSAGE_CHARS`` is not parsed at all.

        Its text is emptied for the rest of the pipeline (the conversation keeps what was sent)
        and its length noted for the normalizer, which answers it as not understood.
        """
        for message in messages:
            text = message.get(TEXT) or ""
            if len(text) > MAX_MESSAGE_CHARS:
                message.set(TEXT, "")
                message.set(TOO_LONG, {"chars": len(text), "limit": MAX_MESSAGE_CHARS})
        processed: list[Message] = super().process(messages)
        return processed

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text: str = message.get(attribute) or ""
        boundaries: set[int] = set()
        if attribute == TEXT:
            for entity in message.get(ENTITIES) or []:
                boundaries.update((entity["start"], entity["end"]))
        tokens = [
            Token(piece, start)
            for word, offset, _ in self._jieba.tokenize(mask_markup(text), HMM=self._hmm)
            for piece, start in split_word(word, offset, boundaries)
            if piece.strip()
        ]
        result: list[Token] = self._apply_token_pattern(tokens)
        return result


def split_word(word: str, offset: int, boundaries: set[int]) -> list[tuple[str, int]]:
    """``word`` (at ``offset``) cut where the script changes and at the given boundaries."""
    pieces: list[tuple[str, int]] = []
    for run in _SCRIPT_RUN.finditer(word):
        start = offset + run.start()
        stem = _VALUE_STEM.match(run.group())
        cuts = sorted(b - start for b in boundaries if start < b < start + len(run.group()))
        if stem and len(stem.group(1)) not in cuts:
            cuts = sorted([*cuts, len(stem.group(1))])
        previous = 0
        for cut in [*cuts, len(run.group())]:
            pieces.append((run.group()[previous:cut], start + previous))
            previous = cut
    return pieces
