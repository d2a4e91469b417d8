"""cstool: terminal-first customer service for multi-shop e-commerce platforms.

The core package: domain, storage, engines. It imports neither typer nor textual;
the CLI lives in ``commands/`` and the TUI in ``tui/``.
"""

__version__ = "0.1.0"
