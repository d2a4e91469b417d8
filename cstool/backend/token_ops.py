"""Token operations of the Local backend: the Backend's token methods, served by a
``cstool.auth.TokenStore`` over the same file (the server keeps its own store, the one
that authenticates callers, and serves these operations with it)."""

from __future__ import annotations

from functools import cached_property

from ..auth import DEFAULT_EXPIRY, TokenStore


class TokenOps:
    """The token operations, delegated to one TokenStore (mixed into LocalBackend)."""

    @cached_property
    def token_store(self) -> TokenStore:
        """The store of the file's tokens (made on first use)."""
        return TokenStore(self)

    def whoami(self) -> dict:
        """Whoever opens the data file may do it all: an admin without a token."""
        return {"token": None, "role": "admin", "agent": None, "shops": None,
                "customer": None, "shop": None}

    def create_token(self, agent: str | None = None, role: str | None = None,
                     expires: str = DEFAULT_EXPIRY["staff"], label: str | None = None) -> dict:
        """A staff token (``TokenStore.create_token``); the secret is in the answer, once."""
        return self.token_store.create_token(agent, role, expires, label)

    def create_customer_token(self, shop: str, customer: str,
                              expires: str = DEFAULT_EXPIRY["customer"],
                              label: str | None = None) -> dict:
        """A widget token for one customer (``TokenStore.create_customer_token``)."""
        return self.token_store.create_customer_token(shop, customer, expires, label)

    def list_tokens(self, *, agent: str | None = None, shop: str | None = None,
                    include_inactive: bool = False) -> list[dict]:
        """Tokens, newest first (``TokenStore.list_tokens``)."""
        return self.token_store.list_tokens(agent=agent, shop=shop,
                                            include_inactive=include_inactive)

    def revoke_token(self, token_id: int) -> dict:
        """Revoke a token at once (``TokenStore.revoke_token``)."""
        return self.token_store.revoke_token(token_id)
