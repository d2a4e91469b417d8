"""list / show / create / update / delete commands built from the resource spec.

Each field of a kind becomes an option of ``create`` and ``update`` with the same
name, type and help everywhere. Lists repeat (``--skill 尺码 --skill 搭配``) or take
commas; nested records use ``key=value,key=value`` (``--item lf-dress-001,quantity=2``).
"""

from __future__ import annotations

import enum
import inspect
import json
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from cstool import json_limits
from cstool.errors import UsageError
from cstool.i18n import t, value
from cstool.resources import KINDS, Field, Kind

from .context import state, wants_json
from .output import Column, info, print_json, print_record, print_table

OPTION_NAMES = {
    "languages": "language",
    "skills": "skill",
    "shops": "shop",
    "groups": "group",
    "tags": "tag",
    "products": "product",
    "categories": "category",
    "profiles": "profile",
    "coupons": "coupon",
    "items": "item",
    "logistics": "event",
    "tiers": "tier",
    "attributes": "attr",
    "business_hours": "hours",
    "settings": "setting",
}
REPEATED = {"strlist", "reflist", "records", "attrs", "hours", "settings"}
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]



def _words(name: str) -> str:
    """A record kind's name as English words (``routing_rules`` → routing rules,
    ``sla_policies`` → SLA policies)."""
    words = name.replace("_", " ")
    return "SLA" + words[3:] if words.startswith("sla ") else words


def _a(singular: str) -> str:
    """A record kind with its English article (an agent, a shop, an SLA policy)."""
    words = _words(singular)
    return ("an " if words[0].lower() in "aeio" or words.startswith("SLA") else "a ") + words

def parse_scalar(text: str) -> Any:
    """A command-line value: whole numbers, decimals, true/false and null are typed;
    everything else stays text."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("null", "none", "~"):
        return None
    return text


def parse_inline(text: str, f: Field) -> dict:
    """``key=value,key=value`` into a mapping; ``a|b`` makes a list. A bare first value
    fills the record's first field (``--item lf-dress-001,quantity=2``)."""
    out: dict[str, Any] = {}
    for i, part in enumerate(p for p in text.split(",") if p.strip()):
        if "=" not in part:
            if i == 0 and f.fields:
                out[f.fields[0].name] = part.strip()
                continue
            raise UsageError(f"--{_opt(f)}: expected name=value, got {part!r}",
                             key="option_not_name_value", opt=_opt(f), part=part)
        name, _, value = part.partition("=")
        name = name.strip()
        sub = next((s for s in f.fields if s.name == name), None)
        if sub is not None and sub.type in ("strlist", "reflist"):
            out[name] = [v for v in value.split("|") if v]
        else:
            out[name] = parse_scalar(value.strip())
    return out


def _opt(f: Field) -> str:
    return OPTION_NAMES.get(f.name, f.name).replace("_", "-")


def _pairs(values: list[str], f: Field) -> dict:
    out: dict[str, Any] = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep:
            raise UsageError(f"--{_opt(f)}: expected name=value, got {v!r}",
                             key="option_not_name_value2", opt=_opt(f), v=v)
        if f.type == "attrs":
            parts = [x for x in value.split(",") if x]
            out[name] = parts if len(parts) > 1 else value
        elif f.type == "settings":
            out[name] = _json_or_scalar(value, f)
        else:
            out[name] = value
    return out


def _json_or_scalar(value: str, f: Field) -> Any:
    """A JSON list or mapping (``["2026-10-01"]``), else a plain scalar."""
    if value.strip()[:1] in ("[", "{"):
        try:
            return json_limits.loads(value, f"--{_opt(f)}")
        except json.JSONDecodeError as e:
            raise UsageError(f"--{_opt(f)}: not valid JSON: {e.msg}",
                             key="option_bad_json", opt=_opt(f), msg=e.msg) from None
    return parse_scalar(value)


def option_value(f: Field, value: Any) -> Any:
    """Turn an option's raw value into the field's external value."""
    if f.type == "json":
        try:
            return json_limits.loads(value, f"--{_opt(f)}")
        except json.JSONDecodeError as e:
            raise UsageError(f"--{_opt(f)}: not valid JSON: {e.msg}",
                             key="option_bad_json", opt=_opt(f), msg=e.msg) from None
    if f.type in ("strlist", "reflist"):  # , or a Chinese keyboard's ， and 、
        return [x.strip() for v in value
                for x in v.replace("，", ",").replace("、", ",").split(",") if x.strip()]
    if f.type == "records":
        return [parse_inline(v, f) for v in value]
    if f.type == "record":
        return parse_inline(value, f)
    if f.type in ("attrs", "hours", "settings"):
        return _pairs(value, f)
    return value  # money and times stay text: validation parses them exactly


def _help(f: Field) -> str:
    bits = []
    if f.doc:
        bits.append(f.doc)
    if f.type == "money":
        bits.append("yuan")
    elif f.type == "time":
        bits.append("ISO 8601, e.g. 2026-11-11T08:00:00+08:00")
    elif f.type in ("strlist", "reflist"):
        bits.append("repeat or use commas (, ， or 、)")
    elif f.type == "records":
        names = ", ".join(s.name for s in f.fields)
        bits.append(f"repeat; {names} as name=value,name=value")
    elif f.type == "record":
        bits.append(", ".join(s.name for s in f.fields) + " as name=value,...")
    elif f.type in ("attrs", "hours", "settings"):
        bits.append("repeat; name=value")
    if f.min is not None and f.type in ("int", "number"):
        bits.append(f"{f.min:g}..{f.max:g}" if f.max is not None else f">= {f.min:g}")
    return "; ".join(bits)


def _param(f: Field, *, required: bool) -> inspect.Parameter:
    name = f"--{_opt(f)}"
    t = f.type
    kw: dict[str, Any] = {"help": _help(f), "show_default": False}
    if t == "enum":
        ann: Any = _choices(f)
    elif t == "bool":
        name = f"--{_opt(f)}/--no-{_opt(f)}"
        ann = bool
    elif t == "int":
        ann = int
    elif t == "number":
        ann = float
    elif t in REPEATED:
        ann = list[str]
    else:
        ann = str
    if required:
        return inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[ann, typer.Option(name, **kw)],
        )
    return inspect.Parameter(
        f.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[ann | None, typer.Option(name, **kw)],
    )


_ENUMS: dict[tuple, type] = {}


def _choices(f: Field) -> type:
    """A str Enum of a field's choices, which Typer turns into a checked choice."""
    key = (f.name, f.choices)
    if key not in _ENUMS:
        _ENUMS[key] = enum.StrEnum(f.name.title().replace("_", ""), {c: c for c in f.choices})
    return _ENUMS[key]


def _with_signature(fn: Callable, params: list[inspect.Parameter]) -> Callable:
    fn.__signature__ = inspect.Signature(params)
    fn.__annotations__ = {p.name: p.annotation for p in params}
    return fn


def _ctx_param() -> inspect.Parameter:
    return inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )


def _key_param(k: Kind) -> inspect.Parameter:
    return inspect.Parameter(
        "key",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            str, typer.Argument(metavar=k.key.upper(), help=f"The {k.singular}'s {k.key}.")
        ],
    )


def _record_from(k: Kind, values: dict) -> dict:
    out = {}
    for f in k.fields:
        v = values.get(f.name)
        if v is None or f.name == k.key:
            continue
        if isinstance(v, enum.Enum):
            v = v.value
        out[f.name] = option_value(f, v)
    return out


def register(
    app: typer.Typer,
    kind_name: str,
    columns: Sequence[Column],
    *,
    show_extra: Callable[[Any, dict], dict] | None = None,
    create_name: str = "create",
    delete_name: str = "delete",
) -> None:
    """Add list, show, create, update and delete commands for ``kind_name`` to ``app``."""
    register_reads(app, kind_name, columns, show_extra=show_extra, writes=True,
                   create_name=create_name, delete_name=delete_name)


def register_reads(
    app: typer.Typer,
    kind_name: str,
    columns: Sequence[Column],
    *,
    show_extra: Callable[[Any, dict], dict] | None = None,
    writes: bool = False,
    delete_name: str = "delete",
    create_name: str = "create",
) -> None:
    """Add list, show and delete (and with ``writes`` create and update) commands."""
    k = KINDS[kind_name]
    scoped = k.shop_field is not None or k.name in ("agents", "customers")

    def list_cmd(
        ctx: typer.Context,
        shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
        after: Annotated[str | None, typer.Option(help="Start after this key (paging).")] = None,
        json_: JsonOpt = False,
    ) -> None:
        if shop is not None and not scoped:
            raise UsageError(f"{k.name} do not belong to a shop; --shop does not apply",
                             key="kind_no_shop", name=k.name)
        rows = state(ctx).backend.list(k.name, shop=shop, limit=limit, after=after)
        if wants_json(ctx, json_):
            print_json(rows)
        else:
            print_table(rows, columns)

    if not scoped:
        list_cmd = _drop_param(list_cmd, "shop")
    app.command("list", help=f"List {_words(k.name)}.")(list_cmd)

    def show_cmd(ctx: typer.Context, key: str, json_: JsonOpt = False) -> None:
        backend = state(ctx).backend
        rec = backend.get(k.name, key)
        if show_extra is not None:
            rec = show_extra(backend, rec)
        if wants_json(ctx, json_):
            print_json(rec)
        else:
            print_record(rec)

    show_cmd = _with_signature(
        show_cmd,
        [
            _ctx_param(),
            _key_param(k),
            inspect.Parameter(
                "json_", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOpt
            ),
        ],
    )
    app.command("show", help=f"Show one {_words(k.singular)}.")(show_cmd)

    def delete_cmd(ctx: typer.Context, key: str) -> None:
        state(ctx).backend.delete(k.name, key)
        info(t("cli.deleted", kind=value("kind", k.singular), key=key))

    delete_cmd = _with_signature(delete_cmd, [_ctx_param(), _key_param(k)])
    app.command(delete_name, help=f"Delete {_a(k.singular)} (refused while "
                "others use it).")(delete_cmd)
    if writes:
        _register_writes(app, k, create_name)


def _register_writes(app: typer.Typer, k: Kind, create_name: str = "create") -> None:
    fields = [f for f in k.fields if f.name != k.key]

    def create_cmd(ctx: typer.Context, key: str, json_: bool = False, **values: Any) -> None:
        rec = {k.key: key, **_record_from(k, values)}
        stored = state(ctx).backend.create(k.name, rec)
        _done(ctx, json_, stored, t("cli.created", kind=value("kind", k.singular), key=key))

    create_cmd = _with_signature(
        create_cmd,
        [
            _ctx_param(),
            _key_param(k),
            *[_param(f, required=f.required) for f in fields],
            inspect.Parameter(
                "json_", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOpt
            ),
        ],
    )
    app.command(create_name, help=f"Create {_a(k.singular)}.")(create_cmd)

    def update_cmd(
        ctx: typer.Context,
        key: str,
        unset: list[str] | None = None,
        json_: bool = False,
        **values: Any,
    ) -> None:
        changes = _record_from(k, values)
        maps = [f.name for f in fields if f.type in ("attrs", "hours", "settings")
                and f.name in changes]
        if maps:  # --setting / --hours / --attr change the names given; the rest stay
            current = state(ctx).backend.get(k.name, key)
            for name in maps:
                merged = {**(current.get(name) or {}), **changes[name]}
                changes[name] = {n: v for n, v in merged.items() if v != ""}  # name= drops
        for name in unset or []:
            f = next((f for f in fields if f.name == name), None)
            if f is None:
                raise UsageError(f"--unset: {k.singular} has no field {name!r}",
                                 key="unset_unknown_field", singular=k.singular, name=name)
            if f.required:
                raise UsageError(f"--unset: {name} is required and cannot be removed",
                                 key="unset_required", name=name)
            changes[name] = None
        if not changes:
            raise UsageError("nothing to change: give at least one option (see --help)",
                             key="nothing_to_change_options")
        stored = state(ctx).backend.update(k.name, key, changes)
        _done(ctx, json_, stored, t("cli.updated", kind=value("kind", k.singular), key=key))

    update_cmd = _with_signature(
        update_cmd,
        [
            _ctx_param(),
            _key_param(k),
            *[_param(f, required=False) for f in fields],
            inspect.Parameter(
                "unset",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    list[str] | None,
                    typer.Option(
                        "--unset", metavar="FIELD", help="Remove an optional field (repeat)."
                    ),
                ],
            ),
            inspect.Parameter(
                "json_", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOpt
            ),
        ],
    )
    app.command("update", help=f"Change fields of {_a(k.singular)}; the rest stay.")(update_cmd)


def _done(ctx: typer.Context, json_: bool, stored: dict, message: str) -> None:
    if wants_json(ctx, json_):
        print_json(stored)
    else:
        info(message)


def _drop_param(fn: Callable, name: str) -> Callable:
    sig = inspect.signature(fn, eval_str=True)
    params = [p for p in sig.parameters.values() if p.name != name]

    def wrapper(**kwargs: Any) -> None:
        return fn(shop=None, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return _with_signature(wrapper, params)
