"""What may be done to an order in each of its states (pure: no I/O, no clock).

The one place the guards live: the orders service (``cstool order cancel`` / ``order
address``, the API) refuses with them, and the bot that acts reads them to refuse
before it asks the customer to confirm.

* **cancel**: only an order not paid yet (``created``); a paid one is refunded, not
  cancelled (an after-sale request);
* **change the address or phone**: only before it ships (``created``, ``paid``).
"""

from __future__ import annotations

import re

from .errors import Conflict, InvalidInput

CANCELLABLE = ("created",)
ADDRESS_CHANGEABLE = ("created", "paid")
PHONE_MAX = 32
ADDRESS_MAX = 200
RECEIVER_MAX = 64

# why an order in a status cannot be cancelled / re-addressed: a refusal reason
_CANCEL_REASONS = {"paid": "paid", "shipped": "shipped", "delivered": "shipped",
                   "refund_requested": "refund", "refunded": "refund",
                   "cancelled": "cancelled"}
_ADDRESS_REASONS = {"shipped": "shipped", "delivered": "shipped", "refund_requested": "refund",
                    "refunded": "refund", "cancelled": "cancelled"}

_PHONE = re.compile(r"\+?[0-9][0-9 \-]{4,30}")


def cancel_refusal(status: str) -> str | None:
    """Why an order in ``status`` cannot be cancelled (``paid``, ``shipped``,
    ``refund``, ``cancelled``), or None when it can."""
    if status in CANCELLABLE:
        return None
    return _CANCEL_REASONS.get(status, "status")


def address_refusal(status: str) -> str | None:
    """Why the address or phone of an order in ``status`` cannot change (``shipped``,
    ``refund``, ``cancelled``), or None when it can."""
    if status in ADDRESS_CHANGEABLE:
        return None
    return _ADDRESS_REASONS.get(status, "status")


def check_cancel(key: str, status: str) -> None:
    """Conflict (``order_not_cancellable``) unless the order may be cancelled."""
    reason = cancel_refusal(status)
    if reason is not None:
        raise Conflict(f"order {key!r} is {status}: only an unpaid order can be cancelled",
                       key="order_not_cancellable", order=key, order_status=status)


def check_address_change(key: str, status: str) -> None:
    """Conflict (``order_address_fixed``) unless the order's address may change."""
    reason = address_refusal(status)
    if reason is not None:
        raise Conflict(f"order {key!r} is {status}: the address can change only before it "
                       "ships", key="order_address_fixed", order=key, order_status=status)


def normal_phone(phone: str) -> str:
    """A phone number as stored: digits with an optional leading +, spaces and dashes
    kept out; InvalidInput (``order_phone``) for anything else."""
    text = (phone or "").strip()
    if not _PHONE.fullmatch(text):
        raise InvalidInput(f"{phone!r} is not a phone number (digits, 5 to 20)",
                           key="order_phone", phone=str(phone)[:40])
    digits = re.sub(r"[ \-]", "", text)
    if not 5 <= len(digits.lstrip("+")) <= 20:
        raise InvalidInput(f"{phone!r} is not a phone number (digits, 5 to 20)",
                           key="order_phone", phone=str(phone)[:40])
    return digits


def normal_text(value: str, what: str, most: int) -> str:
    """An address or a receiver's name: one line of 2 to ``most`` characters."""
    text = " ".join((value or "").split())
    if len(text) < 2 or len(text) > most:
        raise InvalidInput(f"the {what} must be 2 to {most} characters",
                           key="order_field_length", field=what, most=most)
    return text
