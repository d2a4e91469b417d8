"""Conversion lift of a campaign against its holdout, with a confidence interval."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no observation."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def lift(sent: int, sent_converted: int, held: int, held_converted: int,
         z: float = Z95) -> dict:
    """Conversion of the treated (sent) against the holdout: both rates, the absolute
    lift (percentage points as a fraction) with Newcombe's hybrid score interval
    (method 10, sound for small counts and rates near 0), and the relative lift.
    Figures that cannot be computed (an empty side) are None."""
    rate_t = sent_converted / sent if sent else None
    rate_c = held_converted / held if held else None
    out: dict = {"treated": sent, "treated_converted": sent_converted, "treated_rate": rate_t,
                 "holdout": held, "holdout_converted": held_converted, "holdout_rate": rate_c,
                 "lift": None, "lift_low": None, "lift_high": None, "relative_lift": None,
                 "significant": None}
    if rate_t is None or rate_c is None:
        return out
    l1, u1 = wilson(sent_converted, sent, z)
    l2, u2 = wilson(held_converted, held, z)
    d = rate_t - rate_c
    low = d - math.sqrt((rate_t - l1) ** 2 + (u2 - rate_c) ** 2)
    high = d + math.sqrt((u1 - rate_t) ** 2 + (rate_c - l2) ** 2)
    out.update(lift=d, lift_low=low, lift_high=high,
               relative_lift=(d / rate_c) if rate_c > 0 else None,
               significant=low > 0 or high < 0)
    return out
