"""What the participant commands share: options, the deployment file, keys, the chain session,
``--json`` output, and the progress display of a long-running role.

A *deployment file* is :meth:`~fedchain.chain.deploy.Deployment.to_json` plus ``"rpc_url"``.
Every option with an environment variable reads it when the option is not given:

- ``--deployment FILE``: ``$FEDCHAIN_DEPLOYMENT``, else ``./deployment.json``;
- ``--rpc-url URL``: ``$FEDCHAIN_RPC_URL``, else the deployment file's ``rpc_url``;
- ``--keystore FILE``: its password is ``$FEDCHAIN_KEYSTORE_PASSWORD`` or a hidden prompt;
  without a keystore the key is ``$FEDCHAIN_PRIVATE_KEY``;
- ``--store SPEC``: ``$FEDCHAIN_STORE``, else ``kubo:$FEDCHAIN_KUBO_API``, else
  ``local:~/.fedchain/store``.

No key or password is ever printed, and neither are the credentials an RPC URL may carry
(``https://host/v3/<API-KEY>``, ``https://user:pass@host``): :func:`redact_url` shows such a URL
as ``https://host/***``, errors raised while a command talks to the node have them replaced, and
``fedchain deploy`` leaves such a URL out of the deployment file. The chain, the roles and torch
are imported when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fedchain.errors import ConfigError, FedChainError
from fedchain.fsutil import atomic_output
from fedchain.urls import redact_url, scrub_url, url_has_credentials

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fedchain.chain.connection import Chain
    from fedchain.chain.contract import BoundContract
    from fedchain.chain.deploy import Deployment, Limits
    from fedchain.roles.base import ClaimResult, Participant, TaskRole
    from fedchain.roles.chainview import TaskState
    from fedchain.storage import BlobStore

__all__ = [
    "DEPLOYMENT_ENV",
    "NODE_TIMEOUT_ENV",
    "NODE_UNREACHABLE_EXIT",
    "RPC_URL_ENV",
    "DeploymentOpt",
    "Describe",
    "JsonOpt",
    "KeystoreOpt",
    "NodeTimeoutOpt",
    "Output",
    "PollOpt",
    "RoleDisplay",
    "RpcUrlOpt",
    "Session",
    "StoreOpt",
    "TaskIdOpt",
    "TimeoutOpt",
    "check_rpc_url",
    "drive",
    "hiding_credentials",
    "jsonable",
    "limits_summary",
    "load_key",
    "open_session",
    "read_deployment_file",
    "read_limits",
    "redact_url",
    "relative_time",
    "resolve_node_timeout",
    "url_has_credentials",
    "write_json_file",
]

#: Environment variable naming the deployment file.
DEPLOYMENT_ENV = "FEDCHAIN_DEPLOYMENT"
#: Environment variable holding the JSON-RPC URL.
RPC_URL_ENV = "FEDCHAIN_RPC_URL"
#: Environment variable: seconds a long-running role waits for an unreachable node.
NODE_TIMEOUT_ENV = "FEDCHAIN_NODE_TIMEOUT"
#: Exit code of a long-running role that gave up on an unreachable node.
NODE_UNREACHABLE_EXIT = 3


def _connect(url: str, account: LocalAccount | None, node_timeout: float | None) -> Chain:
    """``connect(url)``, waiting up to ``node_timeout`` seconds for a node that is down."""
    from fedchain.chain.connection import connect
    from fedchain.chain.errors import ChainConnectionError
    from fedchain.chain.outage import NodeOutage, format_seconds

    def say(message: str) -> None:
        typer.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)

    outage: NodeOutage | None = None
    while True:
        try:
            chain = connect(url, private_keys=[account.key] if account else [])
        except ChainConnectionError as exc:
            if node_timeout is None:
                raise
            if outage is None:
                outage = NodeOutage(redact_url(url), exc, node_timeout, say=say)
            outage.pause(exc)
            continue
        if outage is not None:
            waited = format_seconds(time.monotonic() - outage.since)
            say(f"node reachable again ({outage.url}) after {waited}; carrying on")
        return chain


#: The contract addresses a deployment file records.
_ADDRESS_KEYS = ("participant_registry", "model_registry", "task_manager", "task_manager_extension")
_DEPLOYMENT_HINT = (
    "run 'fedchain devnet up' or 'fedchain deploy', or pass --deployment FILE "
    f"(or set {DEPLOYMENT_ENV})"
)

DeploymentOpt = Annotated[
    Path,
    typer.Option(
        "--deployment",
        envvar=DEPLOYMENT_ENV,
        help="The deployment file (written by 'fedchain deploy' or 'fedchain devnet up').",
    ),
]
RpcUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--rpc-url",
        envvar=RPC_URL_ENV,
        help="The node's JSON-RPC URL (default: the deployment file's rpc_url).",
        show_default=False,
    ),
]
KeystoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        help="The key's keystore file (password: $FEDCHAIN_KEYSTORE_PASSWORD or a hidden "
        "prompt); without it the key is $FEDCHAIN_PRIVATE_KEY.",
        show_default=False,
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Blob store spec: local:DIR or kubo:URL (default: $FEDCHAIN_STORE, "
        "kubo:$FEDCHAIN_KUBO_API, local:~/.fedchain/store).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object as the last line of stdout.")
]
PollOpt = Annotated[
    float, typer.Option("--poll", min=0.01, help="Seconds between looks at the chain.")
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout", min=0.0, help="Give up (exit 1) after this many seconds.", show_default=False
    ),
]
TaskIdOpt = Annotated[int, typer.Option("--task", min=1, help="The task id.", show_default=False)]
NodeTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--node-timeout",
        envvar=NODE_TIMEOUT_ENV,
        min=0.0,
        help="While the node is unreachable, retry this many seconds before giving up "
        f"(exit {NODE_UNREACHABLE_EXIT}; default 300).",
        show_default=False,
    ),
]


# -- files ------------------------------------------------------------------------------------


def read_deployment_file(path: Path) -> dict[str, Any]:
    """The checked contents of a deployment file.

    Raises:
        DeploymentError: missing, unreadable, not JSON, or not a FedChain deployment file.
    """
    from eth_utils import is_address

    from fedchain.chain.deploy import DEPLOYMENT_FORMAT, DeploymentError
    from fedchain.jsonfile import read_json_file

    data = read_json_file(
        path, what="deployment file", error=DeploymentError, missing_hint=_DEPLOYMENT_HINT
    )
    if not isinstance(data, dict) or data.get("format") != DEPLOYMENT_FORMAT:
        raise DeploymentError(
            f'{path} is not a FedChain deployment file (no "format": "{DEPLOYMENT_FORMAT}")'
        )
    chain_id = data.get("chain_id")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 0:
        raise DeploymentError(f"deployment file {path}: chain_id is not a chain id")
    for key in _ADDRESS_KEYS:
        value = data.get(key)
        if not isinstance(value, str) or not is_address(value):
            raise DeploymentError(f"deployment file {path}: {key} is not an address")
    params = data.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in params.values()
    ):
        raise DeploymentError(f"deployment file {path}: params must map names to integers")
    if data.get("rpc_url") is not None and not isinstance(data["rpc_url"], str):
        raise DeploymentError(f"deployment file {path}: rpc_url is not a string (or null)")
    return data


def write_json_file(path: Path, data: Mapping[str, Any], *, overwrite: bool = False) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (a temporary file, then a rename),
    mode 0644 less the umask; without ``overwrite`` an existing file is never replaced, even by
    a concurrent writer.

    Raises:
        ConfigError: ``path`` exists and ``overwrite`` is false, or it cannot be written.
    """
    payload = (json.dumps(dict(data), indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, overwrite=overwrite, mode=0o644, exists_error=_exists) as fh:
            fh.write(payload)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _exists(path: Path) -> ConfigError:
    return ConfigError(f"{path} exists; pass --force to replace it")


# -- RPC URLs ---------------------------------------------------------------------------------


@contextlib.contextmanager
def hiding_credentials(url: str | None) -> Iterator[None]:
    """Inside the block, a :class:`FedChainError` whose message quotes ``url`` or its
    credentials (a provider error may quote the URL, or its path) has them replaced by
    ``***``; its cause is dropped, since that may quote them too."""
    try:
        yield
    except FedChainError as exc:
        text = str(exc)
        scrubbed = scrub_url(text, url) if url and url_has_credentials(url) else text
        if scrubbed == text:
            raise
        exc.args = (scrubbed,)
        if str(exc) != scrubbed:  # a class that builds its message from other fields
            raise FedChainError(scrubbed) from None
        raise exc from None


# -- keys and the chain -----------------------------------------------------------------------


def _hidden_prompt(text: str) -> str:
    entered: str = typer.prompt(text.rstrip(": "), hide_input=True, err=True)
    return entered


def load_key(keystore: Path | None) -> LocalAccount:
    """The participant's account: ``keystore`` (password from the environment, or asked for on
    a terminal), else ``$FEDCHAIN_PRIVATE_KEY``.

    Raises:
        KeyLoadError: no key, a malformed key, a wrong password... (the message has no secret).
    """
    from fedchain.chain.keys import load_account

    prompt = _hidden_prompt if sys.stdin is not None and sys.stdin.isatty() else None
    return load_account(keystore=keystore, prompt=prompt)


def check_rpc_url(url: str) -> str:
    """``url`` if it is an ``http(s)://`` URL, else :class:`ConfigError` (which shows the URL
    redacted)."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"the RPC URL must start with http:// or https://, got {redact_url(url)!r}"
        )
    return url


@dataclass
class Session:
    """An open connection to a deployment: the chain, the contracts, and optionally the
    participant's key and the blob store.

    Attributes:
        chain: the connection (close with :meth:`close`).
        deployment: the FedChain contracts.
        rpc_url: the node's URL (it may carry credentials: print :func:`redact_url` of it).
        account: the participant's key (None for read-only commands).
        store: the blob store (None when the command does not need one).
        deployment_file: the deployment file's contents.
    """

    chain: Chain
    deployment: Deployment
    rpc_url: str
    account: LocalAccount | None = None
    store: BlobStore | None = None
    deployment_file: dict[str, Any] = field(default_factory=dict)

    def participant(
        self, *, name: str = "", log: Callable[[str], None] | None = None
    ) -> Participant:
        """The participant this session acts for (needs a key and a store)."""
        from fedchain.roles.base import Participant

        if self.account is None or self.store is None:
            raise ConfigError("this command needs a key and a blob store")
        who = Participant(
            chain=self.chain, deployment=self.deployment, store=self.store, account=self.account,
            name=name,
        )  # fmt: skip
        if log is not None:
            who.log = log
        return who

    def close(self) -> None:
        """Close the store and the connection."""
        try:
            if self.store is not None:
                self.store.close()
        finally:
            self.chain.close()


def chain_mismatch(chain: Chain, document: dict[str, Any]) -> str | None:
    """Why the deployment file ``document`` does not describe the contracts on ``chain``, or
    None when it does: another chain id, no code at one of its addresses, or (when the file
    records it) another block at its deployment block."""
    from eth_utils import to_checksum_address

    if int(document["chain_id"]) != chain.chain_id:
        return f"it is for chain id {document['chain_id']}, the node's is {chain.chain_id}"
    for key in _ADDRESS_KEYS:
        if len(chain.w3.eth.get_code(to_checksum_address(document[key]))) == 0:
            return f"there is no contract code at its {key} {document[key]}"
    recorded = document.get("deployed_block")
    if isinstance(recorded, dict) and isinstance(recorded.get("number"), int):
        found = chain.block_hash(recorded["number"])
        if found is None or "0x" + found.hex() != recorded.get("hash"):
            return (
                f"block {recorded['number']} of this chain is not the one it was deployed in "
                "(another chain at the same addresses)"
            )
    return None


@contextlib.contextmanager
def open_session(
    deployment_file: Path,
    rpc_url: str | None,
    *,
    account: LocalAccount | None = None,
    store: str | None = None,
    with_store: bool = True,
    node_timeout: float | None = None,
) -> Iterator[Session]:
    """Read the deployment file, connect, bind the contracts and open the store.

    Errors raised inside the block have the URL's credentials replaced (see
    :func:`hiding_credentials`). With ``node_timeout`` (the long-running roles), a node that
    is unreachable at start is waited for as a role waits for one that goes away later: one
    line, a backoff, :class:`~fedchain.chain.errors.NodeWaitTimeoutError` after that long.

    Raises:
        DeploymentError: a missing or garbled deployment file, another chain id, or no contract
            code at the file's TaskManager address (another node, or a restarted devnet).
        ChainConnectionError: the node does not answer.
        ConfigError: no RPC URL anywhere.
    """

    from fedchain.chain.deploy import Deployment, DeploymentError
    from fedchain.storage import default_store_spec, open_store

    data = read_deployment_file(deployment_file)
    url = rpc_url or data.get("rpc_url")
    if not url:
        if "rpc_url" in data:  # null: 'fedchain deploy' left out a URL with credentials
            raise ConfigError(
                f"no RPC URL: {deployment_file} leaves it out (it carries credentials); "
                f"pass --rpc-url or set {RPC_URL_ENV}"
            )
        raise ConfigError(
            f"no RPC URL: pass --rpc-url, set {RPC_URL_ENV}, or add rpc_url to {deployment_file}"
        )
    with hiding_credentials(url):
        chain = _connect(check_rpc_url(url), account, node_timeout)
        opened: BlobStore | None = None
        try:
            deployment = Deployment.from_json(chain, data)
            mismatch = chain_mismatch(chain, data)
            if mismatch is not None:
                raise DeploymentError(
                    f"{deployment_file} does not describe the contracts on {redact_url(url)}: "
                    f"{mismatch} (another node, or a node restarted without its state); "
                    "deploy again or pass the right --deployment"
                )
            if with_store:
                opened = open_store(store or default_store_spec())
            session = Session(chain, deployment, url, account, opened, data)
        except BaseException:
            if opened is not None:
                opened.close()
            chain.close()
            raise
        try:
            yield session
        finally:
            session.close()


# -- output -----------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as None, bytes as ``0x`` hex and tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


class Output:
    """Where a command's output goes.

    Human output (``out``) goes to stdout, or to stderr under ``--json``, where :meth:`result`
    prints exactly one JSON object as the last stdout line. Progress and log lines go to
    ``err`` (stderr) in both modes.
    """

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        width = None if sys.stdout.isatty() else 120
        self.out = Console(stderr=as_json, width=width, highlight=False)
        self.err = Console(stderr=True, highlight=False)

    def line(self, text: str) -> None:
        """Print one plain line of human output (no markup)."""
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)

    def result(self, payload: Mapping[str, Any]) -> None:
        """Under ``--json``, print ``payload`` as one JSON line on stdout."""
        if self.as_json:
            sys.stderr.flush()
            typer.echo(json.dumps(jsonable(payload), sort_keys=True))


def relative_time(seconds: float) -> str:
    """``in 1m 20s`` for a time ahead, ``2m 05s ago`` for one past, ``now`` for about now."""
    s = round(seconds)
    if s == 0:
        return "now"
    minutes, rest = divmod(abs(s), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        text = f"{hours}h {minutes:02d}m"
    elif minutes:
        text = f"{minutes}m {rest:02d}s"
    else:
        text = f"{rest}s"
    return f"in {text}" if s > 0 else f"{text} ago"


def span(seconds: int) -> str:
    """A whole number of seconds the way a person says it: ``1 s``, ``10 min``, ``30 days``."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {'day' if unit == 'days' and count == 1 else unit}"
    return f"{seconds} s"


def read_limits(tasks: BoundContract) -> Limits:
    """The deployment's task bounds, read from its TaskManager (``limits()``)."""
    from fedchain.chain.deploy import Limits

    raw = tasks.limits()
    return Limits(
        min_join_window=int(raw.minJoinWindow), max_join_window=int(raw.maxJoinWindow),
        min_round_window=int(raw.minRoundWindow), max_round_window=int(raw.maxRoundWindow),
        min_stake_floor=int(raw.minStakeFloor),
    )  # fmt: skip


def limits_summary(limits: Limits) -> str:
    """One line: the windows and the stake floor a task on this deployment must respect."""
    from fedchain.report import format_wei

    return (
        f"join window {span(limits.min_join_window)} to {span(limits.max_join_window)}, "
        f"submit and verdict windows {span(limits.min_round_window)} to "
        f"{span(limits.max_round_window)}, min_miner_stake at least "
        f"{format_wei(limits.min_stake_floor)}"
    )


# -- driving a role ---------------------------------------------------------------------------

#: ``(completed rounds, total rounds, status text)`` of a role, from the task's state (read
#: just after a step, whose events the role's log holds).
Describe = Callable[["TaskState"], tuple[int, int, str]]


class RoleDisplay:
    """A progress display on stderr: a bar of rounds and a status text, log lines above it.

    The bar is drawn only on a terminal (and cleared at the end); log lines are always printed,
    each prefixed with the local time.
    """

    def __init__(self, console: Console, *, label: str) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
            console=console, transient=True,
        )  # fmt: skip
        self._task = self._progress.add_task(label, total=None, status="starting")

    def log(self, message: str) -> None:
        """Print a log line above the bar."""
        self._progress.console.print(
            f"{time.strftime('%H:%M:%S')} {message}", markup=False, highlight=False, soft_wrap=True
        )

    def update(self, completed: int, total: int, status: str) -> None:
        """Move the bar and change the status text."""
        self._progress.update(self._task, completed=completed, total=total, status=status)

    def __enter__(self) -> RoleDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()


def resolve_node_timeout(value: float | None) -> float:
    """``value``, else ``$FEDCHAIN_NODE_TIMEOUT``, else the roles' default (300 s)."""
    from fedchain.chain.outage import DEFAULT_NODE_TIMEOUT

    if value is not None:
        return value
    raw = os.environ.get(NODE_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_NODE_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{NODE_TIMEOUT_ENV}={raw!r} is not a number of seconds")
    return seconds


def drive(
    role: TaskRole,
    *,
    describe: Describe,
    display: RoleDisplay,
    poll: float,
    timeout: float | None,
    what: str,
    node_timeout: float | None = None,
) -> ClaimResult | None:
    """Step ``role`` until it is done, showing its progress (like :meth:`TaskRole.run`).

    The display is updated whenever the role waits (before sleeping) and once it is done, from
    one ``taskInfo`` call: the step has read the events already. Returns what a client's or
    miner's own claim did once the task ended (:attr:`MemberRole.claimed`), None for other
    roles. Ctrl-C prints one line and exits with code 130; the role can be started again, since
    it re-derives everything from the chain.

    While the node is unreachable the role retries (one log line when it goes, one when it is
    back) for ``node_timeout`` seconds in a row (default ``$FEDCHAIN_NODE_TIMEOUT``, else 300);
    then it prints one ``error:`` line and exits with :data:`NODE_UNREACHABLE_EXIT` (3).

    Raises:
        RoleTimeoutError: not done after ``timeout`` seconds.
    """
    from fedchain.chain.errors import ChainConnectionError, NodeWaitTimeoutError
    from fedchain.roles.base import MemberRole
    from fedchain.roles.chainview import read_task
    from fedchain.roles.errors import RoleTimeoutError

    def show(_: object = None) -> None:
        display.update(*describe(read_task(role.who.tasks, role.task_id)))

    bound = resolve_node_timeout(node_timeout)
    try:
        role.run(poll=poll, timeout=timeout, on_wait=show, node_timeout=bound)
        with contextlib.suppress(ChainConnectionError):  # done: the bar is only cosmetic
            show()
        return role.claimed if isinstance(role, MemberRole) else None
    except RoleTimeoutError:
        raise RoleTimeoutError(
            f"{what}: task {role.task_id} not done after {timeout:g} s "
            "(run the same command again to carry on)"
        ) from None
    except NodeWaitTimeoutError as exc:
        display.__exit__(None, None, None)
        typer.echo(f"error: {what}: {exc}", err=True)
        raise typer.Exit(NODE_UNREACHABLE_EXIT) from None
    except KeyboardInterrupt:
        display.__exit__(None, None, None)
        typer.echo(
            f"interrupted: the {what} stopped (run the same command again to carry on)", err=True
        )
        raise typer.Exit(130) from None
