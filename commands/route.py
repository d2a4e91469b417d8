"""`cstool route ...`: a shop's ordered routing rules, a dry run, and explanations."""

import json
from typing import Annotated, Any

import typer

from cstool import json_limits
from cstool.errors import UsageError
from cstool.i18n import t

from . import crud
from .context import state, wants_json
from .crud import JsonOpt, parse_scalar
from .output import info, print_json

app = typer.Typer(help="Routing rules: which bot, queue or agent gets each chat, and why.",
                  no_args_is_help=True)

LIST_OPS = ("in", "not_in", "contains_any")


def parse_if(text: str) -> dict:
    """``"customer.level ge 3"`` or ``"message.text contains_any 发货,物流"`` as a condition."""
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise UsageError(f"--if: expected 'FIELD OP VALUE', got {text!r}",
                         key="route_if_format", text=text)
    field, op = parts[0], parts[1]
    raw = parts[2] if len(parts) == 3 else None
    if op == "exists":
        return {"field": field, "op": op, "value": True if raw is None else parse_scalar(raw)}
    if raw is None:
        raise UsageError(f"--if: {text!r} has no value", key="route_if_no_value", text=text)
    if op in LIST_OPS:
        # a Chinese keyboard's full-width comma (，) and 、 separate items too
        items = raw.replace("，", ",").replace("、", ",").split(",")
        value: Any = [parse_scalar(v.strip()) for v in items if v.strip()]
    else:
        value = parse_scalar(raw)
    return {"field": field, "op": op, "value": value}


def _rule_fields(
    name, conditions_if, any_, conditions, to_agent, to_group, to_skill, to_level, to_shop,
    strategy, priority, when_unavailable, position, enabled,
) -> dict:
    rec: dict[str, Any] = {}
    if conditions is not None:
        try:
            rec["conditions"] = json_limits.loads(conditions, "--conditions")
        except json.JSONDecodeError as e:
            raise UsageError(f"--conditions: not valid JSON: {e.msg}",
                             key="route_conditions_json", msg=e.msg) from None
    elif conditions_if:
        leaves = [parse_if(t) for t in conditions_if]
        rec["conditions"] = {"any" if any_ else "all": leaves}
    target: dict[str, Any] = {}
    if to_agent:
        target["agent"] = to_agent
    if to_group:
        target["group"] = to_group
    if to_skill:
        target["skill"] = to_skill
    if to_level:
        target["level"] = to_level if len(to_level) > 1 else to_level[0]
    if to_shop:
        target["shop"] = True
    if target:
        rec["target"] = target
    for key, value in (("name", name), ("strategy", strategy), ("priority", priority),
                       ("when_unavailable", when_unavailable), ("position", position),
                       ("enabled", enabled)):
        if value is not None:
            rec[key] = value.value if hasattr(value, "value") else value
    return rec


IfOpt = Annotated[list[str] | None, typer.Option(
    "--if", metavar="'FIELD OP VALUE'",
    help="A condition, e.g. 'customer.level ge 3' (repeat; all must hold). See `route fields`.")]
AnyOpt = Annotated[bool, typer.Option("--any", help="Any --if condition suffices.")]
CondOpt = Annotated[str | None, typer.Option(help="The conditions as JSON (instead of --if).")]
ToAgent = Annotated[str | None, typer.Option(
    help="An agent's handle, or $last_agent / $dedicated_agent.")]
ToGroup = Annotated[str | None, typer.Option(help="A group of the shop.")]
ToSkill = Annotated[str | None, typer.Option(help="Agents with this skill.")]
ToLevel = Annotated[list[str] | None, typer.Option(help="Agents of this level (repeat).")]
ToShop = Annotated[bool, typer.Option("--to-shop", help="Every agent of the shop.")]
Strategy = crud._choices(crud.KINDS["routing_rules"].field("strategy"))
When = crud._choices(crud.KINDS["routing_rules"].field("when_unavailable"))
StrategyOpt = Annotated[Strategy | None, typer.Option(help="How to pick inside the pool.")]
PriorityOpt = Annotated[int | None, typer.Option(help="Added to the chat's queue priority.")]
WhenOpt = Annotated[When | None, typer.Option(
    help="queue: wait for this pool; next: try the next rule.")]
PositionOpt = Annotated[int | None, typer.Option(min=1, help="Place in the order (1 = first).")]
NameOpt = Annotated[str | None, typer.Option(help="A readable name.")]


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The rule's key.")],
    shop: Annotated[str, typer.Option(help="The shop the rule belongs to.")],
    name: NameOpt = None, if_: IfOpt = None, any_: AnyOpt = False, conditions: CondOpt = None,
    to_agent: ToAgent = None, to_group: ToGroup = None, to_skill: ToSkill = None,
    to_level: ToLevel = None, to_shop: ToShop = False, strategy: StrategyOpt = None,
    priority: PriorityOpt = None, when_unavailable: WhenOpt = None,
    position: PositionOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Add a routing rule (last in order unless --position)."""
    rec = _rule_fields(name, if_, any_, conditions, to_agent, to_group, to_skill, to_level,
                       to_shop, strategy, priority, when_unavailable, position,
                       False if disabled else None)
    if "target" not in rec:
        raise UsageError("give a target: --to-agent, --to-group, --to-skill, --to-level or "
                         "--to-shop", key="route_target_required")
    stored = state(ctx).backend.create("routing_rules", {"key": key, "shop": shop, **rec})
    if position is not None:
        stored = state(ctx).backend.move_rule(key, position)
    if wants_json(ctx, json_):
        print_json(stored)
    else:
        info(t("cli.rule_added", key=key, position=stored["position"]))


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The rule's key.")],
    name: NameOpt = None, if_: IfOpt = None, any_: AnyOpt = False, conditions: CondOpt = None,
    to_agent: ToAgent = None, to_group: ToGroup = None, to_skill: ToSkill = None,
    to_level: ToLevel = None, to_shop: ToShop = False, strategy: StrategyOpt = None,
    priority: PriorityOpt = None, when_unavailable: WhenOpt = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled",
                                                 help="Switch the rule on or off.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Change a rule; a new target or new conditions replace the old ones whole."""
    changes = _rule_fields(name, if_, any_, conditions, to_agent, to_group, to_skill, to_level,
                           to_shop, strategy, priority, when_unavailable, None, enabled)
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)",
                         key="nothing_to_change_options")
    stored = state(ctx).backend.update("routing_rules", key, changes)
    if wants_json(ctx, json_):
        print_json(stored)
    else:
        info(t("cli.rule_updated", key=key))


crud.register_reads(
    app,
    "routing_rules",
    [
        ("#", lambda r: r["position"]),
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("conditions", lambda r: _short_conditions(r.get("conditions") or {})),
        ("target", lambda r: ", ".join(
            f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in r["target"].items())),
        ("strategy", lambda r: r["strategy"]),
        ("prio", lambda r: r["priority"]),
        ("if busy", lambda r: r["when_unavailable"]),
        ("on", lambda r: r["enabled"]),
    ],
    delete_name="remove",
)


def _short_conditions(cond: dict) -> str:
    if not cond:
        return "(always)"
    if "field" in cond:
        value = cond.get("value")
        if isinstance(value, list):
            value = ",".join(map(str, value))
        return f"{cond['field']} {cond['op']} {value}"
    for joiner in ("all", "any"):
        if joiner in cond:
            word = " and " if joiner == "all" else " or "
            return word.join(_short_conditions(c) for c in cond[joiner])
    if "not" in cond:
        return f"not ({_short_conditions(cond['not'])})"
    return json.dumps(cond, ensure_ascii=False)


@app.command("move")
def move_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The rule's key.")],
    to: Annotated[int, typer.Option("--to", min=1, help="New place (1 = first).")],
    json_: JsonOpt = False,
) -> None:
    """Move a rule to another place in its shop's order."""
    stored = state(ctx).backend.move_rule(key, to)
    if wants_json(ctx, json_):
        print_json(stored)
    else:
        info(t("cli.rule_moved", key=key, position=stored["position"]))


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Option(help="The shop.")],
    customer: Annotated[str, typer.Option(help="An existing customer's key.")],
    message: Annotated[str, typer.Option(help="The customer's first message.")],
    channel: Annotated[str | None, typer.Option(help="app, mini_program, h5, pc or web.")] = None,
    entry_page: Annotated[str | None, typer.Option(help="Entry page.")] = None,
    source: Annotated[str | None, typer.Option(help="Traffic source.")] = None,
    keyword: Annotated[str | None, typer.Option(help="Search term.")] = None,
    time_on_site: Annotated[int | None, typer.Option(help="Seconds on site.")] = None,
    pages_viewed: Annotated[int | None, typer.Option(help="Pages viewed.")] = None,
    product: Annotated[str | None, typer.Option(help="Product the chat is about.")] = None,
    intent: Annotated[str | None, typer.Option(
        help="presale or aftersale (default: from the words and the orders).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Who would get this chat now, and why (a dry run: nothing is written)."""
    d = state(ctx).backend.route_test(
        shop, customer, message, channel=channel, entry_page=entry_page, source=source,
        search_keyword=keyword, time_on_site_s=time_on_site, pages_viewed=pages_viewed,
        product=product, intent=intent)
    if wants_json(ctx, json_):
        print_json(d)
    else:
        typer.echo(d["explanation"])


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    conversation: Annotated[int, typer.Argument(metavar="ID", help="A conversation's id.")],
    json_: JsonOpt = False,
) -> None:
    """Which rule routed a conversation, why earlier rules did not, who was passed over."""
    d = state(ctx).backend.route_explain(conversation)
    if wants_json(ctx, json_):
        print_json(d)
    else:
        typer.echo(d["explanation"])


@app.command("fields")
def fields_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """The facts conditions can test, with their types and operators."""
    from cstool.routing.fields import format_known_fields, known_fields

    if wants_json(ctx, json_):
        print_json(known_fields())
    else:
        typer.echo(format_known_fields())
