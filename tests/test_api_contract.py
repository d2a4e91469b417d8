"""The contract in one place: the abstract Backend (``cstool.api.backend``) declares
exactly the operations of the table (``cstool.api.operations``), with the table's
argument names, kinds (positional or keyword-only) and defaults; both implementations
and the server's token store take the same arguments."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod

from cstool.api.backend import Backend
from cstool.api.operations import OPERATIONS, REQUIRED, Arg, Operation
from cstool.auth import TokenStore
from cstool.backend.local import LocalBackend
from cstool.backend.remote import RemoteBackend

# Public methods of Backend that are not operations: the lifecycle of a backend object.
LIFECYCLE = {"close"}


def _table_args(op: Operation) -> list[tuple[str, bool, object]]:
    return [(a.name, a.kw_only, inspect.Parameter.empty if a.default is REQUIRED else a.default)
            for a in op.args]


def differences(table: tuple[Operation, ...], cls: type) -> list[str]:
    """Every way ``cls`` (an abstract Backend) and the operations table disagree."""
    out: list[str] = []
    names = {op.name for op in table}
    abstract = {n for n, v in vars(cls).items() if getattr(v, "__isabstractmethod__", False)}
    public = {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}
    out += [f"{n}: in the table, not declared abstract on the Backend"
            for n in sorted(names - abstract)]
    out += [f"{n}: declared on the Backend, not in the table"
            for n in sorted(abstract - names)]
    out += [f"{n}: a public Backend method that is neither an operation nor lifecycle"
            for n in sorted(public - abstract - LIFECYCLE)]
    for op in table:
        if op.name not in abstract:
            continue
        params = list(inspect.signature(getattr(cls, op.name)).parameters.values())[1:]
        declared = [(p.name, p.kind == p.KEYWORD_ONLY, p.default) for p in params
                    if p.kind != p.VAR_KEYWORD]
        has_context = any(p.kind == p.VAR_KEYWORD for p in params)
        wanted = _table_args(op)
        if has_context != op.extra_kwargs:
            out.append(f"{op.name}: **context on the Backend {has_context}, "
                       f"in the table {op.extra_kwargs}")
        if op.extra_kwargs:  # the named arguments first; the table names the context
            rest = wanted[len(declared):]
            wanted = wanted[:len(declared)]
            if not all(kw for _n, kw, _d in rest):
                out.append(f"{op.name}: context arguments must be keyword-only")
        if declared != wanted:
            out.append(f"{op.name}: Backend {declared} != table {wanted}")
    return out


def _signature(method) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default)
            for p in list(inspect.signature(method).parameters.values())[1:]]


def test_the_backend_declares_exactly_the_table():
    assert differences(OPERATIONS, Backend) == []


def test_the_comparison_catches_every_kind_of_difference():
    class Drifted(ABC):
        @abstractmethod
        def info(self, verbose: bool = False) -> dict:  # an argument the table lacks
            """."""

        @abstractmethod
        def upgrade(self) -> list[int]:
            """."""

        @abstractmethod
        def backup(self, target: str = "x") -> dict:  # a default the table lacks
            """."""

        @abstractmethod
        def not_an_operation(self) -> None:
            """."""

        def helper(self) -> None:
            """A public method that is no operation."""
            return None

    table = tuple(op for op in OPERATIONS if op.name in ("info", "upgrade", "backup",
                                                           "move_rule"))
    found = differences(table, Drifted)
    assert any(d.startswith("info:") for d in found)
    assert any(d.startswith("backup:") for d in found)
    assert "move_rule: in the table, not declared abstract on the Backend" in found
    assert "not_an_operation: declared on the Backend, not in the table" in found
    assert any(d.startswith("helper:") for d in found)
    assert not any(d.startswith("upgrade:") for d in found)
    keyword = Operation("info", "GET", "/v1/info", "admin", (Arg("verbose", bool, False, True),))
    assert differences((keyword,), Drifted) != []  # positional in the class, keyword in table


def test_both_backends_take_the_backends_arguments():
    for op in OPERATIONS:
        declared = _signature(getattr(Backend, op.name))
        assert _signature(getattr(LocalBackend, op.name)) == declared, op.name
        remote = _signature(getattr(RemoteBackend, op.name))
        if op.extra_kwargs:  # the remote method names every context field of the table
            remote = remote[:len(declared) - 1]
            declared = declared[:-1]
        assert remote == declared, op.name
    assert not LocalBackend.__abstractmethods__
    assert not RemoteBackend.__abstractmethods__


def test_the_servers_token_store_takes_the_token_operations_arguments():
    for op in OPERATIONS:
        if op.target == "tokens":
            assert _signature(getattr(TokenStore, op.name)) == _signature(
                getattr(Backend, op.name)), op.name


def test_capabilities_are_declared_with_defaults():
    assert Backend.has_database_file is False and LocalBackend.has_database_file is True
    assert RemoteBackend.has_database_file is False
    assert Backend.access_epoch is None and RemoteBackend.access_epoch is None
    assert LocalBackend.access_epoch == 0
    assert Backend.kept_open == frozenset()
