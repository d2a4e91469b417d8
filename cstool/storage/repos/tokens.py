"""The ``tokens`` table and the few look-ups the token service needs (agents, shops,
customers by key). Portable SQL; every function runs in the caller's transaction."""

from __future__ import annotations

import sqlite3

from ..ids import row_id
from ..where import Where

# A token's record: id, prefix, label, role, agent handle, customer key, shop key,
# created, expires, revoked, last used.
_SELECT = (
    "SELECT t.id, t.prefix, t.label, t.role, a.handle, cu.key, s.key, t.created_at, "
    "t.expires_at, t.revoked_at, t.last_used_at FROM tokens t "
    "LEFT JOIN agents a ON a.id = t.agent_id LEFT JOIN customers cu ON cu.id = t.customer_id "
    "LEFT JOIN shops s ON s.id = t.shop_id "
)



class Tokens:
    """The ``tokens`` table over one connection (``uow.repo(Tokens)`` or ``Tokens(conn)``)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def agent_role(self, handle: str) -> tuple[int, str] | None:
        """An agent's id and role, by handle (None: no such agent)."""
        return self.conn.execute("SELECT id, role FROM agents WHERE handle = ?",
                                 (handle,)).fetchone()


    def shop_id(self, key: str) -> int | None:
        """A shop's id, by key."""
        row = self.conn.execute("SELECT id FROM shops WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]


    def customer_id(self, key: str) -> int | None:
        """A customer's id, by key."""
        row = self.conn.execute("SELECT id FROM customers WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]


    def insert_customer(self, key: str, now: int) -> int:
        """A new customer named by its key; returns its id."""
        return self.conn.execute("INSERT INTO customers (key, name, created_at, updated_at) "
                            "VALUES (?, ?, ?, ?)", (key, key, now, now)).lastrowid


    def ensure_profile(self, customer: int, shop: int) -> None:
        """Give the customer a profile in the shop unless they have one (the next position)."""
        self.conn.execute(
            "INSERT INTO customer_profiles (customer_id, shop_id, position) SELECT ?, ?, "
            "(SELECT COUNT(*) FROM customer_profiles WHERE customer_id = ?) WHERE NOT EXISTS "
            "(SELECT 1 FROM customer_profiles WHERE customer_id = ? AND shop_id = ?)",
            (customer, shop, customer, customer, shop))


    def insert(self, *, hashed: str, prefix: str, label: str | None,
               role: str, agent_id: int | None, customer_id: int | None, shop_id: int | None,
               now: int, expires_at: int | None) -> int:
        """Store a new token (its hash, never its secret); returns its id."""
        return self.conn.execute(
            "INSERT INTO tokens (hash, prefix, label, role, agent_id, customer_id, shop_id, "
            "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (hashed, prefix, label, role, agent_id, customer_id, shop_id, now,
             expires_at)).lastrowid


    def read(self, token_id: int) -> tuple | None:
        """One token's record row (see ``_SELECT``), or None."""
        rid = row_id(token_id)
        if rid is None:
            return None
        return self.conn.execute(_SELECT + "WHERE t.id = ?", (rid,)).fetchone()


    def select(self, *, agent: str | None = None, shop: str | None = None,
               active_at: int | None = None) -> list[tuple]:
        """Token record rows, newest first: of one agent (handle), of one shop (its agents'
        and its customers'), only those active at ``active_at`` (not revoked, not expired)."""
        where = Where().add_if(agent, "a.handle = ?", agent)
        where.add_if(shop, "(s.key = ? OR t.agent_id IN (SELECT x.agent_id FROM agent_shops x "
                           "JOIN shops s2 ON s2.id = x.shop_id WHERE s2.key = ?))", shop, shop)
        where.add_if(active_at, "t.revoked_at IS NULL AND (t.expires_at IS NULL OR "
                                "t.expires_at > ?)", active_at)
        clause = where.sql() + " " if where else ""
        return self.conn.execute(_SELECT + clause + "ORDER BY t.id DESC", where.params).fetchall()


    def revoke(self, token_id: int, at: int) -> None:
        """Mark a token revoked at ``at``."""
        self.conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (at, int(token_id)))


    def by_hash(self, hashed: str) -> tuple | None:
        """What checking a token needs: id, role, agent id, agent handle, customer key, shop
        key, expires, revoked, last used, the agent's role now; None for an unknown hash."""
        return self.conn.execute(
            "SELECT t.id, t.role, t.agent_id, a.handle, cu.key, s.key, t.expires_at, "
            "t.revoked_at, t.last_used_at, a.role FROM tokens t "
            "LEFT JOIN agents a ON a.id = t.agent_id "
            "LEFT JOIN customers cu ON cu.id = t.customer_id "
            "LEFT JOIN shops s ON s.id = t.shop_id WHERE t.hash = ?", (hashed,)).fetchone()


    def agent_shop_keys(self, agent_id: int) -> frozenset[str]:
        """The keys of an agent's shops."""
        return frozenset(r[0] for r in self.conn.execute(
            "SELECT s.key FROM agent_shops x JOIN shops s ON s.id = x.shop_id "
            "WHERE x.agent_id = ?", (agent_id,)))


    def note_use(self, token_id: int, at: int) -> None:
        """Record when a token was last used. Beside other writes (PostgreSQL's
        concurrent posts) the token's row is skipped, not waited for, when another
        transaction is writing it (that one records the use, within the minute this
        time is kept to), and the write is claimed fit to run there: it changes no
        right and nothing a cache keeps."""
        if getattr(self.conn, "shared", False):
            self.conn.execute("UPDATE tokens SET last_used_at = ? WHERE id = (SELECT id FROM "
                              "tokens WHERE id = ? FOR UPDATE SKIP LOCKED)", (at, token_id))
            self.conn.claim_shared()
            return
        self.conn.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (at, token_id))
