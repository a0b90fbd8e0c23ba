"""The ``fedchain`` command: a thin typer app, one module per command group.

Errors are handled here, at the edge only: any :class:`~fedchain.errors.FedChainError` (and a
few expected OS errors) becomes one readable line on stderr and exit code 1; no traceback reaches
the user for an expected failure.
"""

from __future__ import annotations

import sys

import typer

from fedchain.errors import FedChainError

__all__ = ["app", "main"]

app = typer.Typer(
    name="fedchain",
    help="Blockchain-verified federated learning for IoT data sharing.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


_registered = False


def _register_command_groups() -> None:
    """Attach every command group once; each lives in its own module."""
    global _registered
    if _registered:
        return
    _registered = True
    from fedchain.cli import account, demo, devnet, ipfs, participants, task

    app.add_typer(ipfs.app, name="ipfs")
    app.add_typer(account.app, name="account")
    demo.register(app)
    app.add_typer(devnet.app, name="devnet")
    devnet.register(app)
    app.add_typer(task.app, name="task")
    app.add_typer(participants.client_app, name="client")
    app.add_typer(participants.miner_app, name="miner")
    participants.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning expected failures into one line and a non-zero exit code."""
    _register_command_groups()
    try:
        app(args=argv, standalone_mode=True)
    except FedChainError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
