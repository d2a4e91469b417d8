"""The Textual front end: the agent console and the supervisor dashboard (to come).

Importable now so the layout is in place; it holds no screens yet.
"""
