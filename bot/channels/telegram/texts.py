"""What the Telegram channel says itself, in Chinese and English (the assistant's own words come
from Rasa). ``say(key, language, **values)``; values are escaped by the caller where HTML."""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    "wait": {
        "zh": "系统有点忙，请稍等片刻，我马上回复您。",
        "en": "One moment please, I'll answer you shortly.",
    },
    "sticker": {
        "zh": "😊 收到！有什么可以帮您？可以问我车型、价格、优惠，或预约试驾。",
        "en": "😊 Got it! How can I help? Ask me about models, prices, offers or a test drive.",
    },
    "photo": {
        "zh": "我暂时看不了图片。请用文字告诉我您想了解什么，比如车型、配置或价格。",
        "en": "I can't look at pictures yet. Please tell me in words what you'd like to know.",
    },
    "voice": {
        "zh": "我暂时听不了语音，麻烦您打字告诉我，谢谢！",
        "en": "I can't listen to voice messages yet; could you type it for me? Thank you!",
    },
    "other": {
        "zh": "这类消息我暂时处理不了，请用文字和我聊。",
        "en": "I can't handle that kind of message yet; please write to me in text.",
    },
    "edited": {
        "zh": "我看到您修改了消息。我是按原来的内容回复的，如有变化请直接再发一条。",
        "en": "I saw your edit. I answered the original; please send any change as a new message.",
    },
    "group": {
        "zh": "您好！为了保护您的隐私，请私聊我咨询购车事宜。",
        "en": "Hello! To keep your details private, please message me directly.",
    },
    "share_phone": {"zh": "📱 发送我的手机号", "en": "📱 Share my phone number"},
    "share_phone_hint": {
        "zh": "也可以点下面的按钮直接发送您的手机号。",
        "en": "You can also tap the button below to share your number.",
    },
    "not_own_contact": {
        "zh": "这是别人的联系人名片。请发送您本人的手机号，或直接输入号码。",
        "en": "That is someone else's contact. Please share your own number or type it.",
    },
}


def say(key: str, language: str | None, **values: str) -> str:
    """The text in the language (Chinese unless English)."""
    text = TEXTS[key]["en" if language == "en" else "zh"]
    return text.format(**values) if values else text


def language_of(code: str | None) -> str:
    """Telegram's ``language_code`` as the assistant's language."""
    return "en" if (code or "").lower().startswith("en") else "zh"
