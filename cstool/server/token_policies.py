"""Policies of tokens: who may create, list and revoke which tokens (staff and customer)."""

from __future__ import annotations

from typing import Any

from ..api.operations import Operation
from ..auth import Forbidden
from . import record_rights as rights
from .access import Access, _acts_for, _manager, _shop, _staff, merge_pages
from .conversation_policies import _shop_customer


def customer_token(a: Access, op: Operation, args: dict) -> Any:
    """Supervisors of the shop, for the shop's customers (a profile there, or a new key);
    admins for any customer."""
    _manager(a.principal, "make customer tokens")
    _shop(a.principal, args["shop"])
    _shop_customer(a, args["shop"], args.get("customer"))
    return a.call(op, args)


def token_create(a: Access, op: Operation, args: dict) -> Any:
    """Admins any token; supervisors agent tokens for their agents and their own; agents
    their own."""
    p = a.principal
    _staff(p)
    if p.is_admin:
        return a.call(op, args)
    handle = args.get("agent")
    if handle is None:
        raise Forbidden("only an admin makes a token bound to no agent",
                        key="forbidden_unbound_token")
    role = args.get("role")
    if handle != p.agent:
        _acts_for(a, handle)
        if role not in (None, "agent") or a.backend.get("agents", handle)["role"] != "agent":
            raise Forbidden(f"{p.describe()} makes agent tokens only for its agents",
                            key="forbidden_token_own_agents", describe=p.describe())
        args["role"] = "agent"
    elif rights.outranks(role, p):
        raise Forbidden(f"{p.describe()} may not make an {role} token",
                        key="forbidden_token_role", describe=p.describe(), role=role)
    elif role is None:
        args["role"] = p.role
    return a.call(op, args)


def token_list(a: Access, op: Operation, args: dict) -> Any:
    """Admins all; supervisors their shops' tokens; agents their own."""
    p = a.principal
    _staff(p)
    if p.is_admin:
        return a.call(op, args)
    if p.role == "agent":
        if args.get("agent") not in (None, p.agent) or args.get("shop") is not None:
            raise Forbidden(f"{p.describe()} lists only its own tokens",
                            key="forbidden_tokens_list_own", describe=p.describe())
        return a.call(op, {**args, "agent": p.agent})
    if args.get("shop") is not None:
        _shop(p, args["shop"])
        return a.call(op, args)
    return merge_pages((a.call(op, {**args, "shop": s}) for s in sorted(p.shops or ())),
                       key=lambda t: t["id"], size=10**9, reverse=True)


def token_revoke(a: Access, op: Operation, args: dict) -> Any:
    """Admins any; supervisors tokens of their agents and shops; anyone their own."""
    p = a.principal
    _staff(p)
    if not p.is_admin and args["token_id"] != p.token_id:
        token = a.tokens.get_token(args["token_id"])
        if token["agent"] == p.agent and token["agent"] is not None:
            pass
        elif p.role != "supervisor":
            raise Forbidden(f"{p.describe()} may revoke only its own tokens",
                            key="forbidden_tokens_revoke_own", describe=p.describe())
        elif token["customer"] is not None:
            _shop(p, token["shop"])
        elif token["agent"] is None:
            raise Forbidden("only an admin revokes an admin token", key="forbidden_revoke_admin")
        elif rights.outranks(token["role"], p):
            raise Forbidden(f"{p.describe()} may not revoke an {token['role']} token",
                            key="forbidden_revoke_role", describe=p.describe(),
                            role=token['role'])
        else:
            _acts_for(a, token["agent"])
    return a.call(op, args)

