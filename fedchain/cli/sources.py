"""The options that name what ``fedchain audit`` and ``fedchain explorer`` read: a node and a
deployment file, or a demo's run directory, and the blob store (:func:`fedchain.audit.
open_source`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["DeploymentOption", "RpcUrlOption", "RunDirOption", "StoreOption"]

RpcUrlOption = Annotated[
    str | None,
    typer.Option(help="JSON-RPC node (default: the deployment file's).", show_default=False),
]
DeploymentOption = Annotated[
    Path | None,
    typer.Option(help="Deployment file (default: the run directory's).", show_default=False),
]
RunDirOption = Annotated[
    Path | None, typer.Option(help="A fedchain demo run directory.", show_default=False)
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        help="Blob store: DIR, local:DIR, kubo:URL or an IPFS RPC URL "
        "(default: the run directory's store/).",
        show_default=False,
    ),
]
