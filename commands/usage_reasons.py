"""Why a command-line value was refused, in the interface language: by the validation's
error type (pydantic's ``int_parsing``, ``greater_than_equal`` ...) and the parameter's
choices, never by typer's English text; and the parameter named as the user typed it."""

from __future__ import annotations

from typing import Any

from cstool.i18n import language, t
from cstool.text_rules import terminal_safe

# pydantic error types → catalog ids (their ``ctx`` fields fill the template)
_REASONS = {
    "int_parsing": "cli.reason.int",
    "int_type": "cli.reason.int",
    "int_from_float": "cli.reason.int",
    "float_parsing": "cli.reason.number",
    "float_type": "cli.reason.number",
    "decimal_parsing": "cli.reason.number",
    "bool_parsing": "cli.reason.bool",
    "bool_type": "cli.reason.bool",
    "greater_than_equal": "cli.reason.ge",
    "greater_than": "cli.reason.gt",
    "less_than_equal": "cli.reason.le",
    "less_than": "cli.reason.lt",
    "datetime_parsing": "cli.reason.datetime",
    "datetime_from_date_parsing": "cli.reason.datetime",
    "date_parsing": "cli.reason.date",
    "date_from_datetime_parsing": "cli.reason.date",
    "string_too_long": "cli.reason.too_long",
    "string_too_short": "cli.reason.too_short",
}
_WRAPPERS = ("Value error, ", "Assertion failed, ")


def _english(message: str) -> str:
    """typer's reason on one line, without pydantic's "Value error, " wrapper."""
    text = " ".join(str(message).split())
    for prefix in _WRAPPERS:
        text = text.replace(prefix, "")
    return text


def reason_text(error: Any) -> str:
    """Why a value was refused (a BadParameter): in English typer's own words (without
    "Value error,"); in Chinese by what the validation says about it: its error type, the
    parameter's choices, or our own reason (an error raised with a message key)."""
    own = getattr(error, "key", None)
    if own is not None:
        return t(own, **getattr(error, "fields", {}))
    if language() == "en":
        return _english(error.message)
    cause = error.__cause__
    details = cause.errors() if hasattr(cause, "errors") else []
    param = getattr(error, "param", None)
    choices = getattr(getattr(param, "type_descriptor", None), "choices", None)
    if details:
        first = details[0]
        value = terminal_safe(str(first.get("input", "")))
        if choices and first.get("type") == "value_error":
            return t("cli.reason.choice", value=value,
                     choices=", ".join(str(c) for c in choices))
        msgid = _REASONS.get(first.get("type", ""))
        if msgid is not None:
            fields = {k: v for k, v in (first.get("ctx") or {}).items() if k != "error"}
            return t(msgid, value=value, **fields)
        return t("cli.reason.other", value=value)
    return t("cli.reason.unreadable")


def param_hint(param: Any) -> str:
    """The parameter as the user types it (``'--limit'``, ``'KEY'``), with its
    environment variable when it has one shown, in the interface language."""
    if language() == "en":
        return param.get_error_hint()
    names = getattr(param, "opts", None) or [getattr(param, "display_name_raw", param.name)]
    if getattr(param, "param_type_name", "") == "argument":
        names = [getattr(param, "display_name_raw", None) or str(param.name).upper()]
    text = " / ".join(f"'{n}'" for n in names)
    envvar = getattr(param, "envvar", None)
    if getattr(param, "show_envvar", False) and isinstance(envvar, str):
        text += t("cli.env_var_hint", name=envvar)
    return text


def bad_value(msgid: str, **fields: Any) -> Exception:
    """A typer BadParameter whose reason is the catalog's ``msgid`` (said in the language
    in use when shown), for a parameter callback to raise."""
    import typer

    error = typer.BadParameter(t(msgid, lang="en", **fields))
    error.key, error.fields = msgid, fields  # type: ignore[attr-defined]
    return error
