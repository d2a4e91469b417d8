"""Conversion campaigns (docs/DESIGN.md §7): triggers, guards, templates, the run-due pass's
pure parts, and attribution with lift. The service (storage through its repositories)
is ``services/campaigns.py``."""
