"""Routing rules and targets: the data format, validation, examples and the compiled rule set.

A rule is plain data (a dict, e.g. from YAML) or a :class:`Rule`::

    key:               stable slug, unique in the shop (required; "fallback" is reserved)
    name:              what a supervisor calls it (default: the key)
    conditions:        a condition (see cstool.routing.conditions); absent = always matches;
                       a list of conditions means all of them
    target:            the pool of agents (required, see below)
    strategy:          least_load | round_robin | longest_idle | sticky   (default least_load)
    priority:          int added to the chat's queue priority              (default 0)
    when_unavailable:  queue = wait in the queue for this pool; next = try the next rule
                                                                            (default queue)
    enabled:           bool                                                (default true)
    description:       free text

A target is one of::

    {"agent": "xiaoli"}                 one agent, by handle
    {"agent": "$last_agent"}            the agent who served this customer last (熟客)
    {"agent": "$dedicated_agent"}       the customer's own (VIP) agent
    {"group": "logistics"}              agents of a group
    {"skill": "english"}                agents with a skill
    {"level": ["senior", "expert"]}     agents of these levels (a single string works too)
    {"shop": true}                      every agent of the shop

``group``, ``skill`` and ``level`` may be combined; the pool is then the
intersection (``{"group": "vip", "level": "expert"}``). A ``$last_agent`` or
``$dedicated_agent`` target the customer does not have, or a pool with no agent
in it at all, never queues: the engine goes on to the next rule.

:data:`RULE_KIND_EXAMPLES` shows how each of the nine rule kinds of
``docs/DESIGN.md`` (§5 "Routing") is written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cstool.routing.conditions import (
    Condition,
    Predicate,
    RuleError,
    compile_condition,
    condition_leaves,
    validate_condition,
)
from cstool.routing.fields import AGENT_LEVELS, KNOWN_FIELDS

__all__ = [
    "DYNAMIC_AGENTS",
    "RULE_KIND_EXAMPLES",
    "STRATEGIES",
    "WHEN_UNAVAILABLE",
    "Rule",
    "RuleSet",
    "describe_target",
    "target_key",
    "validate_rule",
    "validate_rules",
    "validate_target",
]

STRATEGIES = ("least_load", "round_robin", "longest_idle", "sticky")
WHEN_UNAVAILABLE = ("queue", "next")
#: ``$name`` agent targets and the fact each one reads.
DYNAMIC_AGENTS = {"$last_agent": "customer.last_agent",
                  "$dedicated_agent": "customer.dedicated_agent"}
RULE_KEYS = ("key", "name", "conditions", "target", "strategy", "priority", "when_unavailable",
             "enabled", "description")
TARGET_KEYS = ("agent", "group", "skill", "level", "shop")
FALLBACK_KEY = "fallback"
SHOP_TARGET: dict[str, Any] = {"shop": True}


# --------------------------------------------------------------------------- the rule record

@dataclass(frozen=True)
class Rule:
    """One validated routing rule (see the module docstring for the fields)."""

    key: str
    target: dict[str, Any]
    conditions: dict[str, Any] | list[Any] | None = None
    name: str = ""
    strategy: str = "least_load"
    priority: int = 0
    when_unavailable: str = "queue"
    enabled: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        validate_rule(self)
        # Normal form, so that from_dict(to_dict()) gives an equal rule.
        conditions = self.conditions or {}
        if isinstance(conditions, list):
            conditions = {"all": list(conditions)}
        object.__setattr__(self, "conditions", dict(conditions))
        object.__setattr__(self, "target", dict(self.target))
        object.__setattr__(self, "name", self.name or self.key)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build a rule from plain data, raising ``ValueError`` if it is not valid."""
        if not isinstance(data, Mapping):
            raise RuleError(f"rule: must be a mapping, got {type(data).__name__}",
                            key="rule_not_mapping", name=type(data).__name__)
        validate_rule(data)
        return cls(**{k: data[k] for k in RULE_KEYS if k in data and data[k] is not None})

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as plain data (the format ``from_dict`` reads)."""
        out: dict[str, Any] = {"key": self.key, "name": self.name,
                               "conditions": copy.deepcopy(self.conditions)}
        out.update(target=copy.deepcopy(self.target), strategy=self.strategy,
                   priority=self.priority, when_unavailable=self.when_unavailable,
                   enabled=self.enabled)
        if self.description:
            out["description"] = self.description
        return out

    @property
    def title(self) -> str:
        """The name, or the key when the rule has no name."""
        return self.name or self.key


# --------------------------------------------------------------------------- validation

def validate_target(target: Any, path: str = "target") -> None:
    """Check a target; raise ``ValueError`` with a one-line message naming the path."""
    if not isinstance(target, Mapping) or not target:
        raise RuleError(f"{path}: required, e.g. {{group: logistics}} or {{agent: $last_agent}}",
                        key="rule_target_required", the_path=str(path))
    unknown = [k for k in target if k not in TARGET_KEYS]
    if unknown:
        raise RuleError(f"{path}: unknown key {unknown[0]!r} "
                         f"(use agent, group, skill, level or shop)",
                        key="rule_target_unknown_key", the_path=str(path), value=unknown[0])
    if "agent" in target or "shop" in target:
        alone = "agent" if "agent" in target else "shop"
        if len(target) > 1:
            others = ", ".join(k for k in target if k != alone)
            raise RuleError(f"{path}: {alone} cannot be combined with {others}",
                            key="rule_target_combined", the_path=str(path), alone=alone,
                            others=others)
    if "agent" in target:
        handle = target["agent"]
        if not isinstance(handle, str) or not handle.strip():
            raise RuleError(f"{path}.agent: needs an agent handle, $last_agent "
                             f"or $dedicated_agent",
                            key="rule_target_agent_empty", the_path=str(path))
        if handle.startswith("$") and handle not in DYNAMIC_AGENTS:
            raise RuleError(f"{path}.agent: unknown placeholder {handle!r} "
                             f"(use $last_agent or $dedicated_agent)",
                            key="rule_target_placeholder", the_path=str(path), handle=handle)
    if "shop" in target and target["shop"] is not True:
        raise RuleError(f"{path}.shop: must be true (every agent of the shop)",
                        key="rule_target_shop_true", the_path=str(path))
    for key in ("group", "skill"):
        if key in target and (not isinstance(target[key], str) or not target[key].strip()):
            raise RuleError(f"{path}.{key}: needs a {key} name",
                            key="rule_target_needs_name", the_path=str(path), the_key=key)
    if "level" in target:
        levels = target["level"]
        if isinstance(levels, str):
            levels = [levels]
        if not isinstance(levels, list) or not levels:
            raise RuleError(f"{path}.level: needs a level or a non-empty list of levels "
                             f"({', '.join(AGENT_LEVELS)})",
                            key="rule_target_level", the_path=str(path),
                            join=', '.join(AGENT_LEVELS))
        for i, level in enumerate(levels):
            if level not in AGENT_LEVELS:
                raise RuleError(f"{path}.level[{i}]: unknown agent level {level!r} "
                                 f"(one of {', '.join(AGENT_LEVELS)})",
                                key="rule_target_unknown_level", the_path=str(path), i=i,
                                level=level, join=', '.join(AGENT_LEVELS))


def validate_rule(rule: Rule | Mapping[str, Any]) -> None:
    """Check one rule; raise ``ValueError`` with a one-line message.

    Messages name the rule and the path, e.g.
    ``rule 'vip': strategy: unknown strategy 'fastest' (one of least_load, ...)`` or
    ``rule 'vip': conditions.all[2].op: unknown operator 'gte' (known: ...)``.
    """
    if isinstance(rule, Rule):
        data: Mapping[str, Any] = {k: getattr(rule, k) for k in RULE_KEYS}
    elif isinstance(rule, Mapping):
        data = rule
    else:
        raise RuleError(f"rule: must be a mapping, got {type(rule).__name__}",
                        key="rule_not_mapping", name=type(rule).__name__)
    key = data.get("key")
    if not isinstance(key, str) or not key.strip():
        raise RuleError("rule: key: required (a short slug such as vip-dedicated)",
                        key="rule_key_required")
    where = f"rule {key!r}"
    if any(ch.isspace() for ch in key):
        raise RuleError(f"{where}: key: must not contain spaces",
                        key="rule_key_spaces", the_where=where)
    if key == FALLBACK_KEY:
        raise RuleError(f"{where}: key: 'fallback' is reserved for the implicit last rule",
                        key="rule_key_reserved", the_where=where)
    unknown = [k for k in data if k not in RULE_KEYS]
    if unknown:
        raise RuleError(f"{where}: unknown field {unknown[0]!r} "
                         f"(rule fields: {', '.join(RULE_KEYS)})",
                        key="rule_unknown_field_name", the_where=where, value=unknown[0],
                        join=', '.join(RULE_KEYS))
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise RuleError(f"{where}: name: must be text", key="rule_name_not_text", the_where=where)
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise RuleError(f"{where}: description: must be text",
                        key="rule_description_not_text", the_where=where)
    try:
        validate_condition(data.get("conditions"), "conditions")
        validate_target(data.get("target"), "target")
    except RuleError as exc:
        raise RuleError(f"{where}: {exc}", key="rule_at", the_where=where, exc=str(exc)) from None
    strategy = data.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise RuleError(f"{where}: strategy: unknown strategy {strategy!r} "
                         f"(one of {', '.join(STRATEGIES)})",
                        key="rule_unknown_strategy", the_where=where, strategy=strategy,
                        join=', '.join(STRATEGIES))
    priority = data.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise RuleError(f"{where}: priority: must be a whole number, got {priority!r}",
                        key="rule_priority_not_int", the_where=where, priority=repr(priority))
    when = data.get("when_unavailable")
    if when is not None and when not in WHEN_UNAVAILABLE:
        raise RuleError(f"{where}: when_unavailable: must be queue or next, got {when!r}",
                        key="rule_when_unavailable", the_where=where, when=repr(when))
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise RuleError(f"{where}: enabled: must be true or false, got {enabled!r}",
                        key="rule_enabled_not_bool", the_where=where, enabled=repr(enabled))


def validate_rules(rules: Iterable[Rule | Mapping[str, Any]]) -> None:
    """Check an ordered list of rules: each rule, and that keys are unique."""
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        try:
            validate_rule(rule)
        except RuleError as exc:
            raise RuleError(f"rules[{i}]: {exc}", key="rules_item", i=i, exc=str(exc)) from None
        key = rule.key if isinstance(rule, Rule) else rule["key"]
        if key in seen:
            raise RuleError(f"rules[{i}]: rule {key!r}: key: duplicate key",
                            key="rule_duplicate_key", i=i, the_key=key)
        seen.add(key)


# --------------------------------------------------------------------------- targets

def _levels(target: Mapping[str, Any]) -> tuple[str, ...]:
    level = target["level"]
    return (level,) if isinstance(level, str) else tuple(level)


def target_key(target: Mapping[str, Any]) -> str:
    """A canonical string for a (resolved) target: ``shop``, ``agent:xiaoli``,
    ``group=vip&level=expert|senior``. Equal pools get equal keys."""
    if target.get("shop"):
        return "shop"
    if "agent" in target:
        return f"agent:{target['agent']}"
    parts = []
    if "group" in target:
        parts.append(f"group={target['group']}")
    if "skill" in target:
        parts.append(f"skill={target['skill']}")
    if "level" in target:
        parts.append("level=" + "|".join(sorted(_levels(target))))
    if target.get("except"):
        parts.append(f"except={target['except']}")
    return "&".join(parts)


def describe_target(target: Mapping[str, Any]) -> str:
    """Describe a target for people: ``group logistics and level senior or expert``."""
    if target.get("shop"):
        return "every agent of the shop"
    if "agent" in target:
        handle = target["agent"]
        if handle == "$last_agent":
            return "the customer's last agent"
        if handle == "$dedicated_agent":
            return "the customer's dedicated agent"
        return f"agent {handle}"
    parts = []
    if "group" in target:
        parts.append(f"group {target['group']}")
    if "skill" in target:
        parts.append(f"skill {target['skill']}")
    if "level" in target:
        parts.append("level " + " or ".join(_levels(target)))
    text = " and ".join(parts)
    return f"{text}, except {target['except']}" if target.get("except") else text


# --------------------------------------------------------------------------- examples

#: How each of the nine rule kinds of docs/DESIGN.md (§5 "Routing") is written, keyed
#: by the number there. The entries are in a workable evaluation order (most specific
#: first, load last), so ``RuleSet(RULE_KIND_EXAMPLES.values())`` is a sensible
#: starting rule set; the implicit fallback is the whole shop, least_load, queue.
RULE_KIND_EXAMPLES: dict[str, dict[str, Any]] = {
    "8 dedicated agent": {
        "key": "vip-dedicated",
        "name": "VIP 专属客服 (一对一)",
        "conditions": {"all": [
            {"field": "customer.tags", "op": "contains", "value": "VIP"},
            {"field": "customer.dedicated_agent", "op": "exists"},
        ]},
        "target": {"agent": "$dedicated_agent"},
        "priority": 20,
        "when_unavailable": "queue",  # one to one: wait for them
    },
    "1 returning customer": {
        "key": "returning-customer",
        "name": "熟客: 30 天内回访找上次的客服",
        "conditions": {"all": [
            {"field": "customer.is_returning", "op": "eq", "value": True},
            {"field": "customer.days_since_last_served", "op": "le", "value": 30},
        ]},
        "target": {"agent": "$last_agent"},
        "when_unavailable": "next",  # not online or full: route normally instead
    },
    "5 keyword": {
        "key": "logistics-keywords",
        "name": "发货/物流 → 物流组",
        "conditions": {"any": [
            {"field": "message.text", "op": "contains_any",
             "value": ["发货", "物流", "快递", "到哪了"]},
            {"field": "conversation.search_keyword", "op": "contains_any",
             "value": ["发货", "物流"]},
        ]},
        "target": {"group": "logistics"},
    },
    "9 category, intent, tags": {
        "key": "appliance-aftersale",
        "name": "家电/数码售后 → 售后组家电技能",
        "conditions": {"all": [
            {"field": "conversation.intent", "op": "eq", "value": "aftersale"},
            {"any": [
                {"field": "product.category", "op": "in", "value": ["家电", "数码"]},
                {"field": "customer.tags", "op": "contains_any", "value": ["家电会员"]},
            ]},
        ]},
        "target": {"group": "aftersale", "skill": "appliances"},
        "strategy": "sticky",
    },
    "2 channel or entry page": {
        "key": "order-page-to-aftersale",
        "name": "订单页/小程序进线 → 售后组",
        "conditions": {"any": [
            {"field": "conversation.entry_page", "op": "eq", "value": "order_detail"},
            {"field": "conversation.channel", "op": "eq", "value": "mini_program"},
        ]},
        "target": {"group": "aftersale"},
    },
    "4 region": {
        "key": "east-china",
        "name": "江浙沪 → 华东组",
        "conditions": {"field": "customer.region", "op": "matches", "value": "^(浙江|江苏|上海)"},
        "target": {"group": "east_china"},
        "strategy": "round_robin",
    },
    "6 behaviour": {
        "key": "hesitant-browser",
        "name": "商品页久留多看 → 售前组, 优先",
        "conditions": {"all": [
            {"field": "conversation.entry_page", "op": "eq", "value": "product_detail"},
            {"field": "conversation.time_on_site_s", "op": "ge", "value": 300},
            {"field": "conversation.pages_viewed", "op": "ge", "value": 5},
        ]},
        "target": {"group": "presale"},
        "priority": 5,
    },
    "7 reception level": {
        "key": "high-value",
        "name": "高等级/高消费 → 资深客服, 优先",
        "conditions": {"any": [
            {"field": "customer.level", "op": "ge", "value": 4},
            {"field": "customer.spend", "op": "ge", "value": 10000},
        ]},
        "target": {"level": ["senior", "expert"]},
        "strategy": "longest_idle",
        "priority": 10,
    },
    "3 load": {
        "key": "balance-load",
        "name": "按负载分配",
        "conditions": {},
        "target": {"shop": True},
        "strategy": "least_load",
    },
}


# --------------------------------------------------------------------------- compiled set

class CompiledRule:
    """A rule prepared for the hot path (internal to the engine)."""

    __slots__ = ("index", "rule", "key", "predicate", "target", "pool_key", "dynamic",
                 "strategy", "priority", "go_next")

    def __init__(self, index: int, rule: Rule) -> None:
        self.index = index
        self.rule = rule
        self.key = rule.key
        self.predicate: Predicate = compile_condition(rule.conditions)
        self.target = dict(rule.target)
        handle = self.target.get("agent")
        self.dynamic: str | None = DYNAMIC_AGENTS.get(handle) if handle else None
        self.pool_key: str | None = None if self.dynamic else target_key(self.target)
        self.strategy = rule.strategy
        self.priority = rule.priority
        self.go_next = rule.when_unavailable == "next"


class RuleSet:
    """One shop's ordered rules, validated, compiled and indexed.

    Build it once when the rules change and pass it to ``route`` (a plain list
    works too, but is compiled on every call). Indexing: each rule is filed under
    one test its conditions require (a keyword, a tag, or an ``eq``/``in``
    value), so ``candidates`` returns, in order, only the rules that can match
    the given facts; the result is exactly that of evaluating every rule.
    """

    def __init__(self, rules: Iterable[Rule | Mapping[str, Any]] = ()) -> None:
        items = list(rules)
        validate_rules(items)
        self.rules: tuple[Rule, ...] = tuple(
            r if isinstance(r, Rule) else Rule.from_dict(r) for r in items)
        self.compiled: tuple[CompiledRule | None, ...] = tuple(
            CompiledRule(i, r) if r.enabled else None for i, r in enumerate(self.rules))
        self._build_index()
        # set by storage: the rules as stored once per version, and that version's id
        self.stored_text: str = ""
        self.stored_id: str = ""

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def static_pools(self) -> list[tuple[dict[str, Any], str]]:
        """``(target, strategy)`` for every enabled rule whose pool does not depend on
        the customer, plus the fallback's ``({"shop": true}, "least_load")``."""
        seen: dict[tuple[str, str], dict[str, Any]] = {("shop", "least_load"): dict(SHOP_TARGET)}
        for c in self.compiled:
            if c is not None and c.pool_key is not None and "agent" not in c.target:
                seen.setdefault((c.pool_key, c.strategy), c.target)
        return [(target, strategy) for (_, strategy), target in seen.items()]

    # -- index ---------------------------------------------------------------

    def _build_index(self) -> None:
        eq: dict[str, dict[Any, list[int]]] = {}
        member: dict[str, dict[Any, list[int]]] = {}
        keywords: dict[str, dict[str, dict[str, list[int]]]] = {}
        unguarded: list[int] = []
        for c in self.compiled:
            if c is None:
                continue
            guard = _pick_guard(c.rule.conditions)
            if guard is None:
                unguarded.append(c.index)
                continue
            kind, fld, values = guard
            if kind == "eq":
                table = eq.setdefault(fld, {})
                for v in values:
                    ids = table.setdefault(v, [])
                    if not ids or ids[-1] != c.index:
                        ids.append(c.index)
            elif kind == "member":
                table = member.setdefault(fld, {})
                for v in values:
                    ids = table.setdefault(v, [])
                    if not ids or ids[-1] != c.index:
                        ids.append(c.index)
            else:
                by_char = keywords.setdefault(fld, {})
                for word in values:
                    ids = by_char.setdefault(word[0], {}).setdefault(word, [])
                    if not ids or ids[-1] != c.index:
                        ids.append(c.index)
        self._eq = tuple((f, {v: tuple(ids) for v, ids in t.items()}) for f, t in eq.items())
        self._member = tuple((f, {v: tuple(ids) for v, ids in t.items()})
                             for f, t in member.items())
        self._keywords = tuple(
            (f, {ch: tuple((w, tuple(ids)) for w, ids in words.items())
                 for ch, words in t.items()})
            for f, t in keywords.items())
        self._unguarded = unguarded

    def candidates(self, facts: Mapping[str, Any]) -> list[int]:
        """Indexes of enabled rules that may match ``facts``, in rule order.

        Every rule that matches is in the list; callers still evaluate each one.
        """
        hits: list[int] = []
        for fld, table in self._eq:
            try:
                ids = table.get(facts.get(fld))
            except TypeError:  # unhashable fact: equals no indexed value
                continue
            if ids:
                hits.extend(ids)
        for fld, table in self._member:
            items = facts.get(fld)
            if isinstance(items, list | tuple | set | frozenset):
                for item in items:
                    try:
                        ids = table.get(item)
                    except TypeError:
                        continue
                    if ids:
                        hits.extend(ids)
        for fld, by_char in self._keywords:
            text = facts.get(fld)
            if isinstance(text, str) and text:
                text = text.casefold()
                for ch in set(text):
                    words = by_char.get(ch)
                    if words:
                        for word, ids in words:
                            if word in text:
                                hits.extend(ids)
        if not hits:
            return self._unguarded
        return sorted(self._unguarded + list(set(hits)))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _selectivity(kind: str, fld: str, values: tuple[Any, ...]) -> float:
    """Rough share of chats a guard lets through; the index files a rule under its
    most selective required test."""
    spec = KNOWN_FIELDS[fld]
    if kind == "keyword":
        return 0.01 * len(values)
    if kind == "member":
        return 0.05 * len(values)
    if spec.type == "enum":
        return len(values) / len(spec.choices)
    if spec.type == "bool":
        return 0.5
    if spec.type == "int" and spec.low is not None and spec.high is not None:
        return len(values) / (spec.high - spec.low + 1)
    return 0.02 * len(values)


def _pick_guard(cond: Condition | None) -> tuple[str, str, tuple[Any, ...]] | None:
    """Choose the required leaf to file a rule under, or None (always a candidate)."""
    best: tuple[float, tuple[str, str, tuple[Any, ...]]] | None = None
    for leaf in condition_leaves(cond):
        fld, op, value = leaf["field"], leaf["op"], leaf.get("value")
        spec = KNOWN_FIELDS[fld]
        guard: tuple[str, str, tuple[Any, ...]] | None = None
        if op in ("contains", "contains_any"):
            words = (value,) if op == "contains" else tuple(value)
            if spec.type in ("str", "handle"):
                guard = ("keyword", fld, tuple(dict.fromkeys(w.casefold() for w in words)))
            elif spec.type == "list" and all(_hashable(w) for w in words):
                guard = ("member", fld, words)
        elif op == "eq" and value is not None and _hashable(value):
            guard = ("eq", fld, (value,))
        elif op == "in" and all(_hashable(v) for v in value):
            guard = ("eq", fld, tuple(value))
        if guard is not None:
            share = _selectivity(*guard)
            if best is None or share < best[0]:
                best = (share, guard)
    return best[1] if best else None
