"""The bot as a pluggable step of the conversation flow.

The conversation engine asks a ``BotStep`` what to do with each customer message
while a chat is with the bot. ``HandoffBot`` is the placeholder until the knowledge
bot lands (issue 4): it never answers and always hands the chat to a human.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class BotReply:
    """What the bot does with one message: answer, suggest (did you mean) or handoff."""

    action: str
    text: str = ""
    entry: str | None = None
    confidence: float = 0.0
    choices: list[str] = field(default_factory=list)


class BotStep(Protocol):
    """Anything that can reply to a customer message for a shop."""

    def reply(self, shop: str, text: str, context: dict) -> BotReply:
        """Decide what to do with ``text`` (``context``: customer, conversation, history)."""


class HandoffBot:
    """Placeholder bot: always hands off to a human (the knowledge bot replaces it)."""

    def reply(self, shop: str, text: str, context: dict) -> BotReply:
        """Hand off, always."""
        return BotReply(action="handoff")
