"""Roles are restartable: every participant "killed" mid-round and started afresh (new objects,
nothing carried over in memory) carries on from what the chain and the store say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

from fedchain.chain import connect
from fedchain.chain.connection import Chain
from fedchain.chain.deploy import Deployment, deploy_fedchain
from fedchain.learning import load_dataset, partition
from fedchain.roles import (
    Activity,
    Client,
    LocalData,
    Miner,
    Participant,
    Requester,
    TaskLog,
    TaskRole,
    TaskStatus,
    publish_task,
    read_task,
)
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import advance_to_next_deadline
from fedchain.storage import LocalStore

N_CLIENTS, N_MINERS = 3, 2


def _drive(chain: Chain, d: Deployment, task_id: int, roles: list[TaskRole],
           until: Callable[[], bool] = lambda: False) -> None:  # fmt: skip
    """Step every role in turn until ``until()`` holds or every role is done."""
    done: set[int] = set()
    for _ in range(400):
        acted = False
        for k, role in enumerate(roles):
            activity = role.step()
            acted |= activity is Activity.ACTED
            if activity is Activity.DONE:
                done.add(k)
            if until():
                return
        if len(done) == len(roles):
            return
        if not acted:
            advance_to_next_deadline(chain, d.tasks, task_id)
    raise AssertionError("the task did not get there")


def test_every_role_restarted_mid_round_carries_on(tmp_path: Path) -> None:
    task = TaskFile.from_dict({
        "task": {"max_clients": N_CLIENTS, "rounds": 2, "byzantine_f": 0, "committee_size": 2},
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": 2 * 10**15},
        "training": {"epochs": 1},
    })  # fmt: skip
    ds = load_dataset("digits")
    parts = partition(ds.y_train, N_CLIENTS, scheme="iid", seed=0)
    data = [LocalData(ds.x_train[p], ds.y_train[p]) for p in parts]
    keys = [Account.from_key(keccak(text=f"restart/{i}")) for i in range(1 + N_CLIENTS + N_MINERS)]
    with connect("embedded", accounts=2, seed=7) as chain:
        d = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        store = LocalStore(tmp_path / "store")
        for k in keys:
            chain.fund(k.address, 10**18)

        def who(i: int) -> Participant:
            return Participant(chain=chain, deployment=d, store=store, account=keys[i])

        task_id = publish_task(who(0), task)

        def fresh_processes() -> list[TaskRole]:
            return [
                Requester(who(0), task_id),
                *(Client(who(1 + i), task_id, data[i], seed=i) for i in range(N_CLIENTS)),
                *(Miner(who(1 + N_CLIENTS + j), task_id) for j in range(N_MINERS)),
            ]

        log = TaskLog(d.tasks, task_id)

        def mid_round_1() -> bool:  # round 0 final, some but not all round-1 updates in
            log.refresh()
            return 0 < len(log.submissions(1)) < N_CLIENTS

        _drive(chain, d, task_id, fresh_processes(), mid_round_1)
        assert read_task(d.tasks, task_id).round == 1
        _drive(chain, d, task_id, fresh_processes())  # everyone restarts with an empty memory
        state = read_task(d.tasks, task_id)
        assert state.status is TaskStatus.FINISHED and state.unsettled == 0 and state.pot == 0
        log.refresh()
        for r in (0, 1):
            submitted = log.events("UpdateSubmitted", round=r)
            assert len(submitted) == N_CLIENTS  # nobody submitted twice after the restart
            assert log.last("RoundFinalized", round=r) is not None
        assert len(log.events("VerdictPosted")) == 2 and not log.events("LeaderReplaced")
        assert all(int(d.tasks.balanceOf(k.address)) == 0 for k in keys)  # all withdrawn
