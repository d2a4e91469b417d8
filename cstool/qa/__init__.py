"""Quality inspection (质检), pure: a shop's rules (``rules.py``: which rules, their
points, the word lists, shop-editable with defaults) and the inspection of one closed
chat into findings and a score (``engine.py``). The service that stores findings and the
review queue is ``cstool/services/qa.py``."""

from .engine import Chat, Finding, Inspection, Message, inspect, normalise
from .rules import RULES, Rules, RulesError, check_setting, rules_of

__all__ = ["RULES", "Chat", "Finding", "Inspection", "Message", "Rules", "RulesError",
           "check_setting", "inspect", "normalise", "rules_of"]
