"""The backends the contract tests run on, each over a fresh store, and the operations
table they must cover.

``BACKENDS`` names each backend under test and the ``Store`` that starts one: adding a
backend is one line there, and every contract test
(tests/test_contract_ops.py, tests/test_backend_contract.py) runs on it.

A ``Store`` also says how the operations that need a token principal run on its
backend: through the API with a token (remote), or directly (local: no principals
in-process, the caller is trusted; token operations go to ``auth.TokenStore``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cstool.auth import TokenStore
from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock


def operations_table() -> tuple:
    """The operations table: imported in this one place."""
    from cstool.api.operations import OPERATIONS

    return OPERATIONS


def operation_names() -> set[str]:
    """The name of every operation of the table."""
    return {op.name for op in operations_table()}


# -- the backends under test ---------------------------------------------------------------
class Store:
    """One backend under test over a fresh store in ``folder``, on ``clock``."""

    name = ""

    def __init__(self, backend: Any, clock: FrozenClock, folder: Path):
        self.backend = backend
        self.clock = clock
        self.folder = folder

    def tokens(self) -> Any:
        """What the token operations (target ``tokens``) run on."""
        raise NotImplementedError

    def whoami(self, secret: str) -> dict:
        """The rights of the token ``secret``."""
        raise NotImplementedError

    def as_customer(self, shop: str, customer: str) -> tuple[Any, str | None]:
        """A backend that acts as ``customer`` of ``shop``, and the customer argument to
        pass to post_message (None when the token says who posts)."""
        raise NotImplementedError

    def backup_target(self, name: str) -> str:
        """The ``target`` argument of backup for a copy called ``name``."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop what the store runs."""
        self.backend.close()


class LocalStore(Store):
    """The Local backend on a file. There are no principals in-process: the caller is
    trusted: the token operations run on the backend itself (its token store over the
    same file) and the customer's operations name the customer."""

    name = "local"

    def __init__(self, folder: Path, clock: FrozenClock):
        super().__init__(LocalBackend(folder / "local.db", clock=clock), clock, folder)

    def tokens(self) -> Any:
        return self.backend  # the Local backend declares the token operations itself

    def whoami(self, secret: str) -> dict:
        return TokenStore(self.backend).authenticate(secret).to_dict()

    def as_customer(self, shop: str, customer: str) -> tuple[Any, str | None]:
        return self.backend, customer

    def backup_target(self, name: str) -> str:
        (self.folder / "backups").mkdir(exist_ok=True)
        return str(self.folder / "backups" / name)


class LocalPgStore(LocalStore):
    """The Local backend on PostgreSQL: a fresh database of the session's throwaway
    cluster (tests/pg_support.py), migrated from the session's template."""

    name = "local-pg"

    def __init__(self, folder: Path, clock: FrozenClock):
        from . import pg_support

        self.cluster = pg_support.require()
        self.url = self.cluster.database(migrated=True)
        Store.__init__(self, LocalBackend(self.url, clock=clock), clock, folder)

    def close(self) -> None:
        self.backend.close()
        self.cluster.drop(self.url)


class RemoteStore(Store):
    """The Remote backend against a real server on loopback (admin token); a customer's
    operations go through a customer token, token operations through the API."""

    name = "remote"

    def __init__(self, folder: Path, clock: FrozenClock):
        from .server_support import serve

        self.served = serve(folder / "remote.db", clock)
        super().__init__(self.served.remote(), clock, folder)

    def tokens(self) -> Any:
        return self.backend

    def whoami(self, secret: str) -> dict:
        return self.served.remote(secret).whoami()

    def as_customer(self, shop: str, customer: str) -> tuple[Any, str | None]:
        return self.served.remote(self.served.customer_token(shop, customer)), None

    def backup_target(self, name: str) -> str:
        return name  # the server writes into its own backup folder

    def close(self) -> None:
        self.served.close()


class RemotePgStore(RemoteStore):
    """The Remote backend against a real server over a PostgreSQL database (a fresh one
    of the session's throwaway cluster)."""

    name = "remote-pg"

    def __init__(self, folder: Path, clock: FrozenClock):
        from . import pg_support
        from .server_support import serve

        self.cluster = pg_support.require()
        self.url = self.cluster.database(migrated=True)
        self.served = serve(self.url, clock)
        Store.__init__(self, self.served.remote(), clock, folder)

    def close(self) -> None:
        self.served.close()
        self.cluster.drop(self.url)


BACKENDS: dict[str, type[Store]] = {"local": LocalStore, "local-pg": LocalPgStore,
                                     "remote": RemoteStore, "remote-pg": RemotePgStore}
