"""API tokens and who may do what: creating, listing, revoking and checking tokens.

A token is ``cst_`` followed by 43 random URL-safe characters. Only its SHA-256 is
stored (with the first characters, to recognise it in lists), so the secret is shown
once, when it is made. Every token has a role:

- ``admin``: everything, in every shop (may be bound to no agent, e.g. for CI);
- ``supervisor``: manages the shops of its agent (agents, groups, rules, products,
  coupons, tokens of those agents, customer tokens);
- ``agent``: sees and works the conversations of its agent's shops, acting only as
  that agent;
- ``customer``: one customer in one shop (the web widget): posts to and reads only
  that customer's conversations there.

A token's shops are its agent's shops *now* (read at every request), so moving an
agent between shops moves their rights with them. No token has more rights than its
agent's role.

The token service (``TokenStore``: making, listing, revoking and checking tokens) is
``cstool.services.tokens``; its SQL is ``cstool.storage.repos.tokens``. ``TokenStore`` is
still importable from here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .errors import CstoolError, InvalidInput, UsageError
from .text_rules import check_text

TOKEN_PREFIX = "cst_"
STAFF_ROLES = ("agent", "supervisor", "admin")  # in order of rights
ROLES = (*STAFF_ROLES, "customer")
DEFAULT_EXPIRY = {"staff": "30d", "customer": "7d"}
LAST_USED_EVERY_MS = 60_000  # last_used_at is written at most once a minute per token
PRINCIPAL_TTL_S = 2.0  # longest a cached token -> principal answer is used
PRINCIPAL_CACHE_MAX = 10_000  # tokens cached at most (then the cache starts afresh)
_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
MAX_EXPIRY_MS = 3650 * 86_400_000  # ten years; longer: ``never``


class Unauthorized(CstoolError):
    """No token, or one that is unknown, expired or revoked."""

    code = "unauthorized"
    http_status = 401


class Forbidden(CstoolError):
    """A valid token whose rights do not cover the operation. A ``describe`` parameter
    made by :meth:`Principal.describe` brings ``who`` along (what the description is made
    of), so that the refusal can name the caller in any language."""

    code = "forbidden"
    http_status = 403

    def __init__(self, message: str, *, key: str | None = None, **params: object):
        described = params.get("describe")
        if isinstance(described, Description) and "who" not in params:
            params["who"] = dict(described.who)
        super().__init__(message, key=key, **params)


class Description(str):
    """A caller's description in English (``agent 'xm'``), with what it is made of:
    ``who`` = kind (customer, agent, token), role, agent, customer, shop, token."""

    who: dict

    def __new__(cls, text: str, **who: object) -> Description:
        self = super().__new__(cls, text)
        self.who = who
        return self


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's role, agent or customer, and the shops it may use.

    ``shops`` is None for admins (every shop).
    """

    token_id: int
    role: str
    agent: str | None = None
    shops: frozenset[str] | None = frozenset()
    customer: str | None = None
    shop: str | None = None  # a customer token's shop

    @property
    def is_admin(self) -> bool:
        """True for admin tokens."""
        return self.role == "admin"

    @property
    def is_customer(self) -> bool:
        """True for a widget (customer) token."""
        return self.role == "customer"

    @property
    def manages(self) -> bool:
        """True for supervisors and admins."""
        return self.role in ("supervisor", "admin")

    def may_use_shop(self, shop: str | None) -> bool:
        """True when ``shop`` is among this token's shops (admins: every shop)."""
        if self.shops is None:
            return True
        return shop is not None and shop in self.shops

    def describe(self) -> Description:
        """A short name for messages: ``agent 'xm'``, ``customer 'c1' of shop 's'``; a
        :class:`Description`, whose ``who`` says it in other languages
        (``cstool.i18n.error_text``: ``who.<kind>``)."""
        if self.is_customer:
            return Description(f"customer {self.customer!r} of shop {self.shop!r}",
                               kind="customer", customer=self.customer, shop=self.shop)
        if self.agent:
            return Description(f"{self.role} {self.agent!r}", kind="agent", role=self.role,
                               agent=self.agent)
        return Description(f"admin token {self.token_id}", kind="token", role=self.role,
                           token=self.token_id)

    def to_dict(self) -> dict:
        """JSON form (``GET /v1/me``)."""
        return {
            "token": self.token_id, "role": self.role, "agent": self.agent,
            "shops": None if self.shops is None else sorted(self.shops),
            "customer": self.customer, "shop": self.shop,
        }


def parse_expiry(text: str | None, now_ms: int) -> int | None:
    """``30d``, ``12h``, ``90m``, ``2w`` from now, or ``never`` (None)."""
    if text is None or text == "never":
        return None
    m = re.fullmatch(r"([1-9][0-9]{0,5})([mhdw])", str(text))  # as the API's schema says
    if not m:
        raise UsageError(f"expiry must be like 30d, 12h, 90m, 2w or never, not {text!r}",
                         key="bad_expiry", value=str(text)[:64])
    span = int(m.group(1)) * _UNITS[m.group(2)]
    if span > MAX_EXPIRY_MS:  # past it a date is no longer a date (year 9999 and beyond)
        raise UsageError(f"expiry at most 3650d (ten years) or never, not {text!r}",
                         key="expiry_too_far", value=str(text)[:64])
    return now_ms + span


def hash_token(secret: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_label(label: str | None) -> None:
    if label is not None and (not isinstance(label, str) or len(label) > 100):
        raise InvalidInput("label must be text of at most 100 characters",
                           key="token_label_too_long", max=100)
    if label is not None:
        check_text(label, "label")


def __getattr__(name: str):
    """``cstool.auth.TokenStore``: the token service, imported when first asked for (it
    imports this module)."""
    if name == "TokenStore":
        from .services.tokens import TokenStore

        return TokenStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
