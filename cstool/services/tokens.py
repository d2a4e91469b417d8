"""The token service: making, listing, revoking and checking API tokens (the rules; the
SQL is ``cstool.storage.repos.tokens``). Roles, principals and the token format are
described in ``cstool.auth``."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from ..auth import (
    DEFAULT_EXPIRY,
    LAST_USED_EVERY_MS,
    PRINCIPAL_CACHE_MAX,
    PRINCIPAL_TTL_S,
    STAFF_ROLES,
    TOKEN_PREFIX,
    Principal,
    Unauthorized,
    _check_label,
    hash_token,
    parse_expiry,
)
from ..errors import Conflict, InvalidInput, NotFound, UsageError
from ..storage.repos.tokens import Tokens
from ..values import SLUG_RE, format_time, short_time

if TYPE_CHECKING:
    from ..backend.local import LocalBackend


class TokenStore:
    """Tokens in the data file of a Local backend (the ``tokens`` table).

    Changes go through the units of work of the backend's service context
    (``backend.ctx``: its clock, and ``uow.event``, after whose commit the backend moves
    its ``access_epoch`` when the event may change rights); cached principals hold while
    that epoch stands. The facade keeps one as ``ctx.tokens``; the server makes its own,
    the one that authenticates callers."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend
        self.ctx = backend.ctx
        self.database = backend.database
        self._last_used: dict[int, int] = {}
        # hash -> (access version, deadline, principal, expires_at, last_used_at)
        self._cache: dict[str, tuple] = {}
        # A storage.notify.EventListener (a server on PostgreSQL): while it is connected,
        # other processes' changes of rights move the backend's access epoch, and the
        # cache needs no look at the database's data_version.
        self.listener = None

    def _now(self) -> int:
        return self.ctx.now()

    # -- making tokens --------------------------------------------------------------------
    def create_token(self, agent: str | None = None, role: str | None = None,
                     expires: str | None = DEFAULT_EXPIRY["staff"],
                     label: str | None = None) -> dict:
        """A new staff token for ``agent`` (role: the agent's own, or a lower one).

        Only an admin token may be bound to no agent. Returns the record with the
        secret ``token``, shown this once.
        """
        if role is not None and role not in STAFF_ROLES:
            raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}, not {role!r}",
                               key="bad_role", roles=", ".join(STAFF_ROLES),
                               role=str(role)[:64])
        _check_label(label)
        now = self._now()
        expires_at = parse_expiry(expires, now)
        with self.ctx.write() as uow:
            conn = uow.conn
            agent_id = None
            if agent is None:
                if role != "admin":
                    raise UsageError("give the agent (--agent HANDLE); only an admin token "
                                     "may be bound to no agent",
                                     key="token_needs_agent")
            else:
                row = Tokens(conn).agent_role(agent)
                if row is None:
                    raise NotFound(f"no agent {agent!r}", key="no_agent", agent=agent)
                agent_id, agent_role = row
                role = role or agent_role
                if STAFF_ROLES.index(role) > STAFF_ROLES.index(agent_role):
                    article = "an" if agent_role[:1] in ("a", "e", "i", "o", "u") else "a"
                    raise InvalidInput(f"agent {agent!r} is {article} {agent_role}; a token "
                                       "cannot have more rights than its agent "
                                       f"(asked: {role})",
                                       key="token_above_agent", agent=agent,
                                       agent_role=agent_role, role=role)
            secret, tid = self._insert(conn, role, agent_id, None, None, now, expires_at, label)
            uow.event("token.created", "token", str(tid), None,
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
        with self.ctx.write() as uow:
            conn = uow.conn
            shop_id = Tokens(conn).shop_id(shop)
            if shop_id is None:
                raise NotFound(f"no shop {shop!r}", key="no_shop", shop=shop)
            cid = Tokens(conn).customer_id(customer)
            if cid is None:
                if not isinstance(customer, str) or not SLUG_RE.match(customer):
                    raise InvalidInput(f"{customer!r} is not a valid customer key",
                                       key="bad_customer_key", customer=str(customer)[:64])
                cid = Tokens(conn).insert_customer(customer, now)
                uow.event("customer.created", "customer", customer,
                      shop_id, {"via": "token"})
            Tokens(conn).ensure_profile(cid, shop_id)
            secret, tid = self._insert(conn, "customer", None, cid, shop_id, now,
                                       expires_at, label)
            uow.event("token.created", "token", str(tid), shop_id,
                      {"role": "customer", "customer": customer, "label": label})
            return {**self._read(conn, tid), "token": secret}

    @staticmethod
    def _insert(conn, role: str, agent_id: int | None, customer_id: int | None,
                shop_id: int | None, now: int, expires_at: int | None,
                label: str | None) -> tuple[str, int]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        tid = Tokens(conn).insert(hashed=hash_token(secret), prefix=secret[:10], label=label,
                                  role=role, agent_id=agent_id, customer_id=customer_id,
                      shop_id=shop_id, now=now, expires_at=expires_at)
        return secret, tid

    # -- reading and revoking ---------------------------------------------------------------
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

    def _read(self, conn, token_id: int) -> dict:
        row = Tokens(conn).read(token_id)
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
        active_at = None if include_inactive else self._now()
        with self.database.read() as conn:
            rows = Tokens(conn).select(agent=agent, shop=shop, active_at=active_at)
        return [self._row_dict(r) for r in rows]

    def revoke_token(self, token_id: int) -> dict:
        """Revoke a token at once; refused if it is revoked already."""
        with self.ctx.write() as uow:
            conn = uow.conn
            current = self._read(conn, token_id)
            if current["state"] == "revoked":
                raise Conflict(f"token {token_id} is revoked already", key="token_revoked_already",
                               token=token_id)
            Tokens(conn).revoke(token_id, self._now())
            shop_id = None
            if current["shop"] is not None:
                shop_id = Tokens(conn).shop_id(current["shop"])
            uow.event("token.revoked", "token", str(token_id), shop_id,
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
            row = Tokens(conn).by_hash(hashed)
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
                principal = Principal(tid, role, agent=handle,
                                      shops=Tokens(conn).agent_shop_keys(agent_id))
        if seen is not None:
            if len(self._cache) >= PRINCIPAL_CACHE_MAX:
                self._cache.clear()
            self._cache[hashed] = (seen, time.monotonic() + PRINCIPAL_TTL_S, principal,
                                   expires_at, used)
        self._note_use(tid, used, now)
        return principal

    def customer_hint(self, secret: str | None) -> tuple[str, str] | None:
        """The (shop, customer) of a customer's token seen lately, from the cache and
        unchecked (no expiry, revocation or epoch): a hint of what the token's next post
        will read (the server's concurrent posts read a group's look-ups together),
        never a decision; ``authenticate`` decides. None when not known so."""
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
            return None
        hit = self._cache.get(hash_token(secret))
        principal = None if hit is None else hit[2]
        if principal is None or principal.customer is None or principal.shop is None:
            return None
        return principal.shop, principal.customer

    def _access_version(self) -> tuple | None:
        """What a cached principal depends on: the backend's access epoch and the file's
        data_version (None: no caching, the backend keeps no epoch). While a LISTEN
        connection reports every process's changes of rights (``listener``), the epoch
        and that connection's generation suffice: a revocation committed by another
        server moves the epoch as soon as its notification arrives, and a lost connection
        falls back to data_version."""
        with self.database.lock:  # no change of ours is half done while we look
            epoch = self.backend.access_epoch
            if epoch is None:
                return None
            listener = self.listener
            if listener is not None and listener.connected:
                return (epoch, "listening", listener.generation)
            return (epoch, "data_version", self.database.data_version())

    def _note_use(self, token_id: int, used: int | None, now: int) -> None:
        """Record the token's use (``last_used_at``), at most once a LAST_USED_EVERY_MS."""
        last = max(used or 0, self._last_used.get(token_id, 0))
        if now - last >= LAST_USED_EVERY_MS:
            with self.database.write() as conn:
                Tokens(conn).note_use(token_id, now)
            # after the write: a write rolled back (and run again: PostgreSQL's
            # concurrent posts) is written again
            self._last_used[token_id] = now
