"""Campaign message templates: ``{name}`` style variables, checked when a campaign is
saved and filled per send."""

from __future__ import annotations

import string
from collections.abc import Mapping

from ..errors import InvalidValue

VARIABLES = ("name", "shop", "product", "price", "price_after_discount", "coupon", "order",
             "carrier", "tracking_no", "code")


# Variables only some triggers can fill: the rest of VARIABLES every trigger fills (or
# leaves empty only when the data lacks it, and then the send is suppressed).
ONLY_FOR = {
    "order": ("payment_reminder", "order_shipped", "follow_up", "related_offer"),
    "carrier": ("order_shipped", "follow_up"),
    "tracking_no": ("order_shipped", "follow_up"),
    "code": ("reply_code",),
}


def misfits(variables: list[str], trigger: str) -> list[str]:
    """The variables a ``trigger`` can never fill (``{code}`` in a 催拍 ...)."""
    return [v for v in variables if v in ONLY_FOR and trigger not in ONLY_FOR[v]]


def variables_of(template: str) -> list[str]:
    """The variables a template uses, in order; raises ValueError naming what is wrong
    (an unknown variable, a stray brace, a format spec)."""
    out = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise InvalidValue(f"{e} (write {{{{ or }}}} for a literal brace)",
                           key="template_brace", error=str(e)) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in VARIABLES:
            known = ", ".join("{" + v + "}" for v in VARIABLES)
            raise InvalidValue(f"unknown variable {{{name}}} (known: {known})",
                               key="template_unknown_variable", name=name, known=known)
        if spec or conversion:
            raise InvalidValue(f"{{{name}}}: formats are not supported",
                               key="template_format", name=name)
        out.append(name)
    return out


def render(template: str, values: Mapping[str, str | None]) -> str:
    """Fill a checked template; a variable with no value becomes an empty string."""
    return template.format_map({v: ("" if values.get(v) is None else str(values[v]))
                                for v in VARIABLES})
