"""The bot as a pluggable step of the conversation flow.

The conversation engine asks a ``BotStep`` what to do with each customer message
while a chat is with the bot. The knowledge bot (``cstool.bot.knowledge_bot``) is the
default; ``HandoffBot`` always hands off (a desk with no bot, and tests of routing).

``context`` carries what the step may use: ``conversation`` (id or None for a dry
run), ``customer`` (key or None), ``knowledge`` (a source of entries and the shops'
bot settings), ``commerce`` (the customer's orders, the shop's products and coupons,
for multi-turn flows; None without a customer) and ``memory`` (what the bot kept from
earlier turns of this conversation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class BotReply:
    """What the bot does with one message: answer, suggest (did you mean) or handoff.

    ``text`` is the message sent (empty on handoff); ``entry`` the key of the top
    knowledge entry; ``choices`` the entry keys offered; ``answer`` the answer given
    when ``action == "answer"``. ``kind`` and ``payload`` shape the stored message
    (an order card, a product card, the did-you-mean options). ``memory`` is what to
    keep for the next turn of the conversation (None: leave it as it is); ``record``
    a question to keep for review in the learning loop (None: nothing to record).
    """

    action: str
    text: str = ""
    entry: str | None = None
    confidence: float = 0.0
    choices: list[str] = field(default_factory=list)
    answer: str | None = None
    reason: str = ""
    kind: str = "text"
    payload: dict[str, Any] = field(default_factory=dict)
    flow: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None
    record: str | None = None

    def to_dict(self, question: str) -> dict[str, Any]:
        """The JSON form of ``cstool bot ask``: question, action, entry, confidence,
        answer, choices, then reason, the message text, the flow step and the products
        recommended (cards with the price after discounts; empty otherwise)."""
        return {
            "question": question,
            "action": self.action,
            "entry": self.entry,
            "confidence": round(float(self.confidence), 4),
            "answer": self.answer,
            "choices": list(self.choices),
            "reason": self.reason,
            "text": self.text,
            "flow": self.flow,
            "products": list(self.payload.get("products") or []),
        }


class BotStep(Protocol):
    """Anything that can reply to a customer message for a shop."""

    def reply(self, shop: str, text: str, context: dict) -> BotReply:
        """Decide what to do with ``text`` (see the module docstring for ``context``)."""


class HandoffBot:
    """A bot that never answers: every chat goes to a human (no-bot desks, tests)."""

    def reply(self, shop: str, text: str, context: dict) -> BotReply:
        """Hand off, always."""
        return BotReply(action="handoff", reason="no_bot")
