"""``fedchain demo``: one small task end-to-end (filled in by the chain work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the ``demo`` command to the root app."""
