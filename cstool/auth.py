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
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend.local import LocalBackend

from .errors import Conflict, CstoolError, InvalidInput, NotFound, UsageError
from .text_rules import check_text
from .values import SLUG_RE, format_time, short_time

TOKEN_PREFIX = "cst_"
STAFF_ROLES = ("agent", "supervisor", "admin")  # in order of rights
ROLES = (*STAFF_ROLES, "customer")
DEFAULT_EXPIRY = {"staff": "30d", "customer": "7d"}
LAST_USED_EVERY_MS = 60_000  # last_used_at is written at most once a minute per token
PRINCIPAL_TTL_S = 2.0  # longest a cached token -> principal answer is used
PRINCIPAL_CACHE_MAX = 10_000  # tokens cached at most (then the cache starts afresh)
_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


class Unauthorized(CstoolError):
    """No token, or one that is unknown, expired or revoked."""

    code = "unauthorized"
    http_status = 401


class Forbidden(CstoolError):
    """A valid token whose rights do not cover the operation."""

    code = "forbidden"
    http_status = 403


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

    def describe(self) -> str:
        """A short name for messages: ``agent 'xm'``, ``customer 'c1' of shop 's'``."""
        if self.is_customer:
            return f"customer {self.customer!r} of shop {self.shop!r}"
        if self.agent:
            return f"{self.role} {self.agent!r}"
        return f"admin token {self.token_id}"

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
        raise UsageError(f"expiry must be like 30d, 12h, 90m, 2w or never, not {text!r}")
    return now_ms + int(m.group(1)) * _UNITS[m.group(2)]


def hash_token(secret: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenStore:
    """Tokens in the data file of a Local backend (the ``tokens`` table)."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend
        self.database = backend.database
        self._last_used: dict[int, int] = {}
        # hash -> (access version, deadline, principal, expires_at, last_used_at)
        self._cache: dict[str, tuple] = {}

    def _now(self) -> int:
        return self.backend.clock.now_ms()

    # -- making tokens --------------------------------------------------------------------
    def create_token(self, agent: str | None = None, role: str | None = None,
                     expires: str | None = DEFAULT_EXPIRY["staff"],
                     label: str | None = None) -> dict:
        """A new staff token for ``agent`` (role: the agent's own, or a lower one).

        Only an admin token may be bound to no agent. Returns the record with the
        secret ``token``, shown this once.
        """
        if role is not None and role not in STAFF_ROLES:
            raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}, not {role!r}")
        _check_label(label)
        now = self._now()
        expires_at = parse_expiry(expires, now)
        with self.database.write() as conn:
            agent_id = None
            if agent is None:
                if role != "admin":
                    raise UsageError("give the agent (--agent HANDLE); only an admin token "
                                     "may be bound to no agent")
            else:
                row = conn.execute("SELECT id, role FROM agents WHERE handle = ?",
                                   (agent,)).fetchone()
                if row is None:
                    raise NotFound(f"no agent {agent!r}", key="no_agent", agent=agent)
                agent_id, agent_role = row
                role = role or agent_role
                if STAFF_ROLES.index(role) > STAFF_ROLES.index(agent_role):
                    raise InvalidInput(f"agent {agent!r} is a {agent_role}; a token cannot "
                                       f"have more rights than its agent (asked: {role})")
            secret, tid = self._insert(conn, role, agent_id, None, None, now, expires_at, label)
            self.backend._event(conn, "token.created", "token", str(tid), None,
                                {"role": role, "agent": agent, "label": label})
            return {**self._read(conn, tid), "token": secret}

    def create_customer_token(self, shop: str, customer: str,
                              expires: str | None = DEFAULT_EXPIRY["customer"],
                              label: str | None = None) -> dict:
        """A widget token for one customer in one shop; a new customer key makes the
        customer, and a customer new to the shop gets their profile there (as a first
        message would). Returns the record with the secret."""
        _check_label(label)
        now = self._now()
        expires_at = parse_expiry(expires, now)
        with self.database.write() as conn:
            shop_row = conn.execute("SELECT id FROM shops WHERE key = ?", (shop,)).fetchone()
            if shop_row is None:
                raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
            row = conn.execute("SELECT id FROM customers WHERE key = ?", (customer,)).fetchone()
            if row is None:
                if not isinstance(customer, str) or not SLUG_RE.match(customer):
                    raise InvalidInput(f"{customer!r} is not a valid customer key")
                cid = conn.execute(
                    "INSERT INTO customers (key, name, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?)", (customer, customer, now, now)).lastrowid
                self.backend._event(conn, "customer.created", "customer", customer,
                                    shop_row[0], {"via": "token"})
            else:
                cid = row[0]
            conn.execute(
                "INSERT INTO customer_profiles (customer_id, shop_id, position) SELECT ?, ?, "
                "(SELECT COUNT(*) FROM customer_profiles WHERE customer_id = ?) WHERE NOT EXISTS "
                "(SELECT 1 FROM customer_profiles WHERE customer_id = ? AND shop_id = ?)",
                (cid, shop_row[0], cid, cid, shop_row[0]))
            secret, tid = self._insert(conn, "customer", None, cid, shop_row[0], now,
                                       expires_at, label)
            self.backend._event(conn, "token.created", "token", str(tid), shop_row[0],
                                {"role": "customer", "customer": customer, "label": label})
            return {**self._read(conn, tid), "token": secret}

    def _insert(self, conn: sqlite3.Connection, role: str, agent_id: int | None,
                customer_id: int | None, shop_id: int | None, now: int,
                expires_at: int | None, label: str | None) -> tuple[str, int]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        cur = conn.execute(
            "INSERT INTO tokens (hash, prefix, label, role, agent_id, customer_id, shop_id, "
            "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (hash_token(secret), secret[:10], label, role, agent_id, customer_id, shop_id,
             now, expires_at))
        return secret, cur.lastrowid

    # -- reading and revoking ---------------------------------------------------------------
    _SELECT = (
        "SELECT t.id, t.prefix, t.label, t.role, a.handle, cu.key, s.key, t.created_at, "
        "t.expires_at, t.revoked_at, t.last_used_at FROM tokens t "
        "LEFT JOIN agents a ON a.id = t.agent_id LEFT JOIN customers cu ON cu.id = t.customer_id "
        "LEFT JOIN shops s ON s.id = t.shop_id "
    )

    def _row_dict(self, r: tuple) -> dict:
        now = self._now()
        state = "active"
        if r[9] is not None:
            state = "revoked"
        elif r[8] is not None and r[8] <= now:
            state = "expired"
        return {
            "id": r[0], "prefix": r[1], "label": r[2], "role": r[3], "agent": r[4],
            "customer": r[5], "shop": r[6], "created_at": format_time(r[7]),
            "expires_at": format_time(r[8]), "revoked_at": format_time(r[9]),
            "last_used_at": format_time(r[10]), "state": state,
        }

    def _read(self, conn: sqlite3.Connection, token_id: int) -> dict:
        row = conn.execute(self._SELECT + "WHERE t.id = ?", (int(token_id),)).fetchone()
        if row is None:
            raise NotFound(f"no token {token_id}", key="no_token", token=token_id)
        return self._row_dict(row)

    def get_token(self, token_id: int) -> dict:
        """One token's record (never its secret)."""
        with self.database.read() as conn:
            return self._read(conn, token_id)

    def list_tokens(self, *, agent: str | None = None, shop: str | None = None,
                    include_inactive: bool = False) -> list[dict]:
        """Tokens, newest first; of one agent, or of one shop (its agents' and its
        customers'); revoked and expired ones only with ``include_inactive``."""
        where, params = [], []
        if agent is not None:
            where.append("a.handle = ?")
            params.append(agent)
        if shop is not None:
            where.append("(s.key = ? OR t.agent_id IN (SELECT x.agent_id FROM agent_shops x "
                         "JOIN shops s2 ON s2.id = x.shop_id WHERE s2.key = ?))")
            params += [shop, shop]
        if not include_inactive:
            where.append("t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)")
            params.append(self._now())
        clause = ("WHERE " + " AND ".join(where) + " ") if where else ""
        with self.database.read() as conn:
            rows = conn.execute(self._SELECT + clause + "ORDER BY t.id DESC", params).fetchall()
        return [self._row_dict(r) for r in rows]

    def revoke_token(self, token_id: int) -> dict:
        """Revoke a token at once; refused if it is revoked already."""
        with self.database.write() as conn:
            current = self._read(conn, token_id)
            if current["state"] == "revoked":
                raise Conflict(f"token {token_id} is revoked already", key="token_revoked_already",
                               token=token_id)
            conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?",
                         (self._now(), int(token_id)))
            shop_id = None
            if current["shop"] is not None:
                shop_id = conn.execute("SELECT id FROM shops WHERE key = ?",
                                       (current["shop"],)).fetchone()[0]
            self.backend._event(conn, "token.revoked", "token", str(token_id), shop_id,
                                {"role": current["role"]})
            return self._read(conn, token_id)

    # -- checking ---------------------------------------------------------------------------
    def authenticate(self, secret: str | None) -> Principal:
        """The Principal of a presented token; Unauthorized when it is missing, unknown,
        expired or revoked.

        A token seen lately is answered from a short-lived cache: the entry stands for
        at most PRINCIPAL_TTL_S, and only while the backend's ``access_epoch`` (moved by
        every change but the desk's traffic: a revocation, an agent's role or shops ...)
        and the file's data_version (another process's commit) are as they were, so a
        revocation takes effect at the next request. Expiry is checked every time.
        """
        if not secret:
            raise Unauthorized("no token: send 'Authorization: Bearer TOKEN'", key="no_token_sent")
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
            raise Unauthorized("malformed token", key="malformed_token")
        now = self._now()
        seen = self._access_version()
        hashed = hash_token(secret)
        hit = self._cache.get(hashed) if seen is not None else None
        if hit is not None and hit[0] == seen and time.monotonic() < hit[1]:
            principal, expires_at, used = hit[2], hit[3], hit[4]
            if expires_at is None or expires_at > now:
                self._note_use(principal.token_id, used, now)
                return principal
        with self.database.read() as conn:
            seen = self._access_version()  # as of the snapshot the answer is read from
            row = conn.execute(
                "SELECT t.id, t.role, t.agent_id, a.handle, cu.key, s.key, t.expires_at, "
                "t.revoked_at, t.last_used_at, a.role FROM tokens t "
                "LEFT JOIN agents a ON a.id = t.agent_id "
                "LEFT JOIN customers cu ON cu.id = t.customer_id "
                "LEFT JOIN shops s ON s.id = t.shop_id WHERE t.hash = ?",
                (hashed,)).fetchone()
            if row is None:
                raise Unauthorized("unknown token", key="unknown_token")
            (tid, role, agent_id, handle, customer, shop, expires_at, revoked_at, used,
             now_role) = row
            if now_role is not None and STAFF_ROLES.index(now_role) < STAFF_ROLES.index(role):
                role = now_role  # the agent was demoted since: the token follows
            if revoked_at is not None:
                raise Unauthorized(f"token {tid} was revoked", key="token_revoked", token=tid)
            if expires_at is not None and expires_at <= now:
                raise Unauthorized(f"token {tid} expired at {format_time(expires_at)}",
                                   key="token_expired", token=tid, at=short_time(expires_at))
            if role == "customer":
                principal = Principal(tid, role, shops=frozenset([shop]), customer=customer,
                                      shop=shop)
            elif role == "admin":
                principal = Principal(tid, role, agent=handle, shops=None)
            else:
                shops = frozenset(r[0] for r in conn.execute(
                    "SELECT s.key FROM agent_shops x JOIN shops s ON s.id = x.shop_id "
                    "WHERE x.agent_id = ?", (agent_id,)))
                principal = Principal(tid, role, agent=handle, shops=shops)
        if seen is not None:
            if len(self._cache) >= PRINCIPAL_CACHE_MAX:
                self._cache.clear()
            self._cache[hashed] = (seen, time.monotonic() + PRINCIPAL_TTL_S, principal,
                                   expires_at, used)
        self._note_use(tid, used, now)
        return principal

    def _access_version(self) -> tuple[int, int] | None:
        """What a cached principal depends on: the backend's access epoch and the file's
        data_version (None: no caching, the backend keeps no epoch)."""
        with self.database.lock:  # no change of ours is half done while we look
            epoch = self.backend.access_epoch
            return None if epoch is None else (epoch, self.database.data_version())

    def _note_use(self, token_id: int, used: int | None, now: int) -> None:
        """Record the token's use (``last_used_at``), at most once a LAST_USED_EVERY_MS."""
        last = max(used or 0, self._last_used.get(token_id, 0))
        if now - last >= LAST_USED_EVERY_MS:
            self._last_used[token_id] = now
            with self.database.write() as conn:
                conn.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?",
                             (now, token_id))


def _check_label(label: str | None) -> None:
    if label is not None and (not isinstance(label, str) or len(label) > 100):
        raise InvalidInput("label must be text of at most 100 characters")
    if label is not None:
        check_text(label, "label")
