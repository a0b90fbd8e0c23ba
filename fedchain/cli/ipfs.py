"""``fedchain ipfs``: content-addressed storage commands (filled in by the storage work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Content-addressed model storage: CIDs, local store, Kubo.", no_args_is_help=True)
