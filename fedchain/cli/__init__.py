"""The ``fedchain`` command: a thin typer app, one module per command group.

Command groups are registered lazily: the root lists every command with a short help line kept
here, and a group's module (with its heavy imports: eth_account, web3, torch, numpy) is imported
only when one of its commands runs or its own help is asked for. ``fedchain --help``,
``fedchain --version`` and ``fedchain ipfs cid`` therefore never load the chain or learning stacks.

Errors are handled here, at the edge only: any :class:`~fedchain.errors.FedChainError` (and a
few expected OS errors) becomes one readable line on stderr and exit code 1; no traceback reaches
the user for an expected failure.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer import _click as click  # typer 0.29 vendors click; its types are typer's own
from typer.core import TyperCommand, TyperGroup

from fedchain.errors import FedChainError

__all__ = ["app", "main", "run_subcommand", "version_string"]


@dataclass(frozen=True)
class _LazyEntry:
    """Where a root command lives and the help line the root listing shows for it."""

    module: str
    attribute: str  # a Typer app to add as a group, or "register" (a module-level register(app))
    help: str


# Root listing order: single commands first, then the groups (as typer orders them).
# tests/cli/test_cli_root.py checks every help line against its module's own.
_LAZY: dict[str, _LazyEntry] = {
    "demo": _LazyEntry(
        "fedchain.cli.demo",
        "register",
        "Run a whole FedChain task on real data and print what happened, round by round.",
    ),
    "deploy": _LazyEntry(
        "fedchain.cli.devnet",
        "register",
        "Deploy the FedChain contracts to a JSON-RPC node with your key; write the deployment "
        "file.",
    ),
    "claim": _LazyEntry(
        "fedchain.cli.participants",
        "register",
        "Settle your membership of an ended task and withdraw your balance.",
    ),
    "leave": _LazyEntry(
        "fedchain.cli.participants",
        "register",
        "Leave a task that has not started and withdraw your mortgage or stake.",
    ),
    "request": _LazyEntry(
        "fedchain.cli.request",
        "register",
        "Hand out the model a finished task left for TASK_FILE's request, instead of training.",
    ),
    "audit": _LazyEntry(
        "fedchain.cli.audit",
        "register",
        "Re-derive every verdict, payout and blob of a task from the chain and the store.",
    ),
    "explorer": _LazyEntry(
        "fedchain.cli.explorer",
        "register",
        "Browse a deployment's tasks, participants, transactions and blobs, with the audit.",
    ),
    "ipfs": _LazyEntry(
        "fedchain.cli.ipfs", "app", "Content-addressed model storage: CIDs, local store, Kubo."
    ),
    "account": _LazyEntry(
        "fedchain.cli.account",
        "app",
        "Participants' keys in encrypted keystore files (Ethereum V3 JSON).",
    ),
    "devnet": _LazyEntry(
        "fedchain.cli.devnet",
        "app",
        "A local development chain (Anvil) with the FedChain contracts deployed.",
    ),
    "task": _LazyEntry(
        "fedchain.cli.task", "app", "Publish a task, follow it as its requester, read its status."
    ),
    "client": _LazyEntry(
        "fedchain.cli.participants",
        "client_app",
        "Take part in a task as a client (data owner): join, train every round, claim.",
    ),
    "miner": _LazyEntry(
        "fedchain.cli.participants",
        "miner_app",
        "Take part in a task as a miner: stake, verify, lead or attest, claim.",
    ),
}


def _load_command(name: str) -> click.Command:
    """Import the module behind root command ``name`` and build its click command."""
    entry = _LAZY[name]
    module = importlib.import_module(entry.module)
    holder = typer.Typer()
    if entry.attribute == "register":
        module.register(holder)
    else:
        holder.add_typer(getattr(module, entry.attribute), name=name)
    command = typer.main.get_group(holder).commands[name]
    return command


class _LazyGroup(TyperGroup):
    """The root group: commands from :data:`_LAZY` are imported on first use.

    While the root's own help is being drawn, lazy commands are stand-ins that carry only their
    help line, so listing them imports nothing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every root command: the lazy ones in their listing order, then any added directly."""
        return [*_LAZY, *(name for name in self.commands if name not in _LAZY)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module the first time it is really needed."""
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = _LAZY.get(cmd_name)
        if entry is None:
            return None
        if self._listing:
            return self._stand_in(cmd_name)
        command = _load_command(cmd_name)
        self.commands[cmd_name] = command
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As typer's; a mistyped name is matched against the lazy names too."""
        if not args or args[0] in self.commands or args[0] in _LAZY:
            return super().resolve_command(ctx, args)
        loaded = dict(self.commands)
        self.commands.update({name: self._stand_in(name) for name in _LAZY if name not in loaded})
        try:
            return super().resolve_command(ctx, args)
        finally:
            self.commands.clear()
            self.commands.update(loaded)

    @staticmethod
    def _stand_in(name: str) -> click.Command:
        return TyperCommand(name, help=_LAZY[name].help, short_help=_LAZY[name].help)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The root help, listing the lazy commands without importing them."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="fedchain",
    cls=_LazyGroup,
    help="Blockchain-verified federated learning for IoT data sharing.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def version_string() -> str:
    """``fedchain X.Y.Z``: the installed distribution's version (the package's own if absent)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("fedchain")
    except PackageNotFoundError:
        from fedchain import __version__ as number
    return f"fedchain {number}"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_string())
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    pass


def _guarded(run: Callable[[], object]) -> None:
    """Run a CLI entry point, turning expected failures into one line and an exit code."""
    try:
        run()
    except FedChainError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning expected failures into one line and a non-zero exit code."""
    _guarded(lambda: app(args=argv, standalone_mode=True))


def run_subcommand(path: Sequence[str], argv: Sequence[str], *, prog_name: str) -> None:
    """Run the command at ``path`` (e.g. ``["client", "run"]``) as if it were program
    ``prog_name``: its usage line and errors name ``prog_name`` alone (the ``scripts/`` wrappers).
    """
    root = typer.main.get_command(app)

    def run() -> None:
        command: click.Command | None = root
        ctx = click.Context(root, info_name="fedchain")
        for name in path:
            if not isinstance(command, TyperGroup):
                raise click.exceptions.UsageError(f"no command {' '.join(path)!r}")
            command = command.get_command(ctx, name)
        if command is None:
            raise click.exceptions.UsageError(f"no command {' '.join(path)!r}")
        command.main(args=list(argv), prog_name=prog_name, standalone_mode=True)

    _guarded(run)
