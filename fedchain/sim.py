"""One whole task in one process: a requester, N clients (some of them attackers) and M miners.

Every participant is the real role (:mod:`fedchain.roles`) with its own key; they meet only
through the chain and the store, exactly as separate processes would. The simulation drives them
in turns: the requester, the clients (training and submitting, or handing signed updates to a
relayer that batches them into one transaction), then the miners (verifying, leading,
attesting). When nobody can act, it moves the embedded chain's clock to the next deadline (on a
real node it waits). The first is the join deadline: a requester may start a task early only when
every seat is taken (``max_clients`` clients and 64 miners), so the task starts once joining
closed; with fewer miners than ``committee_size`` (or less than ``min_total_stake`` staked) the
requester cancels it then instead. At the end everyone claims, and the outcome is read back from
the chain.

``fedchain demo`` and the experiments use :func:`run_simulation`::

    from fedchain.sim import SimConfig, run_simulation
    result = run_simulation(SimConfig(attacks={8: "sign_flip", 9: "free_rider"}))
    print(result.summary["final_accuracy"])
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from fedchain.chain import connect
from fedchain.chain.anvil import DEFAULT_MNEMONIC
from fedchain.chain.connection import Chain
from fedchain.chain.deploy import Deployment, deploy_fedchain
from fedchain.errors import ConfigError, FedChainError
from fedchain.learning import (
    Behaviour,
    behaviour_from_dict,
    evaluate,
    load_dataset,
    make_behaviour,
    partition,
)
from fedchain.roles.base import Activity, Participant, TaskRole
from fedchain.roles.blobs import fetch_model, read_verdict_notes
from fedchain.roles.cache import cached_answer
from fedchain.roles.chainview import TaskLog, TaskStatus, chain_now, read_task
from fedchain.roles.client import Client, LocalData
from fedchain.roles.miner import Miner
from fedchain.roles.outcome import task_outcome
from fedchain.roles.requester import Requester, publish_task
from fedchain.roles.scoring import scoring_closes_at
from fedchain.roles.taskfile import TaskFile
from fedchain.storage import BlobStore, cid_to_digest, open_store

__all__ = [
    "SimConfig",
    "SimError",
    "SimResult",
    "advance_to_next_deadline",
    "demo_config",
    "open_chain",
    "run_simulation",
]

#: Receives progress events: ``(kind, data)``; kinds ``"log"``, ``"setup"``, ``"train"``,
#: ``"round"`` (see :func:`run_simulation`).
ProgressFn = Callable[[str, dict[str, Any]], None]


class SimError(FedChainError):
    """The simulated task could not complete (it stalled, or a participant failed)."""


def _default_task() -> TaskFile:
    return TaskFile.from_dict({"task": {"max_clients": 10, "rounds": 5}})


@dataclass(frozen=True)
class SimConfig:
    """A simulated task.

    Attributes:
        task: the task file (rounds, clients = ``max_clients``, committee, policy, model,
            training, privacy, verification).
        miners: how many miners join.
        attacks: client index → behaviour: a name (``"sign_flip"``), a dict
            ``{"name": ..., "params": {...}}`` or a list of them (composed).
        miner_faults: miner index → simulated faults (``{"silent_leader"}``).
        offline_miners: miners that join and then go down for the whole task.
        dataset: ``"digits"`` or ``"mnist"``; ``data_path`` for MNIST's file.
        partition: ``"iid"`` | ``"dirichlet"`` | ``"buckets"``; ``per_client`` images each.
        test_size: test images used for the accuracy column (None: all).
        chain: ``"embedded"``, ``"anvil"`` or an RPC URL with funded ``chain_keys``.
        store: a store spec (``"local:DIR"``, ``"kubo:URL"``); None: a temporary directory.
        relay: clients sign their updates and the requester relays them in one transaction per
            round (else every client sends its own ``submitUpdate``).
        seed: seeds keys, data split, initial model, training, DP noise and attacks.
        max_wall_seconds: give up after this long.
    """

    task: TaskFile = field(default_factory=_default_task)
    miners: int = 3
    attacks: Mapping[int, Any] = field(default_factory=dict)
    miner_faults: Mapping[int, frozenset[str]] = field(default_factory=dict)
    offline_miners: frozenset[int] = frozenset()
    dataset: str = "digits"
    data_path: str | None = None
    partition: str = "iid"
    per_client: int | None = None
    test_size: int | None = None
    chain: str = "embedded"
    chain_keys: tuple[str, ...] = ()
    store: str | None = None
    relay: bool = True
    seed: int = 0
    max_wall_seconds: float = 3600.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a configuration that cannot run."""
        n = self.task.max_clients
        if n < 2:
            raise ConfigError("a simulation needs at least two clients")
        if self.miners < 1:
            raise ConfigError("a simulation needs at least one miner")
        for i in self.attacks:
            if not 0 <= int(i) < n:
                raise ConfigError(f"attack on client {i}, but clients are numbered 0..{n - 1}")
            self.behaviour(int(i))  # an unknown behaviour or bad parameters fail here
        for j in [*self.miner_faults, *self.offline_miners]:
            if not 0 <= int(j) < self.miners:
                raise ConfigError(
                    f"fault on miner {j}, but miners are numbered 0..{self.miners - 1}"
                )

    def behaviour(self, i: int) -> Behaviour:
        """Client ``i``'s behaviour (honest unless ``attacks`` names one)."""
        spec = self.attacks.get(i)
        if spec is None:
            return make_behaviour("honest")
        if isinstance(spec, str):
            return make_behaviour(spec)
        return behaviour_from_dict(spec)


@dataclass
class SimResult:
    """What :func:`run_simulation` returns.

    Attributes:
        summary: the JSON report (see ``docs/guide.md``; the keys ``final_accuracy``,
            ``malicious``, ``rounds``, ``reputation``, ``escrow``, ``gas_total``...).
        transactions: every transaction sent, in order (label, gas, fee, hash, block, round).
        deployment: the contracts (the chain is closed unless ``keep_chain`` was asked).
    """

    summary: dict[str, Any]
    transactions: list[dict[str, Any]]
    deployment: Deployment | None = None


def _key(seed: int, role: str, i: int) -> LocalAccount:
    return Account.from_key(keccak(text=f"fedchain/sim/{seed}/{role}/{i}"))


class _Relayer:
    """Collects signed updates per round and sends them in one ``submitUpdatesBySig``."""

    def __init__(self, who: Participant, task_id: int) -> None:
        self.who, self.task_id = who, task_id
        self.pending: dict[int, list[dict[str, Any]]] = {}

    def __call__(self, round: int, signed: dict[str, Any]) -> None:
        self.pending.setdefault(round, []).append(signed)

    def flush(self) -> bool:
        sent = False
        for round, batch in sorted(self.pending.items()):
            if batch:
                self.who.tasks.submitUpdatesBySig(
                    self.task_id, round, batch, sender=self.who.account
                )
                self.who.say(f"relayed {len(batch)} signed update(s) for round {round}")
                sent = True
        self.pending.clear()
        return sent


class _Run:
    def __init__(self, cfg: SimConfig, chain: Chain, store: BlobStore, emit: ProgressFn) -> None:
        self.cfg, self.chain, self.store, self.emit = cfg, chain, store, emit
        self.t0 = time.monotonic()

    def participant(self, deployment: Deployment, account: LocalAccount, name: str) -> Participant:
        return Participant(
            chain=self.chain, deployment=deployment, store=self.store, account=account,
            name=name, log=lambda m: self.emit("log", {"message": m}),
        )  # fmt: skip

    def fund(self, accounts: list[LocalAccount], amount: int) -> None:
        for a in accounts:
            if self.chain.balance(a.address) < amount:
                self.chain.fund(a.address, amount)

    def data(self) -> tuple[list[LocalData], np.ndarray, np.ndarray]:
        cfg = self.cfg
        ds = load_dataset(cfg.dataset, path=cfg.data_path)
        n = cfg.task.max_clients
        parts = partition(ds.y_train, n, scheme=cfg.partition, seed=cfg.seed, size=cfg.per_client)
        local = [
            LocalData(ds.x_train[p], ds.y_train[p], name=f"{cfg.dataset}-shard-{i}")
            for i, p in enumerate(parts)
        ]
        size = cfg.test_size or len(ds.y_test)
        return local, ds.x_test[:size], ds.y_test[:size]


def advance_to_next_deadline(
    chain: Chain, tasks: Any, task_id: int, *, everyone_joined: bool = False, scoring: bool = False
) -> None:
    """Nobody can act: move the clock to just past the next deadline.

    The embedded chain jumps there. A real node is waited for; on Anvil an empty block is mined
    after the wait, because a node that mines only on transactions keeps the time of its last
    block, and deadlines would never pass on chain. The join deadline is the exception on Anvil
    too: once ``everyone_joined`` (the caller knows nobody else is coming), Anvil's clock jumps
    past it, since a requester may start a task early only when every seat is taken (64 miners).
    With ``scoring`` (a mutual-supervision task), the close of the score rows is a deadline too.
    """
    if chain.kind != "embedded":
        state = read_task(tasks, task_id) if chain.kind == "anvil" else None
        if state is not None and state.status is TaskStatus.JOINING and everyone_joined:
            chain.increase_time(max(1, state.join_deadline - chain_now(chain) + 1))
            return
        time.sleep(0.25)
        if chain.kind == "anvil":
            chain.mine()
        return
    state = read_task(tasks, task_id)
    now = chain_now(chain)
    if state.status is TaskStatus.JOINING:
        target = state.join_deadline  # the requester starts a task that is not full only then
    elif now <= state.submit_deadline:
        target = state.submit_deadline
    elif scoring and now <= (closes := scoring_closes_at(state)) and state.attempt == 0:
        target = closes  # mutual supervision's rows close before the verdict window
    elif now <= state.verdict_deadline:
        target = state.verdict_deadline
    else:
        target = state.verdict_deadline + state.verdict_duration
    chain.increase_time(max(1, target - now + 1))


def open_chain(cfg: SimConfig) -> Chain:
    """The chain ``cfg`` names (the embedded one seeded by ``cfg.seed``), for a caller that
    keeps it open after :func:`run_simulation` (to record or audit it)."""
    seed = cfg.seed if cfg.chain == "embedded" else None
    mnemonic = DEFAULT_MNEMONIC if cfg.chain.startswith("http") and not cfg.chain_keys else None
    return connect(
        cfg.chain, accounts=2 if mnemonic is None else 1, private_keys=cfg.chain_keys,
        seed=seed, mnemonic=mnemonic,
    )  # fmt: skip


def run_simulation(
    config: SimConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    chain: Chain | None = None,
) -> SimResult:
    """Run one whole task; see the module docstring.

    Args:
        config: the simulation (default: the digits demo without attackers).
        progress: receives ``("log", {"message"})``, ``("setup", {"message"})``,
            ``("train", {"round", "done", "total"})`` and ``("round", {"row"})`` events.
        chain: an open chain to use instead of connecting to ``config.chain`` (left open).

    Raises:
        ConfigError: an impossible configuration.
        SimError: the task stalled or ran past ``max_wall_seconds``.
    """
    cfg = config or SimConfig()
    cfg.validate()
    emit: ProgressFn = progress or (lambda kind, data: None)
    own_chain = chain is None
    if chain is None:
        chain = open_chain(cfg)
    tmp = tempfile.TemporaryDirectory(prefix="fedchain-sim-") if cfg.store is None else None
    store = open_store(f"local:{tmp.name}" if tmp is not None else str(cfg.store))
    try:
        return _simulate(cfg, chain, store, emit)
    finally:
        store.close()
        if tmp is not None:
            tmp.cleanup()
        if own_chain:
            chain.close()


def _simulate(cfg: SimConfig, chain: Chain, store: BlobStore, emit: ProgressFn) -> SimResult:
    run = _Run(cfg, chain, store, emit)
    task = cfg.task
    gas_start = len(chain.gas.records)
    emit("setup", {"message": f"deploying the contracts on the {chain.kind} chain"})
    deployment = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
    requester_key = _key(cfg.seed, "requester", 0)
    client_keys = [_key(cfg.seed, "client", i) for i in range(task.max_clients)]
    miner_keys = [_key(cfg.seed, "miner", j) for j in range(cfg.miners)]
    run.fund([requester_key], task.escrow + 10**18)
    run.fund(client_keys, task.client_mortgage + 10**17)
    run.fund(miner_keys, task.min_miner_stake + 10**17)
    emit("setup", {"message": "publishing the task"})
    req_who = run.participant(deployment, requester_key, "requester")
    first_block = chain.block_number()  # the task's events all come after it
    task_id = publish_task(req_who, task)
    log = TaskLog(
        deployment.tasks, task_id, from_block=first_block, addresses=deployment.log_addresses()
    )
    relayer = _Relayer(req_who, task_id) if cfg.relay else None
    local_data, x_test, y_test = run.data()
    requester = Requester(req_who, task_id, log=log)
    clients = [
        Client(
            run.participant(deployment, key, f"client {i}"),
            task_id,
            local_data[i],
            behaviour=cfg.behaviour(i),
            seed=cfg.seed * 1_000_003 + i,
            relay=relayer,
            log=log,
        )
        for i, key in enumerate(client_keys)
    ]
    miners = [
        Miner(
            run.participant(deployment, key, f"miner {j}"),
            task_id,
            faults=cfg.miner_faults.get(j, frozenset()),
            log=log,
        )
        for j, key in enumerate(miner_keys)
    ]
    emit("setup", {"message": f"{len(clients)} clients and {len(miners)} miners joining"})
    _drive(run, log, deployment, task_id, requester, clients, miners, relayer)
    return _report(run, log, deployment, task_id, clients, x_test, y_test, gas_start)


def _drive(
    run: _Run,
    log: TaskLog,
    deployment: Deployment,
    task_id: int,
    requester: Requester,
    clients: list[Client],
    miners: list[Miner],
    relayer: _Relayer | None,
) -> None:
    done: set[int] = set()
    roles: list[TaskRole] = [requester, *clients, *miners]
    offline = {1 + len(clients) + j for j in run.cfg.offline_miners}
    idle_rounds = 0
    reported = 0
    while len(done) < len(roles):
        if time.monotonic() - run.t0 > run.cfg.max_wall_seconds:
            raise SimError(f"the simulated task ran past {run.cfg.max_wall_seconds:.0f} s")
        acted = False
        for k, role in enumerate(roles):
            if k in done:
                continue
            if k in offline and log.events("TaskStarted"):
                done.add(k)  # joined, then went down for good
                continue
            before = len(getattr(role, "rounds", {}))
            activity = role.step()
            if isinstance(role, Client) and len(role.rounds) > before:
                r = max(role.rounds)
                trained = sum(1 for c in clients if r in c.rounds)
                run.emit("train", {"round": r, "done": trained, "total": len(clients)})
            if activity is Activity.DONE:
                done.add(k)
            acted |= activity is Activity.ACTED
            if relayer is not None and k == len(clients):  # after the last client's turn
                acted |= relayer.flush()
        if relayer is not None:
            acted |= relayer.flush()
        finals = log.events("RoundFinalized")
        while reported < len(finals):
            run.emit("round", {"round": int(finals[reported].args["round"])})
            reported += 1
        if acted:
            idle_rounds = 0
            continue
        # On the embedded chain every idle pass jumps to the next deadline, so many in a row
        # mean a stall; a real node is waited for in real time (bounded by max_wall_seconds).
        idle_rounds += run.chain.kind == "embedded"
        state = read_task(deployment.tasks, task_id, log=log)
        if idle_rounds > 50:
            raise SimError(f"the task stalled in round {state.round} ({state.status.name.lower()})")
        everyone = state.client_count == len(clients) and state.miner_count == len(miners)
        advance_to_next_deadline(
            run.chain, deployment.tasks, task_id, everyone_joined=everyone,
            scoring=run.cfg.task.verification.rule == "mutual",
        )  # fmt: skip


def _report(
    run: _Run,
    log: TaskLog,
    deployment: Deployment,
    task_id: int,
    clients: list[Client],
    x_test: np.ndarray,
    y_test: np.ndarray,
    gas_start: int,
) -> SimResult:
    cfg, chain = run.cfg, run.chain
    log.refresh()
    state = read_task(deployment.tasks, task_id)
    params = deployment.params
    outcome = task_outcome(
        log, state, threshold=params.get("threshold", 5), gamma_max=params.get("gamma_max", 100)
    )
    spec = cfg.task.model
    finals = {int(e.args["round"]): e for e in log.events("RoundFinalized")}
    opened = {int(e.args["round"]): e.block_number for e in log.events("RoundOpened")}
    records = chain.gas.records[gas_start:]
    for row in outcome.rounds:
        digest, codec = cid_to_digest(row.global_model)
        model = fetch_model(run.store, digest, codec, spec=spec)
        row.accuracy = round(evaluate(spec, model.state, x_test, y_test), 4)
        notes = read_verdict_notes(model)
        if notes is not None:
            chosen = set(notes["aggregated"])
            row.left_out = [outcome.clients[i] for i in notes["accepted"] if i not in chosen]
            row.reasons = {
                outcome.clients[int(i)]: str(why)
                for i, why in notes.get("reasons", {}).items()
                if str(i).isdigit() and int(i) < len(outcome.clients)
            }
        first, last = opened.get(row.round, 0), finals[row.round].block_number
        row.gas = sum(g.gas_used for g in records if first < g.block_number <= last)
    malicious = [c.who.address for c in clients if not c.behaviour.honest]
    epsilons = [r.epsilon for c in clients for r in c.rounds.values() if r.epsilon is not None]
    privacy = cfg.task.privacy
    transactions = [
        {
            "label": g.label,
            "gas_used": g.gas_used,
            "fee_wei": g.fee_wei,
            "tx_hash": g.tx_hash,
            "block_number": g.block_number,
            **_sender_and_round(chain, deployment, g.tx_hash),
        }
        for g in records
    ]
    for tx in transactions:
        if tx["round"] is None:
            tx["round"] = _round_of(tx["block_number"], opened, finals)
    summary = outcome.to_json()
    summary.update(
        {
            "dataset": cfg.dataset, "model": spec.name, "chain": chain.kind,
            "store": run.store.describe(),
            "malicious": malicious,
            # the simulation's own names: client i of the options (--attack I=...) is "ci"
            "names": {c.who.address: f"c{i}" for i, c in enumerate(clients)}
            | {_key(cfg.seed, "miner", j).address: f"m{j}" for j in range(cfg.miners)},
            "behaviours": {c.who.address: c.behaviour.describe() for c in clients
                           if not c.behaviour.honest},
            "privacy": privacy.to_dict() if privacy is not None else None,
            "epsilon": _configured_epsilon(privacy),
            "epsilon_spent_per_round": max(epsilons) if epsilons else None,
            "final_accuracy": outcome.rounds[-1].accuracy if outcome.rounds else None,
            "gas_total": sum(g.gas_used for g in records if not _setup_tx(g.label)),
            "gas_setup": sum(g.gas_used for g in records if _setup_tx(g.label)),
            "wall_seconds": round(time.monotonic() - run.t0, 1),
        }
    )  # fmt: skip
    if cfg.task.request is not None:
        summary["request"] = _cached_request(deployment, summary["requester"], cfg.task)
    return SimResult(summary=summary, transactions=transactions, deployment=deployment)


def _cached_request(deployment: Deployment, requester: str, task: TaskFile) -> dict[str, Any]:
    """What the M3 cache now answers for the task file's request (``task_id`` None: nothing)."""
    key = task.request_key()
    answer = cached_answer(deployment, requester, key)
    found = asdict(answer) if answer is not None else {"task_id": None}
    return {"request_key": "0x" + key.hex(), **found}


def _setup_tx(label: str) -> bool:
    """Deployment and the simulation's own funding transfers (not part of the protocol)."""
    return label.endswith(".constructor") or label == "ETH.transfer"


def _configured_epsilon(privacy: Any) -> float | None:
    if privacy is None:
        return None
    value = privacy.to_dict().get("params", {}).get("epsilon")
    return float(value) if value is not None else None


def _sender_and_round(chain: Chain, deployment: Deployment, tx_hash: str) -> dict[str, Any]:
    """``{"sender", "round"}`` of a mined transaction: its ``from``, and the ``round`` argument of
    the TaskManager call it makes (None for calls without one, and for other contracts)."""
    tx = chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    round_: int | None = None
    to = tx.get("to")
    if to and str(to).lower() == deployment.tasks.address.lower() and tx.get("input"):
        contract = chain.w3.eth.contract(abi=deployment.tasks.abi)
        try:
            _, args = contract.decode_function_input(tx["input"])
        except ValueError:  # a selector the ABI does not know
            args = {}
        if "round" in args:
            round_ = int(args["round"])
    return {"sender": str(tx["from"]), "round": round_}


def _round_of(block: int, opened: Mapping[int, int], finals: Mapping[int, Any]) -> int | None:
    for r, start in opened.items():
        end = finals[r].block_number if r in finals else None
        if block > start and (end is None or block <= end):
            return r
    return None


def demo_config(**overrides: Any) -> SimConfig:
    """The ``make demo`` configuration: digits, 10 clients (client 8 flips signs, client 9
    free-rides), 3 miners, 5 rounds, Multi-KRUM with f = 2, reputation rewards, feature DP."""
    base = SimConfig(attacks={8: {"name": "sign_flip", "params": {"scale": 4.0}}, 9: "free_rider"})
    return replace(base, **overrides)
