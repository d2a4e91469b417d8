"""Knowledge entries in files: JSONL, YAML and CSV, read with line numbers and written
back in the same shapes (``cstool kb import`` / ``kb export``).

Every format carries the fields ``key, shop, question, similar, answer, category,
tags, enabled``. In JSONL each line is one JSON object; YAML is a list of entries (or a
fixture file with ``knowledge_entries:``); CSV has a header row, and its ``similar``
and ``tags`` cells separate items with ``|`` (or the full-width ``｜``); its header may
use a spreadsheet's own names (``Question``, 问题, 答案, 相似问法, 分类, 标签 ...:
``COLUMN_NAMES``). A missing or
empty ``shop`` means platform-wide (or the importer's default shop). Numbers where text
belongs (a tag ``2026``, a YAML ``key: 12306``) are read as text.

Reading only parses: records come back as ``LineDict`` (file line of the record and of
each field) for ``Backend.apply``, which validates them all or nothing.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable
from typing import Any

import yaml

from . import json_limits
from .declarative import LineDict, parse_text
from .errors import InvalidInput, TooDeep, UsageError

FIELDS = ("key", "shop", "question", "similar", "answer", "category", "tags", "enabled")
FORMATS = ("jsonl", "yaml", "csv")
LIST_FIELDS = ("similar", "tags")
TEXT_FIELDS = ("key", "shop", "question", "answer", "category")
REQUIRED_COLUMNS = ("key", "question", "answer")
# what merchants' own spreadsheets call the columns (a header is read case-blind, and
# these Chinese names mean the field beside them); an export always writes FIELDS
COLUMN_NAMES = {
    "key": ("key", "编号", "键", "条目编号", "知识编号"),
    "shop": ("shop", "店铺", "店铺编号"),
    "question": ("question", "问题", "标准问题", "标准问", "标准问法", "问法"),
    "similar": ("similar", "相似问题", "相似问法", "相似问", "相似问句", "扩展问"),
    "answer": ("answer", "答案", "回答", "答复", "回复"),
    "category": ("category", "分类", "类目", "类别"),
    "tags": ("tags", "标签"),
    "enabled": ("enabled", "启用", "是否启用"),
}
_COLUMN_OF = {name.casefold(): field for field, names in COLUMN_NAMES.items()
              for name in names}
_TRUE = ("true", "yes", "y", "1", "on", "是")
_FALSE = ("false", "no", "n", "0", "off", "否")


def format_of_name(name: str | None) -> str | None:
    """The format a file name's suffix says, or None."""
    low = (name or "").lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".yaml", "yaml"),
                        (".yml", "yaml"), (".csv", "csv")):
        if low.endswith(suffix):
            return fmt
    return None


def format_of(name: str | None, text: str = "") -> str:
    """The format of a file by its suffix, else by a look at its text."""
    by_name = format_of_name(name)
    if by_name:
        return by_name
    low = (name or "").lower()
    lines = [ln.strip() for ln in text.lstrip("\ufeff").splitlines() if ln.strip()]
    if low.endswith(".json") or (lines and lines[0].startswith(("[", "{"))):
        if len(lines) > 1 and all(ln.startswith("{") for ln in lines[:20]):
            try:
                json_limits.loads(lines[0])
                return "jsonl"
            except (ValueError, TooDeep):
                return "yaml"
        return "yaml"
    if lines and "," in lines[0] and "key" in [c.strip() for c in lines[0].split(",")]:
        return "csv"
    return "yaml"


def _line_dict(data: dict, line: int) -> LineDict:
    out = LineDict(data)
    out.line = line
    out.lines = {k: line for k in data}
    return out


def _textify(value: Any) -> Any:
    """Numbers where text belongs become text; booleans and the rest stay."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


def _tidy(rec: dict, default_shop: str | None) -> dict:
    """Shared clean-up: text fields from numbers, ``a|b`` lists, empty shop."""
    for f in TEXT_FIELDS:
        if f in rec:
            rec[f] = _textify(rec[f])
    for f in LIST_FIELDS:
        v = rec.get(f)
        if isinstance(v, str):
            # a Chinese input method types the full-width bar: both separate items
            rec[f] = [s.strip() for s in v.replace("｜", "|").split("|") if s.strip()]
        elif isinstance(v, list):
            items = []
            for item in v:
                item = _textify(item)
                if isinstance(item, str):
                    item = item.strip()
                    if not item or item in items:
                        continue  # blank and repeated wordings are dropped
                items.append(item)
            rec[f] = items
    if rec.get("shop") in (None, ""):
        rec.pop("shop", None)
        if default_shop is not None:
            rec["shop"] = default_shop
    return rec


def read_entries(text: str, source: str, fmt: str,
                 default_shop: str | None = None) -> list[LineDict]:
    """Parse ``text`` (from ``source``, for messages) in ``fmt``; records without a shop
    get ``default_shop``. A malformed file raises InvalidInput naming ``source:line``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})",
                         key="kb_unknown_format", fmt=fmt, join=', '.join(FORMATS))
    text = text.lstrip("\ufeff")
    if fmt == "jsonl":
        records = _read_jsonl(text, source, default_shop)
    elif fmt == "csv":
        records = _read_csv(text, source, default_shop)
    else:
        records = _read_yaml(text, source, default_shop)
    return records


def refuse_repeated_questions(records: list[LineDict], source: str) -> None:
    """Two entries of one shop with the same question (full-width, case and spaces
    aside) would leave the bot to pick one answer at random: refused, naming both.
    Only entries with a key, a question and an answer are compared (an incomplete one
    gets its own error from validation)."""
    seen: dict[tuple, tuple[Any, Any]] = {}
    for rec in records:
        q = rec.get("question")
        if not isinstance(q, str) or not q.strip() or not rec.get("key") \
                or not rec.get("answer"):
            continue
        where = (rec.get("shop"), _normal_question(q))
        line = getattr(rec, "line", None)
        if where in seen:
            first_key, first_line = seen[where]
            at = f"{source}:{line}" if line else source
            raise InvalidInput(
                f"{at}: question {q.strip()!r} repeats the entry {first_key!r} "
                f"(line {first_line}); one question, one entry",
                key="kb_repeated_question", the_where=at, value=q.strip(),
                value2=str(first_key), the_line=first_line)
        seen[where] = (rec.get("key"), line)


def refuse_questions_stored_elsewhere(records: list[LineDict], stored: Iterable[dict],
                                      source: str) -> None:
    """An imported entry whose question (full-width, case and spaces aside) is already
    the question of another stored entry of the same shop (another key, which this
    import does not rewrite) would leave the bot two answers to one question: refused,
    naming the stored entry. An entry of the import keeps its key's stored entry out of
    the comparison (that entry is being replaced)."""
    replaced = {(rec.get("shop") or None, rec.get("key")) for rec in records}
    held: dict[tuple, str] = {}
    for e in stored:
        if (e.get("shop") or None, e.get("key")) in replaced \
                or not isinstance(e.get("question"), str):
            continue
        held.setdefault((e.get("shop") or None, _normal_question(e["question"])), e["key"])
    for rec in records:
        q = rec.get("question")
        if not isinstance(q, str) or not q.strip() or not rec.get("key"):
            continue
        other = held.get((rec.get("shop") or None, _normal_question(q)))
        if other is not None:
            line = getattr(rec, "line", None)
            at = f"{source}:{line}" if line else source
            raise InvalidInput(
                f"{at}: question {q.strip()!r} is already the question of the entry "
                f"{other!r}; one question, one entry (import it under that key to change it)",
                key="kb_question_stored", the_where=at, value=q.strip(), value2=other)


def _normal_question(q: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", q).casefold().split())


def _read_jsonl(text: str, source: str, default_shop: str | None) -> list[LineDict]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json_limits.loads(line, f"{source}:{n}")
        except ValueError as e:
            raise InvalidInput(f"{source}:{n}: not valid JSON: {_json_reason(e)}",
                               key="kb_bad_json", the_source=source, n=n,
                               json_reason=_json_reason(e)) from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{source}:{n}: expected a JSON object (one entry per line)",
                               key="kb_jsonl_not_object", the_source=source, n=n)
        out.append(_line_dict(_tidy(data, default_shop), n))
    return out


def _json_reason(e: ValueError) -> str:
    return getattr(e, "msg", None) or str(e).split(":")[0]


def _read_yaml(text: str, source: str, default_shop: str | None) -> list[LineDict]:
    data = parse_text(text, source)
    if data is None:
        return []
    if isinstance(data, dict):
        other = [k for k in data if k not in ("knowledge_entries", "entries")]
        if other:
            line = data.lines.get(other[0]) if isinstance(data, LineDict) else None
            where = f"{source}:{line}" if line else source
            raise InvalidInput(f"{where}: {other[0]}: expected a list of entries, or "
                               "knowledge_entries: at the top",
                               key="kb_yaml_not_list", the_where=where, value=other[0])
        data = data.get("knowledge_entries", data.get("entries")) or []
    if not isinstance(data, list):
        raise InvalidInput(f"{source}: expected a list of knowledge entries",
                           key="kb_not_entry_list", the_source=source)
    out = []
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            line = getattr(data, "line", None)
            raise InvalidInput(f"{source}{f':{line}' if line else ''}: entry {i + 1} is not a "
                               "mapping of fields",
                               key="kb_entry_not_mapping", the_source=source,
                               value=f':{line}' if line else '', value2=i + 1)
        tidy = _tidy(rec, default_shop)
        if isinstance(rec, LineDict):
            tidy.lines.setdefault("shop", rec.line)
        out.append(tidy)
    return out


def _read_csv(text: str, source: str, default_shop: str | None) -> list[LineDict]:
    reader = csv.reader(io.StringIO(text))
    try:
        given = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    except csv.Error as e:
        raise InvalidInput(f"{source}:1: not valid CSV: {e}",
                           key="kb_bad_csv", the_source=source, e=str(e)) from None
    header = [_COLUMN_OF.get(h.casefold(), h) for h in given]
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        known = f"{', '.join(FIELDS)}; {', '.join(COLUMN_NAMES[f][1] for f in FIELDS)}"
        raise InvalidInput(f"{source}:1: unknown column {unknown[0]!r} (known: {known})",
                           key="kb_unknown_column", the_source=source, value=unknown[0],
                           join=known)
    if len(set(header)) != len(header):
        raise InvalidInput(f"{source}:1: a column is named twice",
                           key="kb_column_twice", the_source=source)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"{source}:1: no column {missing[0]!r} (a CSV needs "
                           f"{', '.join(REQUIRED_COLUMNS)})",
                           key="kb_csv_missing_column", the_source=source, value=missing[0],
                           join=', '.join(REQUIRED_COLUMNS))
    out = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            if "field limit" in str(e):
                raise InvalidInput(f"{source}:{start}: a cell is longer than "
                                   f"{csv.field_size_limit():,} characters (an answer holds "
                                   "at most 5,000)",
                                   key="kb_csv_cell_too_long", the_source=source, start=start,
                                   count=f"{csv.field_size_limit():,}") from None
            raise InvalidInput(f"{source}:{start}: not valid CSV: {e}",
                               key="kb_bad_csv_at", the_source=source, start=start,
                               e=str(e)) from None
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InvalidInput(f"{source}:{line}: expected {len(header)} columns, "
                               f"got {len(row)}",
                               key="kb_csv_columns", the_source=source, the_line=line,
                               count=len(header), count2=len(row))
        rec: dict[str, Any] = {}
        for name, cell in zip(header, row, strict=True):
            if cell.strip() == "":
                continue
            if name == "enabled":
                low = cell.strip().lower()
                if low not in _TRUE + _FALSE:
                    raise InvalidInput(f"{source}:{line}: enabled: expected true or false, "
                                       f"got {cell!r}",
                                       key="kb_enabled_not_bool", the_source=source,
                                       the_line=line, cell=cell)
                rec[name] = low in _TRUE
            elif name in LIST_FIELDS:
                rec[name] = cell
            else:
                rec[name] = cell if name in ("answer", "question") else cell.strip()
        out.append(_line_dict(_tidy(rec, default_shop), line))
    return out


def _external(rec: dict) -> dict:
    """An entry with its fields in the file order, empty optionals left out."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        v = rec.get(f)
        if v is None or (f in LIST_FIELDS and not v):
            continue
        out[f] = v
    out.setdefault("enabled", True)
    return out


def write_entries(records: Iterable[dict], fmt: str) -> str:
    """Entries (the external form) as JSONL, YAML (a fixture file ``apply`` also reads)
    or CSV."""
    rows = [_external(r) for r in records]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if fmt == "yaml":
        return yaml.safe_dump({"knowledge_entries": rows}, allow_unicode=True, sort_keys=False,
                              width=100)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(FIELDS)
        for r in rows:
            for f in LIST_FIELDS:
                bad = [s for s in r.get(f, []) if "|" in s]
                if bad:
                    raise InvalidInput(f"entry {r['key']!r}: {f} item {bad[0]!r} contains '|', "
                                       "which separates items in CSV; export JSONL or YAML",
                                       key="kb_csv_pipe", the_key=r['key'], f=f, value=bad[0])
            w.writerow([
                "|".join(r.get(f, [])) if f in LIST_FIELDS
                else ("true" if r.get(f, True) else "false") if f == "enabled"
                else (r.get(f) or "") for f in FIELDS])
        return buf.getvalue()
    raise UsageError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})",
                     key="kb_unknown_format", fmt=fmt, join=', '.join(FORMATS))
