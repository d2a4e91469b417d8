"""The bot's one home.

* the retrieval engine, pure (plain entry dicts in, rankings and decisions out; no
  storage, no UI): ``text.py`` (Chinese/English normalisation, tokens, synonyms),
  ``model.py`` (TF-IDF vectors, the softmax classifier, the calibrator), ``scope.py``
  (one scope's ranking), ``index.py`` (:class:`KnowledgeIndex`, the entry point) and
  ``decision.py`` (handoff phrases, thresholds, the decision);
* ``flows.py``: multi-turn flows over the customer's orders, products and coupons;
* ``actions.py``: the bot that acts on the customer's orders (cancel, address, after-sale),
  asking 确认…吗？ first (carried out by ``cstool.services.bot_actions``);
* ``step.py``: the bot as a pluggable step of the conversation (``BotStep``);
* ``knowledge_bot.py``: the default step, answering from the shop's knowledge, with
  the index cache (in memory by knowledge version, on disk by fingerprint).
"""

from .decision import (
    DEFAULT_HANDOFF_PHRASES,
    Decision,
    Thresholds,
    choose_action,
    is_handoff_request,
)
from .index import KnowledgeIndex
from .scope import IndexConfig, normalise_entry
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
