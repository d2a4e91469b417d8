"""The desk's checks of what a caller sends (text, chat context), before any transaction."""

from __future__ import annotations

from typing import Any

from .. import service
from ..errors import InvalidInput
from ..resources import CHANNELS
from ..routing.fields import INTENTS
from ..text_rules import check_text as check_text_rules


def check_text(text: str, *, what: str = "message") -> str:
    """A message, reply or comment: not empty, no control characters, not too long."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{what} is empty", key="text_empty", what=what)
    check_text_rules(text, what, multiline=True)  # no control characters but newline, tab
    if len(text) > service.MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"{what} too long ({len(text)} characters, at most {service.MAX_MESSAGE_CHARS})",
            key="text_too_long", what=what, length=len(text), max=service.MAX_MESSAGE_CHARS)
    return text


def check_context(channel: str | None, time_on_site_s: Any, pages_viewed: Any,
                  intent: str | None) -> None:
    """The chat's context as a post or a routing dry run gives it."""
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})",
                           key="unknown_channel", channel=channel, known=", ".join(CHANNELS))
    for name, value in (("time on site", time_on_site_s), ("pages viewed", pages_viewed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise InvalidInput(f"{name} must be a whole number >= 0, not {value!r}",
                               key="not_count", field=name, value=repr(value))
    if intent is not None and intent not in INTENTS:
        raise InvalidInput(f"unknown intent {intent!r} (one of {', '.join(INTENTS)})",
                           key="unknown_intent", intent=intent, known=", ".join(INTENTS))
