"""The interface's languages: message catalogs for zh-CN and en, the language in use, and
errors shown by their stable code.

The catalogs are gettext ``.po`` files (``locale/<lang>/LC_MESSAGES/cstool.po``), the
sources translators and ``msgfmt`` know. They are compiled to the binary ``.mo`` form in
memory on first use (:mod:`cstool.i18n.po`) and read by the standard library's
:class:`gettext.GNUTranslations`: nothing to build, nothing to go stale, and no dependency
beyond the standard library. Message ids are symbolic (``console.no_chat``,
``err.reply_too_long``) and both languages translate every one of them (a test checks it);
texts are ``str.format`` templates with named fields.

The language: ``set_language`` (the CLI's ``--lang``), else ``$CSTOOL_LANG``, else the
locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, the first one set): ``zh*`` is Chinese,
anything else English.

Customer-facing texts (bot answers, system messages, campaign templates) do not go through
here: they stay in the shop's language.
"""

from __future__ import annotations

import gettext
import io
import os
import string
import threading
from functools import cache
from pathlib import Path
from typing import Any

from .po import compile_mo, read_po

LANGUAGES = ("zh", "en")
# Where each language's catalog lives (gettext's directory names).
CATALOG_DIRS = {"zh": "zh_CN", "en": "en"}
DOMAIN = "cstool"
LOCALE_DIR = Path(__file__).with_name("locale")

_override: str | None = None
_lock = threading.Lock()


def normalize(value: str | None) -> str | None:
    """``zh``/``en`` for a language name such as ``zh``, ``zh-CN``, ``zh_CN.UTF-8``,
    ``en_US``; None for anything else (or nothing)."""
    if not value:
        return None
    head = value.strip().lower().replace("-", "_").split(".")[0].split("@")[0]
    for lang in LANGUAGES:
        if head == lang or head.startswith(lang + "_"):
            return lang
    return None


def from_locale(environ: dict[str, str] | os._Environ | None = None) -> str:
    """The language the locale asks for: the first of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` that is set decides; ``zh*`` is Chinese, anything else (or nothing) English."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "zh" if value.strip().lower().startswith("zh") else "en"
    return "en"


def set_language(lang: str | None) -> None:
    """Use ``lang`` (``zh``/``en``) from now on; None goes back to ``$CSTOOL_LANG`` and
    the locale. Raises ValueError for another language."""
    global _override
    if lang is not None and normalize(lang) is None:
        raise ValueError(f"unknown language {lang!r} (zh or en)")
    _override = normalize(lang)


def language() -> str:
    """The interface language in use: ``zh`` or ``en``."""
    if _override is not None:
        return _override
    env = normalize(os.environ.get("CSTOOL_LANG"))
    return env or from_locale()


def catalog_path(lang: str) -> Path:
    """The ``.po`` source of a language's catalog."""
    return LOCALE_DIR / CATALOG_DIRS[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """A language's catalog, compiled from its ``.po`` file on first use."""
    with _lock:
        entries = read_po(catalog_path(lang).read_text(encoding="utf-8"))
        return gettext.GNUTranslations(io.BytesIO(compile_mo(entries)))


def has(msgid: str, lang: str | None = None) -> bool:
    """True when the catalog of ``lang`` (default: the language in use) has ``msgid``."""
    return msgid in translations(lang or language())._catalog  # type: ignore[attr-defined]


def t(msgid: str, /, lang: str | None = None, **fields: Any) -> str:
    """The text of ``msgid`` in ``lang`` (default: the language in use), its ``{fields}``
    filled in. A missing id falls back to English, then to the id itself (a test keeps
    both catalogs complete)."""
    lang = lang or language()
    cat = translations(lang)._catalog  # type: ignore[attr-defined]
    text = cat.get(msgid)
    if text is None and lang != "en":
        text = translations("en")._catalog.get(msgid)  # type: ignore[attr-defined]
    if text is None:
        return msgid
    if not fields:
        return text
    try:
        return text.format_map(_Fields(fields))
    except (ValueError, IndexError, AttributeError):  # a broken template shows as is
        return text


class _Fields(dict):
    """Template fields; a field the caller did not give shows as ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def template_fields(text: str) -> set[str]:
    """The named ``{fields}`` of a template."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def value(kind: str, raw: Any, lang: str | None = None) -> str:
    """A stored enum value for display (``val.classification.consulted_not_ordered`` →
    询单未下单); a value without an entry shows as it is."""
    if raw is None or raw == "":
        return ""
    msgid = f"val.{kind}.{raw}"
    return t(msgid, lang) if has(msgid, lang or language()) or has(msgid, "en") else str(raw)


def _where(source: Any, line: Any, lang: str) -> str:
    """The location prefix of a record error: ``file.yaml:3: ``, ``line 3: `` or nothing."""
    if source:
        return f"{source}:{line}: " if line else f"{source}: "
    return t("err.where_line", lang, line=line) if line else ""


def describe_caller(who: dict[str, Any], lang: str | None = None) -> str:
    """A caller (a token's ``who``: kind, role, agent, customer, shop, token) in the
    interface language: ``客服 'xm'``, ``店铺 's' 的顾客 'c1'``."""
    fields = {k: v for k, v in who.items() if k != "kind"}
    if isinstance(fields.get("role"), str):
        fields["role"] = value("role", fields["role"], lang)
    return t(f"who.{who['kind']}", lang, **fields)


def error_text(error: BaseException, *, me: str | None = None,
               names: dict[str, str] | None = None, lang: str | None = None) -> str:
    """An error in the interface language, by its stable code (``err.<key>``), never by
    its English text. Fields that are enum values are shown translated (``val.<field>.<x>``);
    agent handles as names (``names``); an error about ``me`` (the agent at the console)
    uses the ``err.<key>.you`` form when there is one. An error that is not a cstool error
    shows as it is."""
    key = getattr(error, "key", None)
    if key is None:
        return str(error)
    lang = lang or language()
    fields = dict(getattr(error, "params", {}) or {})
    fields.setdefault("message", str(error))
    msgid = f"err.{key}"
    if me is not None and fields.get("agent") == me and has(msgid + ".you", lang):
        msgid += ".you"
    for name, raw in list(fields.items()):
        if isinstance(raw, str) and has(f"val.{name}.{raw}", lang):
            fields[name] = t(f"val.{name}.{raw}", lang)
    who = fields.get("who")
    if isinstance(who, dict) and who.get("kind") in ("customer", "agent", "token"):
        fields["describe"] = describe_caller(who, lang)  # the caller, in this language
    if "path" in fields:  # a field of a record: where it is, in this language
        fields["where"] = _where(fields.get("source"), fields.get("line"), lang)
    if names:
        for name in ("agent", "to_agent"):
            if isinstance(fields.get(name), str):
                fields[name] = names.get(fields[name], fields[name])
    if not has(msgid, lang):
        msgid = f"err.{getattr(error, 'code', 'error')}"
    return t(msgid, lang, **fields)
