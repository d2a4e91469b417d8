"""Moved: the stored conversation facts and their SQL are ``cstool.storage.repos.metrics``.

This name is kept only for ``cstool/backend/dashboard_ops.py`` until that module reads
the repository (or the metrics service) itself; it holds no SQL. Delete it then.
"""

from ..storage.repos.metrics import read_targets

__all__ = ["read_targets"]
