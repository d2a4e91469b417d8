"""Moved: one shop's "today so far" is ``cstool.services.metrics.shop_period`` and
``hourly``, its queries ``cstool.storage.repos.metrics_today``.

This name is kept only for ``cstool/backend/dashboard_ops.py`` until that module calls
the metrics service itself; it holds no SQL. Delete it then.
"""

from ..services.metrics import hourly, shop_period

__all__ = ["hourly", "shop_period"]
