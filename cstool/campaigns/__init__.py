"""Conversion campaigns (docs/DESIGN.md §7): triggers, guards, templates, the run-due pass's
pure parts, and attribution with lift. Storage lives in ``backend/campaign_ops.py``."""
