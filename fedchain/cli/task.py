"""``fedchain task``: write, publish, follow as its requester, list and read tasks.

``task init [FILE]`` writes a commented example task file. ``task create TASK.toml`` puts the
initial model (with the task manifest) on the store and creates the task with the whole reward
escrowed; it refuses a task this key already published from the same file while that one has
not ended (``--force`` publishes a second one). With ``--follow`` it then stays as the
requester: starts the task once it is full (or at the join deadline), waits for the rounds,
settles members that do not claim, withdraws the refund, fetches and checks the final model and
prints the round table. ``task follow ID`` does the same for a task created earlier (a requester
that was stopped carries on; Ctrl-C and ``--timeout`` name that command). A task that produced
no model (cancelled, or no round accepted an update) exits :data:`NO_MODEL_EXIT`. ``task list``
and ``task status ID`` need no key: they read the chain only.

The roles (and torch) are imported when a command runs, so that the CLI starts fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shlex
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from fedchain.cli.common import (
    DEPLOYMENT_ENV,
    NODE_TIMEOUT_ENV,
    RPC_URL_ENV,
    DeploymentOpt,
    Describe,
    JsonOpt,
    KeystoreOpt,
    NodeTimeoutOpt,
    Output,
    PollOpt,
    RoleDisplay,
    RpcUrlOpt,
    Session,
    StoreOpt,
    TimeoutOpt,
    drive,
    limits_summary,
    load_key,
    open_session,
    read_limits,
    redact_url,
    relative_time,
    resolve_node_timeout,
    url_has_credentials,
)
from fedchain.errors import ConfigError
from fedchain.report import format_wei, round_table, short_address, summary_lines

if TYPE_CHECKING:
    import numpy as np

    from fedchain.chain.deploy import Limits
    from fedchain.roles.chainview import TaskLog, TaskState
    from fedchain.roles.requester import Requester
    from fedchain.roles.taskfile import TaskFile

    _TestSplit = tuple[np.ndarray, np.ndarray]

__all__ = ["NO_MODEL_EXIT", "app", "fresh_view", "task_result"]

#: Exit code of ``task follow`` and ``task create --follow`` when the task ended without a
#: trained model: it was cancelled, or no round accepted any update.
NO_MODEL_EXIT: Final = 4
_DEFAULT_DEPLOYMENT: Final = Path("deployment.json")
_DEFAULT_SETTLE_AFTER: Final = 60.0
#: Miner seats of a task (the contract's ``_MAX_MINERS``): with every client seat, what a task
#: must fill before its requester may start it ahead of the join deadline.
MAX_MINERS: Final = 64
#: createTask reverts of a task file outside the deployment's limits, by error name.
_LIMIT_ERRORS: Final = (
    "TaskManagerInvalidDurations", "TaskManagerInvalidJoinDeadline", "TaskManagerInvalidMinerStake",
)  # fmt: skip

app = typer.Typer(
    help="Publish a task, follow it as its requester, read its status.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TaskIdArg = Annotated[int, typer.Argument(min=1, help="The task id.", show_default=False)]
SettleAfterOpt = Annotated[
    float,
    typer.Option(
        "--settle-after",
        min=0.0,
        help="Seconds after the end before the requester settles members that have not claimed.",
    ),
]
EvaluateOpt = Annotated[
    str | None,
    typer.Option(
        "--evaluate",
        help="Evaluate every round's global model on this data set's test split: digits or "
        "mnist (needs --data).",
        show_default=False,
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="MNIST .npz file or IDX directory.", show_default=False),
]
RunDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--run-dir",
        help="At the end, write the run directory here: result.json, rounds.txt (the round "
        "table), transactions.csv and the plots.",
        show_default=False,
    ),
]


def _test_split(dataset: str | None, data: Path | None) -> _TestSplit | None:
    from fedchain.learning import load_dataset

    if dataset is None:
        return None
    if dataset not in ("digits", "mnist"):
        raise ConfigError(f"--evaluate must be digits or mnist, not {dataset!r}")
    if dataset == "mnist" and data is None:
        raise ConfigError("--evaluate mnist needs --data FILE (.npz or an IDX directory)")
    ds = load_dataset(dataset, path=data)
    return ds.x_test, ds.y_test


# -- the deployment's limits ------------------------------------------------------------------


def check_limits(task: TaskFile, limits: Limits, source: object) -> None:
    """Refuse, in one line, a task file whose windows or stake the deployment's limits (read
    from its TaskManager) forbid: createTask would revert. Nothing is stored or locked yet."""
    from fedchain.chain.deploy import PRODUCTION_LIMITS

    problems = []
    for key, value, low, high in (
        ("[task] join_window", task.join_window, limits.min_join_window, limits.max_join_window),
        ("[task] submit_window", task.submit_window, limits.min_round_window,
         limits.max_round_window),
        ("[task] verdict_window", task.verdict_window, limits.min_round_window,
         limits.max_round_window),
    ):  # fmt: skip
        if not low <= value <= high:
            problems.append(f"{key} = {value} is outside {low}..{high} s")
    if task.min_miner_stake < limits.min_stake_floor:
        problems.append(
            f"[rewards] min_miner_stake = {format_wei(task.min_miner_stake)} is below "
            f"{format_wei(limits.min_stake_floor)}"
        )
    if problems:
        kind = "production" if limits == PRODUCTION_LIMITS else "these"
        raise ConfigError(
            f"{source}: {'; '.join(problems)} — the deployment's {kind} limits: "
            f"{limits_summary(limits)}; nothing was published"
        )


def _start_text(state: TaskState, now: int) -> str:
    """When a joining task starts: at its join deadline, or before only once it is full."""
    return (
        f"starts when joining closes ({relative_time(state.join_deadline - now)}), earlier only "
        f"if all {state.max_clients} client and {MAX_MINERS} miner seats are taken"
    )


def _seats(tasks: Any, state: TaskState) -> TaskState:
    """``state`` with its committee size: ``taskInfo`` reports 0 until the task starts, so a
    joining task's comes from its ``TaskCreated`` spec."""
    if state.committee_size:
        return state
    created = tasks.events("TaskCreated", filters={"taskId": state.task_id})
    if not created:
        return state
    size = int(created[-1].args["spec"]["committeeSize"])
    return dataclasses.replace(state, committee_size=size)


def _needs_text(state: TaskState) -> str:
    """What a task needs at its join deadline to start: miners, and stake when it asks some."""
    needs = (f"at least {state.committee_size} miner(s) for the {state.committee_size} seats "
             "(each seat is drawn by stake, so one miner may hold several)")  # fmt: skip
    if state.min_total_stake:
        needs += f" and {format_wei(state.min_total_stake)} staked in all"
    return needs


# -- reading a task ---------------------------------------------------------------------------


def task_result(session: Session, log: TaskLog, state: TaskState) -> dict[str, Any]:
    """The task's outcome JSON (:meth:`TaskOutcome.to_json`), read from its events.

    Refresh ``log`` before reading ``state`` (:func:`fresh_view`), so that the events are no
    newer than the state. A round's ``gas`` is None: one process sees only its own
    transactions' gas.
    """
    from fedchain.roles.outcome import task_outcome

    params = session.deployment.params
    outcome = task_outcome(
        log, state, threshold=params.get("threshold", 5), gamma_max=params.get("gamma_max", 100)
    )
    result = outcome.to_json()
    for row in result["rounds"]:
        row["gas"] = None
    return result


def fresh_view(session: Session, log: TaskLog) -> TaskState:
    """Refresh ``log``, then read the task's state: the pair :func:`task_result` needs."""
    from fedchain.roles.chainview import read_task

    log.refresh()
    return read_task(session.deployment.tasks, log.task_id)


def _state_json(state: TaskState, now: int) -> dict[str, Any]:
    data = dataclasses.asdict(state)
    data["status"] = state.status.name.lower()
    data["now"] = now
    return data


def _status_line(state: TaskState, now: int, finalized: int) -> str:
    from fedchain.roles.chainview import TaskStatus

    parts = [f"task {state.task_id}: {state.status.name.lower()}"]
    if state.status is TaskStatus.RUNNING:
        parts.append(f"round {min(state.round + 1, state.rounds)}/{state.rounds}")
    else:
        parts.append(f"rounds finalized {finalized}/{state.rounds}")
    parts.append(f"clients {state.client_count}/{state.max_clients}")
    parts.append(f"miners {state.miner_count} (committee seats {state.committee_size})")
    if state.min_total_stake or state.status is TaskStatus.JOINING:
        stake = f"staked {format_wei(state.total_stake)}"
        if state.min_total_stake:
            stake += f" of {format_wei(state.min_total_stake)} needed"
        parts.append(stake)
    if state.status is TaskStatus.JOINING:
        parts.append(_start_text(state, now))
        shortfall = state.start_shortfall()
        if shortfall:
            parts.append(f"not startable yet: {shortfall}")
    elif state.status is TaskStatus.RUNNING:
        parts.append(f"submissions close {relative_time(state.submit_deadline - now)}")
        parts.append(f"verdict due {relative_time(state.verdict_deadline - now)}")
        if state.attempt:
            parts.append(f"leader attempt {state.attempt + 1}")
    elif state.unsettled:
        parts.append(f"{state.unsettled} member(s) not settled yet")
    return " · ".join(parts)


def _money_lines(result: dict[str, Any], state: TaskState) -> list[str]:
    escrow, stakes = result.get("escrow") or {}, result.get("stakes") or {}
    deposited, paid = int(escrow.get("deposited", 0)), int(escrow.get("paid", 0))
    line = f"escrow: deposited {format_wei(deposited)}, paid {format_wei(paid)}"
    if "refunded" in escrow:
        line += f", refunded {format_wei(int(escrow['refunded']))}"
    balanced = result.get("balanced")
    line += {True: ": balanced", False: ": MISMATCH", None: " (balance checked once settled)"}[
        balanced
    ]
    return [
        line,
        f"stakes: client mortgages {format_wei(int(stakes.get('mortgages', 0)))}, miner stakes "
        f"{format_wei(int(stakes.get('miner_stakes', 0)))}, slashed "
        f"{format_wei(int(stakes.get('slashed', 0)))}",
        f"held by the task now: {format_wei(state.pot)}",
    ]


# -- following a task -------------------------------------------------------------------------


def _describe_requester(requester: Requester) -> Describe:
    from fedchain.roles.chainview import TaskStatus, chain_now

    def describe(state: TaskState) -> tuple[int, int, str]:
        log = requester.log
        finalized = len(log.events("RoundFinalized"))
        now = chain_now(requester.who.chain)
        if state.status is TaskStatus.JOINING:
            status = (
                f"joining: {state.client_count}/{state.max_clients} clients, "
                f"{state.miner_count} miner(s) for {state.committee_size} committee seat(s)"
            )
            if state.min_total_stake:
                status += (f", {format_wei(state.total_stake)} of "
                           f"{format_wei(state.min_total_stake)} staked")  # fmt: skip
            status += (
                f"; the task starts when joining closes {relative_time(state.join_deadline - now)}"
            )
        elif state.status is TaskStatus.RUNNING:
            r = state.round
            subs = len(log.submissions(r))
            if subs < state.client_count and now <= state.submit_deadline:
                status = (
                    f"round {r + 1}: {subs}/{state.client_count} updates in; submissions close "
                    f"{relative_time(state.submit_deadline - now)}"
                )
            else:
                status = (
                    f"round {r + 1}: the committee is verifying (verdict due "
                    f"{relative_time(state.verdict_deadline - now)})"
                )
        elif state.unsettled:
            status = f"{state.status.name.lower()}; {state.unsettled} member(s) to settle"
        else:
            status = f"{state.status.name.lower()}; withdrawing the refund"
        return finalized, state.rounds, status

    return describe


@dataclasses.dataclass(frozen=True)
class _FollowArgs:
    """The options the requester follows its task with, and how to give them again."""

    deployment: Path
    rpc_url: str | None
    keystore: Path | None
    store: str | None
    settle_after: float
    evaluate_on: str | None
    data: Path | None
    run_dir: Path | None
    node_timeout: float | None = None

    def command(self, task_id: int) -> str:
        """The ``fedchain task follow`` command line that carries on with these options.

        Options that the environment gives anyway are left out; an RPC URL that carries
        credentials is written ``URL``, never as it is.
        """
        args = ["fedchain", "task", "follow", str(task_id)]
        if self.deployment != _DEFAULT_DEPLOYMENT and str(self.deployment) != os.environ.get(
            DEPLOYMENT_ENV
        ):
            args += ["--deployment", str(self.deployment)]
        if self.rpc_url and self.rpc_url != os.environ.get(RPC_URL_ENV):
            args += ["--rpc-url", "URL" if url_has_credentials(self.rpc_url) else self.rpc_url]
        if self.keystore is not None:
            args += ["--keystore", str(self.keystore)]
        if self.store is not None:
            args += ["--store", self.store]
        if self.settle_after != _DEFAULT_SETTLE_AFTER:
            args += ["--settle-after", f"{self.settle_after:g}"]
        if self.evaluate_on is not None:
            args += ["--evaluate", self.evaluate_on]
        if self.data is not None:
            args += ["--data", str(self.data)]
        if self.run_dir is not None:
            args += ["--run-dir", str(self.run_dir)]
        if self.node_timeout is not None and f"{self.node_timeout:g}" != os.environ.get(
            NODE_TIMEOUT_ENV
        ):
            args += ["--node-timeout", f"{self.node_timeout:g}"]
        return shlex.join(args)


class _Interrupted(BaseException):
    """Ctrl-C while the requester follows its task (see :func:`_sigint_stops`)."""


@contextlib.contextmanager
def _sigint_stops() -> Iterator[None]:
    """Inside the block, Ctrl-C raises :class:`_Interrupted` instead of KeyboardInterrupt, so
    that the requester's own hint (``task follow ID``) is printed, not the generic one."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_requester(
    session: Session,
    task_id: int,
    args: _FollowArgs,
    *,
    test: _TestSplit | None,
    poll: float,
    timeout: float | None,
    out: Output,
) -> dict[str, Any]:
    """:func:`_follow`, with Ctrl-C (exit 130) and ``--timeout`` naming the command that
    carries on: ``fedchain task follow ID``, never ``task create`` again (a second escrow)."""
    from fedchain.roles.errors import RoleTimeoutError

    hint = args.command(task_id)
    try:
        with _sigint_stops():
            return _follow(session, task_id, args, test=test, poll=poll, timeout=timeout, out=out)
    except _Interrupted:
        typer.echo(f"interrupted: the requester stopped (carry on with '{hint}')", err=True)
        raise typer.Exit(130) from None
    except RoleTimeoutError:
        raise RoleTimeoutError(
            f"requester: task {task_id} not done after {timeout:g} s (carry on with '{hint}')"
        ) from None


def _follow(
    session: Session,
    task_id: int,
    args: _FollowArgs,
    *,
    test: _TestSplit | None,
    poll: float,
    timeout: float | None,
    out: Output,
) -> dict[str, Any]:
    """Run the requester until done; the result dict (outcome, models, accuracy)."""
    from fedchain.learning import evaluate
    from fedchain.roles.chainview import TaskStatus
    from fedchain.roles.outcome import empty_rounds, no_model_reason
    from fedchain.roles.requester import Requester
    from fedchain.storage import cid_to_digest

    t0 = time.monotonic()
    who = session.participant()
    requester = Requester(who, task_id, settle_after=args.settle_after)
    with RoleDisplay(out.err, label=f"task {task_id}") as display:
        who.log = display.log
        drive(requester, describe=_describe_requester(requester), display=display, poll=poll,
              timeout=timeout, what="requester", node_timeout=args.node_timeout)  # fmt: skip
    state = fresh_view(session, requester.log)
    result = task_result(session, requester.log, state)
    manifest = requester.manifest
    privacy = manifest.privacy.to_dict() if manifest.privacy is not None else None
    result.update(
        {
            "dataset": manifest.dataset, "model": manifest.model.name,
            "chain": redact_url(session.rpc_url), "privacy": privacy,
            "withdrawn": requester.withdrawn, "final_model": None,
            "initial_model": _initial_cid(session, task_id),
        }
    )  # fmt: skip
    if state.status is TaskStatus.FINISHED:
        final = requester.final_model()  # fetched and checked against its digest and spec
        result["final_model"] = final.cid
    if test is not None:
        for row in result["rounds"]:
            digest, codec = cid_to_digest(row["global_model"])
            model = requester.model(digest, codec)
            row["accuracy"] = round(evaluate(requester.spec, model.state, *test), 4)
        rounds = result["rounds"]
        result["final_accuracy"] = rounds[-1]["accuracy"] if rounds else None
    result["empty_rounds"] = empty_rounds(result)
    result["no_model_reason"] = no_model_reason(result)
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    if args.run_dir is not None:
        _write_run_dir(session, requester.log, result, args.run_dir)
    return result


def _initial_cid(session: Session, task_id: int) -> str:
    from fedchain.storage import digest_to_cid

    digest, codec = session.deployment.models.initialModel(task_id)
    return digest_to_cid(bytes(digest), int(codec))


# -- the run directory ------------------------------------------------------------------------


def _task_transactions(session: Session, log: TaskLog) -> list[dict[str, Any]]:
    """Every transaction that emitted one of the task's events, from its receipt, in chain
    order: ``round`` (the lowest round its events name, None for joins and settlements),
    ``label`` (``TaskManager.<function>``), ``sender``, ``gas_used``, ``fee_wei``,
    ``block_number``, ``tx_hash``. Withdrawals emit no task event and are not listed."""
    from eth_typing import HexStr

    from fedchain.chain.abi import selector

    tasks = session.deployment.tasks
    names = {
        selector(e): str(e["name"]) for e in tasks.abi if e.get("type") == "function"
    }  # fmt: skip
    w3 = session.chain.w3
    rounds: dict[str, int | None] = {}
    order: list[str] = []
    for event in sorted(log.events(), key=lambda e: e.sort_key):
        if event.tx_hash not in rounds:
            rounds[event.tx_hash] = None
            order.append(event.tx_hash)
        r = event.args.get("round")
        if r is not None:
            known = rounds[event.tx_hash]
            rounds[event.tx_hash] = int(r) if known is None else min(known, int(r))
    transactions = []
    for tx_hash in order:
        tx = w3.eth.get_transaction(HexStr(tx_hash))
        receipt = w3.eth.get_transaction_receipt(HexStr(tx_hash))
        data = bytes(tx["input"])
        gas = int(receipt["gasUsed"])
        transactions.append(
            {
                "round": rounds[tx_hash], "label": f"TaskManager.{names.get(data[:4], '?')}",
                "sender": str(tx["from"]), "gas_used": gas,
                "fee_wei": gas * int(receipt.get("effectiveGasPrice", tx.get("gasPrice", 0))),
                "block_number": int(receipt["blockNumber"]), "tx_hash": tx_hash,
            }
        )  # fmt: skip
    return transactions


def _write_run_dir(session: Session, log: TaskLog, result: dict[str, Any], run_dir: Path) -> None:
    """Write ``run_dir`` like the demo's (:func:`fedchain.report.write_run_dir`) plus
    ``rounds.txt``; every round's ``gas`` and ``gas_total`` come from the receipts."""
    from rich.console import Console

    from fedchain.fsutil import atomic_output
    from fedchain.report import write_run_dir

    transactions = _task_transactions(session, log)
    for row in result["rounds"]:
        row["gas"] = sum(t["gas_used"] for t in transactions if t["round"] == row["round"])
    result["gas_total"] = sum(t["gas_used"] for t in transactions)
    result["run_dir"] = str(run_dir)
    files = write_run_dir(result, transactions, run_dir)
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, highlight=False)
    console.print(round_table(result))
    for line in _summary(result):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    with atomic_output(run_dir / "rounds.txt", mode=0o666) as fh:
        fh.write(buffer.getvalue().encode("utf-8"))
    result["run_files"] = sorted([*(p.name for p in files.values()), "rounds.txt"])


# -- printing a result ------------------------------------------------------------------------


def _summary(result: dict[str, Any]) -> list[str]:
    """:func:`summary_lines`, honest about a task in which nothing was accepted."""
    accepted_any = any(row.get("accepted") for row in result["rounds"])
    lines = []
    for line in summary_lines(result):
        if line.startswith("final accuracy: ") and not accepted_any:
            line += " (the initial model: no update was ever accepted)"
        lines.append(line)
    empty = result.get("empty_rounds") or []
    if empty:
        shown = ", ".join(str(r + 1) for r in empty)
        lines.append(f"WARNING: no client submitted in round(s) {shown} of {len(result['rounds'])}")
    return lines


def _fetch_command(cid: str, store: str | None) -> str:
    """The command that fetches ``cid`` from the store the user named (or the default one)."""
    args = ["fedchain", "ipfs", "get", cid, "-o", "final.safetensors"]
    return shlex.join([*args, "--store", store] if store is not None else args)


def _print_result(out: Output, result: dict[str, Any], *, store: str | None) -> None:
    out.out.print(round_table(result))
    for line in _summary(result):
        out.line(line)
    reason = result.get("no_model_reason")
    if reason is not None:
        out.line(f"final model: none trained ({reason})")
    elif result.get("final_model"):
        out.line(f"final model: {result['final_model']} (checked against its on-chain digest)")
        out.line(f"fetch it with: {_fetch_command(result['final_model'], store)}")
    out.line(f"refund withdrawn: {format_wei(int(result.get('withdrawn') or 0))}")
    if result.get("run_dir"):
        out.line(f"run directory: {result['run_dir']} ({', '.join(result['run_files'])})")


def _finish(out: Output, result: dict[str, Any], *, store: str | None) -> None:
    """Print the result; exit :data:`NO_MODEL_EXIT` when the task produced no model."""
    _print_result(out, result, store=store)
    out.result(result)
    reason = result.get("no_model_reason")
    if reason is not None:
        typer.echo(f"task {result['task_id']} produced no model: {reason}", err=True)
        raise typer.Exit(NO_MODEL_EXIT)


def _ether(wei: int) -> str:
    """``wei`` in ETH, exactly: ``0.00005 ETH``."""
    text = format(Decimal(wei).scaleb(-18).normalize(), "f")
    return f"{text} ETH"


# -- commands ---------------------------------------------------------------------------------


@app.command("init")
def init_command(
    task_file: Annotated[
        Path, typer.Argument(help="The task file to write.", show_default=True)
    ] = Path("task.toml"),
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a commented example task file (the digits demo's settings) to edit and publish."""
    from fedchain.fsutil import atomic_output
    from fedchain.roles.taskfile import DEFAULT_TASK_TOML, load_task_file

    def exists(path: Path) -> ConfigError:
        return ConfigError(f"{path} exists; pass --force to replace it")

    out = Output(as_json)
    try:
        task_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(task_file, overwrite=force, mode=0o666, exists_error=exists) as fh:
            fh.write(DEFAULT_TASK_TOML.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {task_file}: {exc.strerror or exc}") from None
    task = load_task_file(task_file)  # it passes its own check
    out.line(
        f"wrote {task_file}: {task.rounds} round(s), up to {task.max_clients} clients, committee "
        f"{task.committee_size}, escrow {format_wei(task.escrow)}; edit it (docs/taskfile.md), "
        f"then 'fedchain task create {shlex.quote(str(task_file))}'"
    )
    out.result({"path": str(task_file), "rounds": task.rounds, "escrow": task.escrow})


@app.command("create")
def create_command(
    task_file: Annotated[Path, typer.Argument(help="The TOML task file.", show_default=False)],
    deployment: DeploymentOpt = _DEFAULT_DEPLOYMENT,
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Stay as the requester until the task is done.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Publish even if this key already published the same task and it has not ended.",
        ),
    ] = False,
    settle_after: SettleAfterOpt = _DEFAULT_SETTLE_AFTER,
    evaluate_on: EvaluateOpt = None,
    data: DataOpt = None,
    run_dir: RunDirOpt = None,
    poll: PollOpt = 1.0,
    timeout: TimeoutOpt = None,
    node_timeout: NodeTimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish TASK_FILE's task (initial model on the store, reward escrowed); print its id."""
    from fedchain.chain.errors import ContractError
    from fedchain.roles.chainview import chain_now, read_task
    from fedchain.roles.requester import (
        DuplicateTaskError,
        PendingTransactionsError,
        publish_task,
    )
    from fedchain.roles.taskfile import load_task_file

    task = load_task_file(task_file)
    if not follow:
        for option, value in (("--evaluate", evaluate_on), ("--run-dir", run_dir)):
            if value is not None:
                raise ConfigError(f"{option} needs --follow")
    test = _test_split(evaluate_on, data)
    account = load_key(keystore)
    out = Output(as_json)
    for note in task.notes:
        typer.echo(f"note: {note}", err=True)
    args = _FollowArgs(deployment, rpc_url, keystore, store, settle_after, evaluate_on, data,
                       run_dir, node_timeout)  # fmt: skip
    with open_session(
        deployment,
        rpc_url,
        account=account,
        store=store,
        node_timeout=resolve_node_timeout(node_timeout),
    ) as session:
        limits = read_limits(session.deployment.tasks)
        check_limits(task, limits, task_file)  # before the store or the escrow is touched
        try:
            task_id = publish_task(session.participant(), task, force=force)
        except ContractError as exc:
            if exc.error_name not in _LIMIT_ERRORS:
                raise
            raise ConfigError(
                f"{task_file}: the TaskManager refused the task ({exc}): its windows and stake "
                f"must respect the deployment's limits: {limits_summary(limits)}; nothing was "
                "locked"
            ) from None
        except PendingTransactionsError as exc:
            raise PendingTransactionsError(f"{exc}, or pass --force to publish now") from None
        except DuplicateTaskError as exc:
            raise DuplicateTaskError(
                exc.task_id,
                f"{task_file}: task {exc.task_id} is this task, published by this key and not "
                f"ended; follow it with '{args.command(exc.task_id)}', or pass --force to "
                "publish another",
            ) from None
        state = dataclasses.replace(
            read_task(session.deployment.tasks, task_id), committee_size=task.committee_size
        )  # taskInfo reports the committee size only once the task has started
        created = {
            "task_id": task_id, "requester": account.address, "escrow": task.escrow,
            "initial_model": _initial_cid(session, task_id), "rounds": task.rounds,
            "max_clients": task.max_clients, "committee_size": task.committee_size,
            "join_deadline": state.join_deadline, "client_mortgage": task.client_mortgage,
            "min_miner_stake": task.min_miner_stake, "min_total_stake": task.min_total_stake,
            "notes": list(task.notes),
        }  # fmt: skip
        out.line(
            f"task {task_id} created: {task.rounds} round(s), up to {task.max_clients} clients, "
            f"committee {task.committee_size}; escrow {format_wei(task.escrow)}; initial model "
            f"{created['initial_model']}"
        )
        now = chain_now(session.chain)
        out.line(f"task {task_id} {_start_text(state, now)}; it needs {_needs_text(state)}")
        if not follow:
            out.line(
                f"participants join with 'fedchain client run --task {task_id} ...' and "
                f"'fedchain miner run --task {task_id}'; follow it with '{args.command(task_id)}'"
            )
            out.result(created)
            return
        result = _run_requester(session, task_id, args, test=test, poll=poll, timeout=timeout,
                                out=out)  # fmt: skip
    _finish(out, result, store=store)


@app.command("follow")
def follow_command(
    task_id: TaskIdArg,
    deployment: DeploymentOpt = _DEFAULT_DEPLOYMENT,
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    settle_after: SettleAfterOpt = _DEFAULT_SETTLE_AFTER,
    evaluate_on: EvaluateOpt = None,
    data: DataOpt = None,
    run_dir: RunDirOpt = None,
    poll: PollOpt = 1.0,
    timeout: TimeoutOpt = None,
    node_timeout: NodeTimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Carry on as the requester of TASK_ID (what 'task create --follow' does after creating)."""
    from fedchain.roles.chainview import read_task

    test = _test_split(evaluate_on, data)
    account = load_key(keystore)
    out = Output(as_json)
    args = _FollowArgs(deployment, rpc_url, keystore, store, settle_after, evaluate_on, data,
                       run_dir, node_timeout)  # fmt: skip
    with open_session(
        deployment,
        rpc_url,
        account=account,
        store=store,
        node_timeout=resolve_node_timeout(node_timeout),
    ) as session:
        read_task(session.deployment.tasks, task_id)  # an unknown id fails here, in one line
        result = _run_requester(session, task_id, args, test=test, poll=poll, timeout=timeout,
                                out=out)  # fmt: skip
    _finish(out, result, store=store)


@app.command("list")
def list_command(
    deployment: DeploymentOpt = _DEFAULT_DEPLOYMENT,
    rpc_url: RpcUrlOpt = None,
    mine: Annotated[
        bool,
        typer.Option(
            "--mine",
            help="Only the tasks your key created (--keystore, else $FEDCHAIN_PRIVATE_KEY).",
        ),
    ] = False,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the deployment's tasks: status, requester, rounds done, escrow (no key needed)."""
    from rich.table import Table

    from fedchain.roles.chainview import TaskStatus, chain_now, read_task

    requester = None
    if mine:  # only the address: a keystore names it without being decrypted
        from fedchain.chain.keys import keystore_address

        requester = keystore_address(keystore) if keystore else load_key(None).address
    out = Output(as_json)
    with open_session(deployment, rpc_url, with_store=False) as session:
        tasks = session.deployment.tasks
        states = [_seats(tasks, read_task(tasks, i)) for i in range(1, int(tasks.taskCount()) + 1)]
        now = chain_now(session.chain)
    if requester is not None:
        states = [s for s in states if s.requester.lower() == requester.lower()]
    rows: list[dict[str, Any]] = [
        {
            "task_id": s.task_id, "status": s.status.name.lower(), "requester": s.requester,
            "rounds_done": s.round, "rounds": s.rounds, "escrow": s.rounds * s.per_round_reward,
            "clients": s.client_count, "max_clients": s.max_clients, "miners": s.miner_count,
            "committee_size": s.committee_size, "total_stake": s.total_stake,
            "min_total_stake": s.min_total_stake, "join_deadline": s.join_deadline,
        }
        for s in states
    ]  # fmt: skip
    joining = {s.task_id for s in states if s.status is TaskStatus.JOINING}
    if rows:
        table = Table(title_justify="left")
        table.add_column("id", justify="right")
        for name in ("status", "requester"):
            table.add_column(name)
        for name in ("rounds", "clients", "miners/seats", "escrow"):
            table.add_column(name, justify="right")
        table.add_column("starts")
        for row in rows:
            starts = (
                f"{relative_time(row['join_deadline'] - now)} (join deadline)"
                if row["task_id"] in joining else ""
            )  # fmt: skip
            table.add_row(
                str(row["task_id"]), row["status"], short_address(row["requester"]),
                f"{row['rounds_done']}/{row['rounds']}",
                f"{row['clients']}/{row['max_clients']}",
                f"{row['miners']}/{row['committee_size']}", _ether(row["escrow"]), starts,
            )  # fmt: skip
        out.out.print(table)
    else:
        whose = f" created by {requester}" if requester is not None else ""
        out.line(f"no tasks{whose} on this deployment")
    out.result({"tasks": rows, "count": len(rows), "requester": requester})


@app.command("status")
def status_command(
    task_id: TaskIdArg,
    deployment: DeploymentOpt = _DEFAULT_DEPLOYMENT,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show TASK_ID's status, its rounds and where its money is (no key needed)."""
    from fedchain.roles.chainview import TaskLog, chain_now

    out = Output(as_json)
    with open_session(deployment, rpc_url, with_store=False) as session:
        log = TaskLog(
            session.deployment.tasks, task_id, addresses=session.deployment.log_addresses()
        )
        state = fresh_view(session, log)  # the events first, then the state: one point in time
        state = _seats(session.deployment.tasks, state)
        now = chain_now(session.chain)
        result = task_result(session, log, state)
    out.line(_status_line(state, now, len(result["rounds"])))
    if result["rounds"]:
        out.out.print(round_table(result))
    for line in _money_lines(result, state):
        out.line(line)
    out.result({**result, "state": _state_json(state, now)})
