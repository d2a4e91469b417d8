"""Knowledge bot retrieval engine: pure functions over plain entry dicts (no storage, no UI).

See :class:`cstool.bot.index.KnowledgeIndex` for the entry point.
"""

from .index import (
    DEFAULT_HANDOFF_PHRASES,
    Decision,
    IndexConfig,
    KnowledgeIndex,
    Thresholds,
    choose_action,
    is_handoff_request,
    normalise_entry,
)
from .text import DEFAULT_SYNONYMS, SynonymTable, default_synonyms, features, normalise, tokens

__all__ = [
    "DEFAULT_HANDOFF_PHRASES",
    "DEFAULT_SYNONYMS",
    "Decision",
    "IndexConfig",
    "KnowledgeIndex",
    "SynonymTable",
    "Thresholds",
    "choose_action",
    "default_synonyms",
    "features",
    "is_handoff_request",
    "normalise",
    "normalise_entry",
    "tokens",
]
