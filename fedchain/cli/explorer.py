"""``fedchain explorer``: browse a deployment's tasks in a local web app.

It reads a node (``--rpc-url`` and ``--deployment``) or a demo's run directory (``--run-dir``)
and the blob store, serves on 127.0.0.1 (``--host``, ``--port``; port 0 takes a free one) and
reads new blocks as they come. Ctrl-C stops it. Pages and the JSON API: ``docs/explorer.md``.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Annotated

import typer

from fedchain.cli.sources import DeploymentOption, RpcUrlOption, RunDirOption, StoreOption
from fedchain.errors import ConfigError

__all__ = ["explorer_command", "register"]


def explorer_command(
    rpc_url: RpcUrlOption = None,
    deployment: DeploymentOption = None,
    run_dir: RunDirOption = None,
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: a free one).", min=0, max=65535)] = 8700,
    test_data: Annotated[
        str | None,
        typer.Option(
            help="Show each round's accuracy on this test set: digits, or mnist:FILE.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Browse a deployment's tasks, participants, transactions and blobs, with the audit."""
    import uvicorn

    from fedchain.audit import open_source
    from fedchain.explorer import create_app

    with open_source(rpc_url=rpc_url, deployment=deployment, run_dir=run_dir, store=store) as src:
        app = create_app(src, test_data=_test_set(test_data))
        chosen = port or _free_port(host)
        _check_port(host, chosen)
        typer.echo(f"FedChain explorer on http://{host}:{chosen}/ (reading {src.where}); "
                   "Ctrl-C stops it", err=True)  # fmt: skip
        config = uvicorn.Config(app, host=host, port=chosen, log_level="warning")
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
        typer.echo("explorer stopped", err=True)


def _test_set(spec: str | None) -> tuple[object, object] | None:
    if spec is None:
        return None
    from fedchain.learning import load_dataset

    name, _, path = spec.partition(":")
    data = load_dataset(name, path=path or None)
    return data.x_test, data.y_test


def _free_port(host: str) -> int:
    with socket.socket() as s:
        _bind(s, host, 0)
        return int(s.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    with socket.socket() as s:
        _bind(s, host, port)


def _bind(s: socket.socket, host: str, port: int) -> None:
    try:
        s.bind((host, port))
    except OSError as exc:
        where = f"{host}:{port}" if port else f"a free port of {host}"
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def register(root: typer.Typer) -> None:
    """Attach the top-level ``explorer`` command to the root app."""
    root.command("explorer")(explorer_command)
