"""Moved to ``cstool.api.backend`` (the contract); kept for this session's other branches."""
from ..api.backend import ApplyResult, Backend, Change  # noqa: F401
