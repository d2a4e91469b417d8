"""Declarative configuration: reading fixture files (YAML or JSON, a file, a folder or
stdin) into one document that ``Backend.apply`` takes, with every record remembering
its file and line so errors can point at them; writing exports; the JSON Schema.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import IO, Any

import yaml

from .errors import InvalidInput, TooDeep
from .json_limits import MAX_JSON_DEPTH, check_depth, too_deep_message
from .resources import KINDS, Field, Kind
from .validation import FieldError

MAX_FILE_BYTES = 64 * 1024 * 1024
FILE_SUFFIXES = (".yaml", ".yml", ".json")


class LineDict(dict):
    """A mapping that remembers its line and the line of each key (1-based)."""

    line: int | None = None
    lines: dict


class LineList(list):
    """A list that remembers its line."""

    line: int | None = None


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, refuses duplicate keys, and limits nesting
    as it composes (at most ``MAX_JSON_DEPTH`` levels, block style included: the
    composer recurses once per level) and aliases (an alias to a part that holds
    aliases itself could expand without bound, "billion laughs")."""

    _depth = 0
    _aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, counting its depth and the aliases inside it."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and getattr(target, "holds_aliases", False):
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} names a part that uses aliases "
                    "itself (refused: it could expand without bound)", event.start_mark)
            self._aliases += 1
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_JSON_DEPTH:
                at = f"{self.name}:{self.peek_event().start_mark.line + 1}"
                raise TooDeep(too_deep_message(at), key="too_deep_at", at=at,
                              limit=MAX_JSON_DEPTH)
            before = self._aliases
            node = super().compose_node(parent, index)
            node.holds_aliases = self._aliases > before
            return node
        finally:
            self._depth -= 1


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be plain text", key_node.start_mark
            ) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate field {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode, deep: bool = False) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# Times stay text: validation parses them (and knows the shop's zone).
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_text(text: str, source: str) -> Any:
    """Parse YAML or JSON text, keeping line numbers; InvalidInput naming file and line."""
    loader = _Loader(text)
    loader.name = source
    try:
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = e.problem or e.context or "cannot be parsed"
        raise InvalidInput(f"{source}{line}: not valid YAML/JSON: {problem}",
                           key="not_yaml_at", at=f"{source}{line}", problem=problem) from None
    except yaml.YAMLError as e:
        raise InvalidInput(f"{source}: not valid YAML/JSON: {e}",
                           key="not_yaml_at", at=str(source), problem=str(e)) from None
    except RecursionError:  # a guard behind the depth limit, never expected
        raise TooDeep(too_deep_message(source),
                      key="too_deep_at", at=str(source), limit=MAX_JSON_DEPTH) from None


def read_sources(target: str, stdin: IO[str] | None = None) -> list[tuple[str, Any]]:
    """Read a file, every fixture file in a folder (sorted), or ``-`` (stdin)."""
    if target == "-":
        stream = stdin if stdin is not None else io.TextIOWrapper(__import__("sys").stdin.buffer)
        return [("<stdin>", parse_text(stream.read(), "<stdin>"))]
    path = Path(target)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in FILE_SUFFIXES and p.is_file())
        if not files:
            raise InvalidInput(f"{target}: no .yaml, .yml or .json files in this folder",
                               key="folder_no_data_files", target=str(target))
    elif path.is_file():
        files = [path]
    else:
        raise InvalidInput(f"{target}: no such file or folder",
                           key="no_such_file_or_folder", target=str(target))
    out = []
    for f in files:
        if f.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInput(f"{f}: file too large (over {MAX_FILE_BYTES // 2**20} MiB)",
                               key="file_too_large", file=str(f), mib=MAX_FILE_BYTES // 2**20)
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{f}: not UTF-8 text", key="file_not_utf8", file=str(f)) from None
        if f.suffix == ".json":
            _check_json(text, str(f))
        out.append((str(f), parse_text(text, str(f))))
    return out


def _check_json(text: str, source: str) -> None:
    """Strict JSON syntax (YAML would forgive a trailing comma); lines come from YAML."""
    check_depth(text, source)
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{source}:{e.lineno}: not valid YAML/JSON: {e.msg}",
                           key="not_yaml_at", at=f"{source}:{e.lineno}", problem=e.msg) from None


class Document:
    """Records of several sources merged by kind, each remembering where it came from."""

    def __init__(self) -> None:
        self.records: dict[str, list[Any]] = {}
        self.origin: dict[str, list[str]] = {}

    def add(self, source: str, data: Any) -> None:
        """Add one parsed file: a mapping of kind names to lists of records."""
        if data is None:
            return
        if not isinstance(data, dict):
            raise InvalidInput(
                f"{source}: expected a mapping of kinds ({', '.join(KINDS)}) at the top",
                key="not_kinds_mapping", source=str(source), known=', '.join(KINDS)
            )
        for name, records in data.items():
            line = getattr(data, "lines", {}).get(name)
            where = f"{source}:{line}" if line else source
            if name not in KINDS:
                raise InvalidInput(f"{where}: {name}: unknown kind (known: {', '.join(KINDS)})",
                                   key="unknown_kind_at", at=str(where), name=str(name),
                                   known=', '.join(KINDS))
            if records is None:
                continue
            if not isinstance(records, list):
                raise InvalidInput(f"{where}: {name}: expected a list of records",
                                   key="not_record_list", at=str(where), name=str(name))
            self.records.setdefault(name, []).extend(records)
            self.origin.setdefault(name, []).extend([source] * len(records))

    def locate(self, error: FieldError) -> FieldError:
        """Name the file and line of a FieldError whose path starts ``kind[i]``."""
        m = re.match(r"^(\w+)\[(\d+)\](.*)$", error.path or "")
        if not m or m.group(1) not in self.records:
            return error
        name, i, rest = m.group(1), int(m.group(2)), m.group(3)
        if i >= len(self.records[name]):
            return error
        source = self.origin[name][i]
        line = _line_at(self.records[name][i], rest) or error.line
        return FieldError(error.path, error.reason, line, source,
                          key=getattr(error, "_key", None), **getattr(error, "_params", {}))

    def count(self) -> int:
        """How many records in all."""
        return sum(len(v) for v in self.records.values())


def _line_at(obj: Any, rest: str) -> int | None:
    """The line of the deepest part of ``obj`` named by a path tail like ``.items[0].price``."""
    line = getattr(obj, "line", None)
    for name, idx in re.findall(r"\.([^.\[]+)|\[(\d+)\]", rest):
        if name:
            if not isinstance(obj, dict) or name not in obj:
                lines = getattr(obj, "lines", None)
                return lines.get(name, line) if lines else line
            line = getattr(obj, "lines", {}).get(name, line)
            obj = obj[name]
        else:
            if not isinstance(obj, list) or int(idx) >= len(obj):
                return line
            obj = obj[int(idx)]
            line = getattr(obj, "line", line)
    return line


def load_document(targets: list[str], stdin: IO[str] | None = None) -> Document:
    """Read every target into one Document."""
    doc = Document()
    for target in targets:
        for source, data in read_sources(target, stdin):
            doc.add(source, data)
    return doc


def dump(document: dict[str, list[dict]], fmt: str = "yaml") -> str:
    """Serialise an export as YAML (Chinese kept readable) or JSON."""
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )


# -- JSON Schema -------------------------------------------------------------------
def _field_schema(f: Field) -> dict:
    t = f.type
    s: dict[str, Any]
    if t in ("str",):
        s = {"type": "string", "maxLength": f.max_len}
    elif t in ("slug", "ref"):
        s = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$"}
        if t == "ref":
            s["description"] = f"key of one of the {f.ref}"
    elif t == "int":
        s = {"type": "integer"}
    elif t == "number":
        s = {"type": "number"}
    elif t == "money":
        s = {"type": ["number", "string"], "description": "yuan, at most 2 decimals"}
    elif t == "bool":
        s = {"type": "boolean"}
    elif t == "time":
        s = {"type": "string", "format": "date-time"}
    elif t == "enum":
        s = {"type": "string", "enum": list(f.choices)}
    elif t in ("strlist", "reflist"):
        item: dict[str, Any] = {"type": "string"}
        if f.choices:
            item["enum"] = list(f.choices)
        s = {"type": "array", "items": item, "uniqueItems": True}
    elif t == "attrs":
        s = {
            "type": "object",
            "additionalProperties": {
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
            },
        }
    elif t == "records":
        s = {"type": "array", "items": _object_schema(f.fields)}
    elif t == "record":
        s = _object_schema(f.fields)
    elif t == "hours":
        s = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                d: {"type": "string", "pattern": r"^(closed|\d\d:\d\d-\d\d:\d\d)$"}
                for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        }
    elif t == "json":
        s = {"type": ["object", "array"]}
    elif t == "settings":
        from .resources import SHOP_SETTINGS_DEFAULTS

        s = {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _setting_schema(k, v) for k, v in SHOP_SETTINGS_DEFAULTS.items()},
        }
    else:  # pragma: no cover - every type is listed above
        raise AssertionError(t)
    if f.min is not None and t in ("int", "number"):
        s["minimum"] = f.min
    if f.max is not None and t in ("int", "number"):
        s["maximum"] = f.max
    if f.doc:
        s.setdefault("description", f.doc)
    return s


def _setting_schema(name: str, default: Any) -> dict:
    """The JSON Schema of one shop setting."""
    if name == "quiet_hours":
        return {"type": ["string", "null"]}
    if name.endswith("_threshold"):
        return {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    if name == "bot_synonyms":
        return {"type": ["array", "string", "null"], "items": {"type": "string"},
                "description": "synonym groups 'a|b|c' (the first word is canonical)"}
    if name == "labels":
        return {"type": ["array", "null"], "items": {"type": "string", "maxLength": 32},
                "description": "the shop's conversation labels"}
    if name == "qa":
        return {"type": ["object", "null"],
                "description": "quality inspection (质检): off, points, word lists, "
                               "sample_rate, low_score, typing_grace_s"}
    if name == "bot_cover_after_s":
        return {"type": ["integer", "null"], "minimum": 1,
                "description": "human_first: the bot covers a queued chat past this wait"}
    if name == "bot_handoff_phrases":
        return {"type": ["array", "string", "null"], "items": {"type": "string"}}
    return {"type": "integer", "minimum": 1, "default": default}


def _object_schema(fields: tuple[Field, ...]) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: _field_schema(f) for f in fields},
    }


def kind_schema(k: Kind) -> dict:
    """The JSON Schema of one record of ``k``."""
    s = _object_schema(k.fields)
    s["description"] = k.doc
    return s


def json_schema() -> dict:
    """The JSON Schema of a fixture file, for editors."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "cstool fixture file",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: {"type": "array", "items": kind_schema(k)} for name, k in KINDS.items()
        },
    }
