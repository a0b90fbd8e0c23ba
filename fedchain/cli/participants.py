"""``fedchain client run``, ``fedchain miner run`` and ``fedchain claim``: one process per
participant, on any JSON-RPC node.

A client or miner joins while the task is joining, then follows it round by round until it has
claimed at the end; a bar of rounds and a status line show where it is, the role's log lines
print above it. Every decision is re-derived from the chain and the store, so a stopped process
carries on when started again with the same options. Exit codes: 0 done, 1 an error (one line),
130 interrupted. The roles (and torch) are imported when a command runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedchain.cli.common import (
    DeploymentOpt,
    Describe,
    JsonOpt,
    KeystoreOpt,
    NodeTimeoutOpt,
    Output,
    PollOpt,
    RoleDisplay,
    RpcUrlOpt,
    StoreOpt,
    TaskIdOpt,
    TimeoutOpt,
    drive,
    load_key,
    open_session,
    resolve_node_timeout,
)
from fedchain.cli.demo import parse_attacks
from fedchain.errors import ConfigError
from fedchain.report.labels import format_wei, short_address

if TYPE_CHECKING:
    from fedchain.learning import Behaviour
    from fedchain.roles.base import ClaimResult, TaskRole
    from fedchain.roles.chainview import TaskLog, TaskState
    from fedchain.roles.client import Client, LocalData
    from fedchain.roles.miner import Miner

#: ``fedchain.roles.miner.FAULTS``, for the help text (a test keeps the two equal).
FAULT_NAMES = ("silent_leader", "accept_all", "aggregate_all", "eager_leader")

__all__ = [
    "FAULT_NAMES",
    "claim_command",
    "client_app",
    "load_data_file",
    "miner_app",
    "parse_shard",
    "register",
]

client_app = typer.Typer(
    help="Take part in a task as a client (data owner): join, train every round, claim.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
miner_app = typer.Typer(
    help="Take part in a task as a miner: stake, verify, lead or attest, claim.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# -- the client's data ------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)`` with ``0 <= I < N``.

    Raises:
        ConfigError: anything else.
    """
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ConfigError(f"--shard {text!r}: use I/N, e.g. 0/10 (shard I of N, from 0)")
    i, n = int(index), int(count)
    if n < 1 or i >= n:
        raise ConfigError(f"--shard {text!r}: the shard index must lie in 0..{n - 1}")
    return i, n


def load_data_file(path: Path) -> LocalData:
    """A client's data from an ``.npz`` file with arrays ``x`` (images: uint8 0-255 or float in
    [0, 1], shaped (N, H, W) or (N, 1, H, W)) and ``y`` (integer labels).

    Raises:
        ConfigError: missing file or arrays, wrong shapes or types.
    """
    import numpy as np

    from fedchain.roles.client import LocalData

    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("x", "y") if k not in npz.files]
            if missing:
                raise ConfigError(f"{path}: no array {missing[0]!r} (needs x and y)")
            x, y = npz["x"], npz["y"]
    except FileNotFoundError:
        raise ConfigError(f"no data file {path}") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path} is not a readable .npz file") from None
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
        raise ConfigError(f"{path}: x must be (N, H, W) or (N, 1, H, W) and y (N,), N > 0")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ConfigError(f"{path}: y must hold non-negative integer labels")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
            raise ConfigError(f"{path}: float images must be finite and lie in [0, 1]")
    else:
        raise ConfigError(f"{path}: x must be uint8 or float, not {x.dtype}")
    return LocalData(x.astype(np.float32), y.astype(np.int64), name=path.stem)


def _client_data(
    dataset: str | None,
    data: Path | None,
    shard: str | None,
    scheme: str,
    seed: int,
    data_file: Path | None,
) -> LocalData:
    from fedchain.learning import load_dataset, partition
    from fedchain.roles.client import LocalData

    if data_file is not None:
        if dataset is not None or shard is not None:
            raise ConfigError("give --data-file, or --dataset with --shard, not both")
        return load_data_file(data_file)
    if dataset is None or shard is None:
        raise ConfigError("give --dataset NAME --shard I/N, or --data-file FILE.npz")
    i, n = parse_shard(shard)
    if dataset == "mnist" and data is None:
        raise ConfigError("--dataset mnist needs --data FILE (.npz or an IDX directory)")
    ds = load_dataset(dataset, path=data)
    part = partition(ds.y_train, n, scheme=scheme, seed=seed)[i]
    return LocalData(ds.x_train[part], ds.y_train[part], name=f"{dataset}-shard-{i}")


def _behaviour(attack: str | None) -> Behaviour | None:
    from fedchain.learning import behaviour_from_dict

    if attack is None:
        return None
    return behaviour_from_dict(parse_attacks([f"0={attack}"])[0])


# -- progress and results ---------------------------------------------------------------------

NameOpt = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="A label for you in log lines and summaries (default: your short address).",
        show_default=False,
    ),
]


def _who_label(address: str, name: str | None) -> str:
    """``alice (0x12ab…cdef)``, or just the short address without a name."""
    return f"{name} ({short_address(address)})" if name else short_address(address)


def _member_index(members: list[str], address: str) -> int | None:
    me = address.lower()
    return next((i for i, a in enumerate(members) if a.lower() == me), None)


def _settlement(log: TaskLog, event: str, key: str, address: str) -> dict[str, Any] | None:
    found = log.last(event, **{key: address})
    if found is None:
        return None
    return {k: v for k, v in found.args.items() if k not in ("taskId", key)}


def _rounds_done(state: TaskState, submitted: bool) -> int:
    from fedchain.roles.chainview import TaskStatus

    if state.status is TaskStatus.FINISHED:
        return state.rounds
    if state.status is not TaskStatus.RUNNING:
        return 0
    return min(state.rounds, state.round + (1 if submitted else 0))


def _joining(state: TaskState, joined: bool) -> str:
    if not joined:
        return "joining"
    return (
        f"joined; waiting for the task to start ({state.client_count}/{state.max_clients} "
        f"clients, {state.miner_count}/{state.committee_size} miners)"
    )


def _describe_client(client: Client) -> Describe:
    from fedchain.roles.chainview import TaskStatus, chain_now

    me = client.who.address.lower()

    def describe(state: TaskState) -> tuple[int, int, str]:
        log = client.log
        r = state.round
        submitted = state.status is TaskStatus.RUNNING and me in log.submissions(r)
        done = _rounds_done(state, submitted)
        if state.status.ended:
            return done, state.rounds, "claiming"
        if state.status is TaskStatus.JOINING:
            joined = me in (a.lower() for a in log.clients())
            return done, state.rounds, _joining(state, joined)
        if submitted:
            return done, state.rounds, f"waiting for round {r + 1} to close"
        if chain_now(client.who.chain) > state.submit_deadline:
            return done, state.rounds, f"round {r + 1} closed for submissions; waiting"
        return done, state.rounds, f"training round {r + 1}"

    return describe


def _describe_miner(miner: Miner) -> Describe:
    from fedchain.roles.chainview import TaskStatus, chain_now

    me = miner.who.address.lower()
    announced = False

    def describe(state: TaskState) -> tuple[int, int, str]:
        nonlocal announced
        log = miner.log
        if not announced:
            index = _member_index(log.miners(), me)
            if index is not None:
                miner.who.say(f"taking part in task {miner.task_id} as miner {index}")
                announced = True
        done = _rounds_done(state, False)
        if state.status.ended:
            return done, state.rounds, "claiming"
        if state.status is TaskStatus.JOINING:
            joined = me in (a.lower() for a in log.miners())
            return done, state.rounds, _joining(state, joined)
        r = state.round
        committee = miner.committee(r)
        if me not in committee:
            return done, state.rounds, f"waiting (not on round {r + 1}'s committee)"
        now = chain_now(miner.who.chain)
        if len(log.submissions(r)) < state.client_count and now <= state.submit_deadline:
            return done, state.rounds, f"waiting for round {r + 1}'s updates"
        if committee[state.attempt] == me:
            return done, state.rounds, f"verifying and leading round {r + 1}"
        if log.last("VerdictPosted", round=r, attempt=state.attempt) is None:
            return done, state.rounds, f"verifying round {r + 1}; waiting for the leader"
        return done, state.rounds, f"attesting round {r + 1}"

    return describe


def _require_member(role: TaskRole, members: list[str], kind: str) -> None:
    from fedchain.roles.errors import NotParticipantError

    if role.who.address.lower() not in (a.lower() for a in members):
        raise NotParticipantError(
            f"{role.who.address} is not a {kind} of task {role.task_id}: it did not join while "
            "the task was joining"
        )


def _claim_line(settlement: dict[str, Any] | None, claimed: ClaimResult | None) -> str:
    withdrawn = claimed.withdrawn if claimed is not None else 0
    parts = []
    if settlement is not None:
        parts.append(f"payout {format_wei(int(settlement.get('payout', 0)))}")
        for key in ("reward", "penalty", "slashed"):
            if int(settlement.get(key, 0) or 0):
                parts.append(f"{key} {format_wei(int(settlement[key]))}")
        if "reputation" in settlement:
            parts.append(f"reputation {settlement['reputation']}")
    parts.append(f"withdrew {format_wei(withdrawn)}")
    return ("settled: " if settlement is not None else "") + ", ".join(parts)


# -- commands ---------------------------------------------------------------------------------


@client_app.command("run")
def client_run_command(
    task_id: TaskIdOpt,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="digits, or mnist (needs --data).", show_default=False),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="MNIST .npz file or IDX directory.", show_default=False),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="I/N: this client's shard of the training set (from 0).",
            show_default=False,
        ),
    ] = None,
    scheme: Annotated[
        str, typer.Option("--partition", help="How the shards are cut: iid, dirichlet, buckets.")
    ] = "iid",
    seed: Annotated[int, typer.Option("--seed", help="Seeds the shards and training.")] = 0,
    data_file: Annotated[
        Path | None,
        typer.Option(
            "--data-file", help="Your own data: an .npz with arrays x and y.", show_default=False
        ),
    ] = None,
    attack: Annotated[
        str | None,
        typer.Option(
            "--attack",
            help="Experiments only: behave as NAME[:k=v,...][@FROM-[UNTIL]], e.g. "
            "sign_flip:scale=4, or copycat@2- (honest until round 2).",
            show_default=False,
        ),
    ] = None,
    join_anyway: Annotated[
        bool,
        typer.Option(
            "--join-anyway",
            help="Join even when local training looks longer than the submission window.",
        ),
    ] = False,
    name: NameOpt = None,
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    poll: PollOpt = 1.0,
    timeout: TimeoutOpt = None,
    node_timeout: NodeTimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Join task --task as a client and train every round on your data, then claim."""
    from fedchain.roles.client import Client

    if shard is not None:
        parse_shard(shard)
    behaviour = _behaviour(attack)
    account = load_key(keystore)
    local = _client_data(dataset, data, shard, scheme, seed, data_file)
    out = Output(as_json)
    with open_session(
        deployment,
        rpc_url,
        account=account,
        store=store,
        node_timeout=resolve_node_timeout(node_timeout),
    ) as session:
        who = session.participant(name=name or "")
        client = Client(who, task_id, local, behaviour=behaviour, seed=seed,
                        join_anyway=join_anyway)  # fmt: skip
        state = client.state()  # an unknown task fails here, in one line
        index = _member_index(client.log.clients(), who.address)
        out.line(
            f"client {_who_label(who.address, name)}: task {task_id} "
            f"({state.status.name.lower()}"
            + (f", client {index}" if index is not None else "")
            + f"), {local.size} samples of {local.name}"
        )
        with RoleDisplay(out.err, label=f"client · task {task_id}") as display:
            who.log = display.log
            claimed = drive(client, describe=_describe_client(client), display=display,
                            poll=poll, timeout=timeout, what="client",
                            node_timeout=node_timeout)  # fmt: skip
        status = client.state().status.name.lower()  # refreshes the log too
        _require_member(client, client.log.clients(), "client")
        settlement = _settlement(client.log, "ClientSettled", "client", who.address)
    out.line(f"task {task_id} {status}; " + _claim_line(settlement, claimed))
    out.result({
        "address": who.address, "name": name, "index": client.index, "task_id": task_id,
        "status": status,
        "rounds": [dataclasses.asdict(r) for _, r in sorted(client.rounds.items())],
        "verdicts": [dataclasses.asdict(v) for _, v in sorted(client.verdicts.items())],
        "settlement": settlement,
        "withdrawn": claimed.withdrawn if claimed is not None else 0,
    })  # fmt: skip


@miner_app.command("run")
def miner_run_command(
    task_id: TaskIdOpt,
    stake: Annotated[
        str | None,
        typer.Option(
            "--stake",
            help='Stake to lock, e.g. "0.02 ether" (default: the task\'s minimum).',
            show_default=False,
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help=f"Experiments only, repeatable: {', '.join(FAULT_NAMES)}.",
            show_default=False,
        ),
    ] = None,
    replace_grace: Annotated[
        int | None,
        typer.Option(
            "--replace-grace",
            min=0,
            show_default=False,
            help="Seconds after the verdict deadline before this miner replaces a "
            "silent leader when it is not next in line (default: the verdict window).",
        ),
    ] = None,
    name: NameOpt = None,
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    poll: PollOpt = 1.0,
    timeout: TimeoutOpt = None,
    node_timeout: NodeTimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Join task --task as a miner: verify every round's updates, lead or attest, then claim."""
    from fedchain.roles.miner import FAULTS, Miner
    from fedchain.units import parse_wei

    faults = frozenset(fault or ())
    unknown = sorted(faults - set(FAULTS))
    if unknown:
        raise ConfigError(f"--fault {unknown[0]!r}: known faults are {', '.join(FAULTS)}")
    stake_wei = parse_wei(stake, what="--stake") if stake is not None else None
    account = load_key(keystore)
    out = Output(as_json)
    with open_session(
        deployment,
        rpc_url,
        account=account,
        store=store,
        node_timeout=resolve_node_timeout(node_timeout),
    ) as session:
        who = session.participant(name=name or "")
        miner = Miner(who, task_id, stake=stake_wei, faults=faults, replace_grace=replace_grace)
        state = miner.state()
        index = _member_index(miner.log.miners(), who.address)
        out.line(
            f"miner {_who_label(who.address, name)}: task {task_id} "
            f"({state.status.name.lower()}"
            + (f", miner {index}" if index is not None else "")
            + ")"
        )
        with RoleDisplay(out.err, label=f"miner · task {task_id}") as display:
            who.log = display.log
            claimed = drive(miner, describe=_describe_miner(miner), display=display,
                            poll=poll, timeout=timeout, what="miner",
                            node_timeout=node_timeout)  # fmt: skip
        status = miner.state().status.name.lower()  # refreshes the log too
        _require_member(miner, miner.log.miners(), "miner")
        clients = miner.log.clients()
        settlement = _settlement(miner.log, "MinerSettled", "miner", who.address)
    judgements = {
        str(r): {
            "accepted": [clients[i] for i in j.accepted],
            "rejected": [clients[i] for i in j.rejected],
            "reasons": {clients[i]: why for i, why in sorted(j.reasons.items())},
        }
        for r, j in sorted(miner.judgements.items())
    }
    out.line(f"task {task_id} {status}; " + _claim_line(settlement, claimed))
    out.result({
        "address": who.address, "name": name, "index": _member_index(miner.log.miners(),
                                                                    who.address),
        "task_id": task_id, "status": status, "judgements": judgements,
        "checks": [dataclasses.asdict(c) for c in miner.checks], "settlement": settlement,
        "withdrawn": claimed.withdrawn if claimed is not None else 0,
    })  # fmt: skip


def claim_command(
    task_id: TaskIdOpt,
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Settle your membership of an ended task and withdraw your balance."""
    from fedchain.roles.base import TaskRole
    from fedchain.roles.errors import RoleError

    account = load_key(keystore)
    out = Output(as_json)
    with open_session(deployment, rpc_url, account=account, store=store) as session:
        role = TaskRole(session.participant(), task_id)
        state = role.state()
        if not state.status.ended:
            raise RoleError(
                f"task {task_id} is {state.status.name.lower()}: claim once it has ended"
            )
        result = role.claim()
        if not result.settled and not result.withdrawn:
            me = account.address.lower()
            joined = [
                str(e.args.get("client") or e.args.get("miner")).lower()
                for e in role.log.events("ClientJoined") + role.log.events("MinerJoined")
            ]
            if me not in joined and me != state.requester.lower():
                raise RoleError(f"{account.address} never joined task {task_id}: nothing to claim")
    if result.settled:
        line = f"settled and withdrew {format_wei(result.withdrawn)}"
    elif result.withdrawn:
        line = f"already settled; withdrew {format_wei(result.withdrawn)}"
    else:
        line = "nothing left to claim (already settled and withdrawn)"
    out.line(f"task {task_id}: {line}")
    out.result({
        "address": account.address, "task_id": task_id, "settled": result.settled,
        "settlement": result.settlement, "withdrawn": result.withdrawn,
    })  # fmt: skip


def leave_command(
    task_id: TaskIdOpt,
    deployment: DeploymentOpt = Path("deployment.json"),
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Leave a task that has not started and withdraw your mortgage or stake."""
    from fedchain.roles.base import TaskRole

    account = load_key(keystore)
    out = Output(as_json)
    with open_session(deployment, rpc_url, account=account, store=store) as session:
        result = TaskRole(session.participant(), task_id).leave()
    out.line(
        f"task {task_id}: left as a {result.role}; {format_wei(result.refund)} back, "
        f"withdrew {format_wei(result.withdrawn)}"
    )
    out.result({
        "address": account.address, "task_id": task_id, "role": result.role,
        "refund": result.refund, "withdrawn": result.withdrawn,
    })  # fmt: skip


def register(root: typer.Typer) -> None:
    """Attach the top-level ``claim`` and ``leave`` commands to the root app."""
    root.command("claim")(claim_command)
    root.command("leave")(leave_command)
