"""``fedchain task``: publish a task from a task file, follow it as its requester, read its status.

``task create TASK.toml`` puts the initial model (with the task manifest) on the store and
creates the task with the whole reward escrowed; with ``--follow`` it then stays as the
requester: starts the task once it is full (or at the join deadline), waits for the rounds,
settles members that do not claim, withdraws the refund, fetches and checks the final model and
prints the round table. ``task follow ID`` does the same for a task created earlier (a requester
that was stopped carries on). ``task status ID`` needs no key: it reads the chain only.

The roles (and torch) are imported when a command runs, so that the CLI starts fast.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedchain.cli.common import (
    DeploymentOpt,
    Describe,
    JsonOpt,
    KeystoreOpt,
    Output,
    PollOpt,
    RoleDisplay,
    RpcUrlOpt,
    Session,
    StoreOpt,
    TimeoutOpt,
    drive,
    load_key,
    open_session,
    redact_url,
    relative_time,
)
from fedchain.errors import ConfigError
from fedchain.report import format_wei, round_table, summary_lines

if TYPE_CHECKING:
    import numpy as np

    from fedchain.roles.chainview import TaskLog, TaskState
    from fedchain.roles.requester import Requester

    _TestSplit = tuple[np.ndarray, np.ndarray]

__all__ = ["app", "fresh_view", "task_result"]

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
    parts.append(f"miners {state.miner_count} (committee {state.committee_size})")
    if state.status is TaskStatus.JOINING:
        parts.append(f"joining closes {relative_time(state.join_deadline - now)}")
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
                f"waiting for participants: {state.client_count}/{state.max_clients} clients, "
                f"{state.miner_count}/{state.committee_size} miners; joining closes "
                f"{relative_time(state.join_deadline - now)}"
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


def _follow(
    session: Session,
    task_id: int,
    *,
    settle_after: float,
    test: _TestSplit | None,
    poll: float,
    timeout: float | None,
    out: Output,
) -> dict[str, Any]:
    """Run the requester until done; the result dict (outcome, models, accuracy)."""
    from fedchain.learning import evaluate
    from fedchain.roles.chainview import TaskStatus
    from fedchain.roles.requester import Requester
    from fedchain.storage import cid_to_digest

    t0 = time.monotonic()
    who = session.participant()
    requester = Requester(who, task_id, settle_after=settle_after)
    with RoleDisplay(out.err, label=f"task {task_id}") as display:
        who.log = display.log
        drive(requester, describe=_describe_requester(requester), display=display, poll=poll,
              timeout=timeout, what="requester")  # fmt: skip
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
    result["wall_seconds"] = round(time.monotonic() - t0, 1)
    return result


def _initial_cid(session: Session, task_id: int) -> str:
    from fedchain.storage import digest_to_cid

    digest, codec = session.deployment.models.initialModel(task_id)
    return digest_to_cid(bytes(digest), int(codec))


def _print_result(out: Output, result: dict[str, Any]) -> None:
    out.out.print(round_table(result))
    for line in summary_lines(result):
        out.line(line)
    if result.get("final_model"):
        out.line(f"final model: {result['final_model']} (checked against its on-chain digest)")
    out.line(f"refund withdrawn: {format_wei(int(result.get('withdrawn') or 0))}")


# -- commands ---------------------------------------------------------------------------------


@app.command("create")
def create_command(
    task_file: Annotated[Path, typer.Argument(help="The TOML task file.", show_default=False)],
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Stay as the requester until the task is done.")
    ] = False,
    settle_after: SettleAfterOpt = 60.0,
    evaluate_on: EvaluateOpt = None,
    data: DataOpt = None,
    poll: PollOpt = 1.0,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish TASK_FILE's task (initial model on the store, reward escrowed); print its id."""
    from fedchain.roles.chainview import read_task
    from fedchain.roles.requester import publish_task
    from fedchain.roles.taskfile import load_task_file

    task = load_task_file(task_file)
    if evaluate_on is not None and not follow:
        raise ConfigError("--evaluate needs --follow")
    test = _test_split(evaluate_on, data)
    account = load_key(keystore)
    out = Output(as_json)
    with open_session(deployment, rpc_url, account=account, store=store) as session:
        task_id = publish_task(session.participant(), task)
        state = read_task(session.deployment.tasks, task_id)
        created = {
            "task_id": task_id, "requester": account.address, "escrow": task.escrow,
            "initial_model": _initial_cid(session, task_id), "rounds": task.rounds,
            "max_clients": task.max_clients, "committee_size": task.committee_size,
            "join_deadline": state.join_deadline, "client_mortgage": task.client_mortgage,
            "min_miner_stake": task.min_miner_stake,
        }  # fmt: skip
        out.line(
            f"task {task_id} created: {task.rounds} round(s), up to {task.max_clients} clients, "
            f"committee {task.committee_size}; escrow {format_wei(task.escrow)}; initial model "
            f"{created['initial_model']}"
        )
        if not follow:
            out.line(
                f"participants join with 'fedchain client run --task {task_id} ...' and "
                f"'fedchain miner run --task {task_id}'; follow it with "
                f"'fedchain task follow {task_id}'"
            )
            out.result(created)
            return
        result = _follow(session, task_id, settle_after=settle_after, test=test, poll=poll,
                         timeout=timeout, out=out)  # fmt: skip
    _print_result(out, result)
    out.result(result)


@app.command("follow")
def follow_command(
    task_id: TaskIdArg,
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    settle_after: SettleAfterOpt = 60.0,
    evaluate_on: EvaluateOpt = None,
    data: DataOpt = None,
    poll: PollOpt = 1.0,
    timeout: TimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Carry on as the requester of TASK_ID (what 'task create --follow' does after creating)."""
    from fedchain.roles.chainview import read_task

    test = _test_split(evaluate_on, data)
    account = load_key(keystore)
    out = Output(as_json)
    with open_session(deployment, rpc_url, account=account, store=store) as session:
        read_task(session.deployment.tasks, task_id)  # an unknown id fails here, in one line
        result = _follow(session, task_id, settle_after=settle_after, test=test, poll=poll,
                         timeout=timeout, out=out)  # fmt: skip
    _print_result(out, result)
    out.result(result)


@app.command("status")
def status_command(
    task_id: TaskIdArg,
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show TASK_ID's status, its rounds and where its money is (no key needed)."""
    from fedchain.roles.chainview import TaskLog, chain_now

    out = Output(as_json)
    with open_session(deployment, rpc_url, with_store=False) as session:
        log = TaskLog(session.deployment.tasks, task_id)
        state = fresh_view(session, log)  # the events first, then the state: one point in time
        now = chain_now(session.chain)
        result = task_result(session, log, state)
    out.line(_status_line(state, now, len(result["rounds"])))
    if result["rounds"]:
        out.out.print(round_table(result))
    for line in _money_lines(result, state):
        out.line(line)
    out.result({**result, "state": _state_json(state, now)})
