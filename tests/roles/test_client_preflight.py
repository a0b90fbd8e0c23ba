"""The client's checks before it commits (data against the model, training time against the
window), its in-round skip, and its per-round verdict lines: real roles on the embedded chain,
a local store, real digits data, and a clock the test controls for the timing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account
from eth_utils import keccak

from fedchain.chain import connect
from fedchain.chain.connection import Chain
from fedchain.chain.deploy import Deployment, deploy_fedchain
from fedchain.learning import DataMismatchError, behaviour_from_dict, load_dataset, partition
from fedchain.roles import (
    Activity,
    Client,
    LocalData,
    Miner,
    Participant,
    Requester,
    TaskRole,
    TaskStatus,
    publish_task,
    read_task,
)
from fedchain.roles.client import RoundVerdict, WindowTooShortError
from fedchain.roles.judging import NOT_SELECTED
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import advance_to_next_deadline
from fedchain.storage import LocalStore

MORTGAGE = 2 * 10**15
LOUD_FLIP = {"name": "sign_flip", "params": {"scale": 4.0}}
WINDOW = 60  # the submission window, seconds of chain time


class Ticks:
    """A clock that moves ``step`` seconds each time it is read (a slow or fast machine)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class World:
    """A deployment with one published task and funded keys."""

    def __init__(self, chain: Chain, store_dir: Path, *, max_clients: int, rule: str = "none",
                 f: int = 0) -> None:  # fmt: skip
        self.chain = chain
        self.d: Deployment = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        self.store = LocalStore(store_dir)
        self.keys = [Account.from_key(keccak(text=f"client-preflight/{i}")) for i in range(6)]
        for k in self.keys:
            chain.fund(k.address, 10**18)
        task = TaskFile.from_dict({
            "task": {"max_clients": max_clients, "rounds": 1, "byzantine_f": f,
                     "committee_size": 1, "submit_window": WINDOW},
            "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": MORTGAGE},
            "training": {"epochs": 2},
            "verification": {"rule": rule},
        })  # fmt: skip
        self.task_id = publish_task(self.who(0), task)

    def who(self, i: int, lines: list[str] | None = None) -> Participant:
        return Participant(chain=self.chain, deployment=self.d, store=self.store,
                           account=self.keys[i], log=(lines.append if lines is not None
                                                      else lambda _: None))  # fmt: skip

    def untouched(self, i: int) -> bool:
        """Key ``i`` sent nothing: unregistered, no member, its whole balance left."""
        address = self.keys[i].address
        return (
            int(self.d.registry.accountOf(address).roles) == 0
            and int(self.d.tasks.memberOf(self.task_id, address).role) == 0
            and self.chain.balance(address) == 10**18
        )


def _digits(n: int) -> list[LocalData]:
    ds = load_dataset("digits")
    parts = partition(ds.y_train, n, scheme="iid", seed=0)
    return [
        LocalData(ds.x_train[p], ds.y_train[p], name=f"digits-{i}") for i, p in enumerate(parts)
    ]


def _drive(world: World, roles: list[TaskRole], until: Callable[[], bool]) -> None:
    for _ in range(300):
        acted = False
        for role in roles:
            acted |= role.step() is Activity.ACTED
            if until():
                return
        if not acted:
            advance_to_next_deadline(world.chain, world.d.tasks, world.task_id)
    raise AssertionError("the task did not get there")


def test_data_that_does_not_fit_the_model_is_refused_before_any_transaction(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    mnist_like = LocalData(rng.random((64, 1, 28, 28), dtype=np.float32),
                           rng.integers(0, 10, 64), name="mnist-like")  # fmt: skip
    digits = _digits(4)[0]
    wrong_labels = LocalData(digits.x, np.where(digits.y == 9, 12, digits.y), name="12-classes")
    with connect("embedded", accounts=2, seed=3) as chain:
        world = World(chain, tmp_path / "store", max_clients=2)
        for i, data in ((1, mnist_like), (2, wrong_labels)):
            client = Client(world.who(i), world.task_id, data)
            with pytest.raises(DataMismatchError) as info:
                client.step()
            assert world.untouched(i)  # nothing registered, nothing locked
        assert "1×28×28" in str(info.value) or "classes" in str(info.value)
        assert read_task(world.d.tasks, world.task_id).client_count == 0


def test_a_machine_too_slow_for_the_window_does_not_join(tmp_path: Path) -> None:
    data = _digits(4)
    with connect("embedded", accounts=2, seed=4) as chain:
        world = World(chain, tmp_path / "store", max_clients=2)
        # Each read of the clock moves 5 s: the timed slice (128 of ~360 samples, one epoch)
        # "takes" 5 s, so two epochs take about 28 s: fits the 60 s window.
        lines: list[str] = []
        fast = Client(world.who(1, lines), world.task_id, data[0], clock=Ticks(5.0))
        assert fast.step() is Activity.ACTED
        assert fast.member_role() == 1 and fast.index == 0
        assert any("local training takes about 28" in line and f"{WINDOW} s" in line
                   for line in lines), lines  # fmt: skip
        assert any("joined task" in line and "as client 0" in line and "0.002 ETH" in line
                   for line in lines), lines  # fmt: skip
        # 20 s per slice: about 113 s of training against a 60 s window: refused, no mortgage.
        slow = Client(world.who(2), world.task_id, data[1], clock=Ticks(20.0))
        with pytest.raises(WindowTooShortError, match=r"about 11\d s .* 60 s submission window"):
            slow.step()
        assert world.untouched(2)
        assert read_task(world.d.tasks, world.task_id).client_count == 1


def test_a_client_short_of_time_skips_the_round_loudly_and_reports_verdicts(
    tmp_path: Path,
) -> None:
    data = _digits(2)
    with connect("embedded", accounts=2, seed=5) as chain:
        world = World(chain, tmp_path / "store", max_clients=2)
        fast_lines: list[str] = []
        slow_lines: list[str] = []
        fast = Client(world.who(1, fast_lines), world.task_id, data[0], clock=Ticks(0.01))
        slow = Client(world.who(2, slow_lines), world.task_id, data[1], clock=Ticks(20.0),
                      join_anyway=True)  # fmt: skip
        roles: list[TaskRole] = [Requester(world.who(0), world.task_id), fast, slow,
                                 Miner(world.who(3), world.task_id)]  # fmt: skip

        def finished() -> bool:
            return read_task(world.d.tasks, world.task_id).status is TaskStatus.FINISHED

        _drive(world, roles, finished)
        for role in (fast, slow):  # the clients see the end, report the verdict and claim
            while role.step() is not Activity.DONE:
                pass
        assert any("WARNING" in line and "joining anyway" in line for line in slow_lines)
        skipped = [line for line in slow_lines if "round 0: SKIPPED" in line]
        assert len(skipped) == 1 and "remain before the submit deadline" in skipped[0]
        submissions = fast.log.submissions(0)
        assert list(submissions) == [fast.who.address.lower()]  # the slow client never trained
        assert 0 in fast.rounds and 0 not in slow.rounds
        assert fast.verdicts[0] == RoundVerdict(0, True, True, True, None)
        assert "round 0: update accepted and aggregated" in fast_lines
        assert slow.verdicts[0] == RoundVerdict(0, False, False, None, None)
        assert any("round 0: no update from this client" in line for line in slow_lines)


def test_a_rejected_client_is_told_why(tmp_path: Path) -> None:
    """Multi-KRUM's outlier rule rejects a loud sign-flipper; the leader's reason reaches the
    client through the round's global model blob, and honest clients hear they were accepted."""
    data = _digits(4)
    with connect("embedded", accounts=2, seed=6) as chain:
        world = World(chain, tmp_path / "store", max_clients=4, rule="multikrum", f=1)
        lines: list[list[str]] = [[] for _ in range(4)]
        clients = [
            Client(world.who(1 + i, lines[i]), world.task_id, data[i], seed=i,
                   behaviour=behaviour_from_dict(LOUD_FLIP) if i == 3 else None)
            for i in range(4)
        ]  # fmt: skip
        roles: list[TaskRole] = [Requester(world.who(0), world.task_id), *clients,
                                 Miner(world.who(5), world.task_id)]  # fmt: skip

        def verdicts_heard() -> bool:
            return all(0 in c.verdicts for c in clients)

        _drive(world, roles, verdicts_heard)
        attacker = clients[3].verdicts[0]
        assert attacker.submitted and not attacker.accepted
        assert attacker.reason is not None and attacker.reason.startswith("outlier")
        said = [line for line in lines[3] if line.startswith("round 0: update rejected")]
        assert said == [f"round 0: update rejected: {attacker.reason}"]
        for i in range(3):
            mine = clients[i].verdicts[0]
            assert mine.accepted and mine.aggregated is not None
            assert any(line.startswith("round 0: update accepted") for line in lines[i])


def test_verdict_lines() -> None:
    aggregated = RoundVerdict(0, True, True, True, None)
    assert aggregated.describe() == "update accepted and aggregated"
    kept_out = RoundVerdict(0, True, True, False, NOT_SELECTED)
    assert kept_out.describe() == (
        "update accepted, not aggregated: not selected by Multi-KRUM (kept out of the aggregate; "
        "no penalty)"
    )
    outlier = RoundVerdict(0, True, False, None, "rejected: outlier (score 9.1x the median)")
    assert outlier.describe() == "update rejected: outlier (score 9.1x the median)"
    silent = RoundVerdict(0, True, False, None, None)
    assert silent.describe() == "update rejected (the leader published no reason)"
    assert RoundVerdict(0, True, True, None, None).describe() == "update accepted"
    assert RoundVerdict(1, False, False, None, None).describe().startswith("no update")


def test_a_client_whose_join_the_chain_lost_joins_again(tmp_path: Path) -> None:
    """A node restarted from a state saved before the join: the client notices (its log's
    epoch moved, or its membership is gone), forgets the join and joins again instead of
    training as a non-member."""
    data = _digits(4)
    with connect("embedded", accounts=2, seed=6) as chain:
        world = World(chain, tmp_path / "store", max_clients=2)
        for index, seen_by_the_log in enumerate((True, False)):
            lines: list[str] = []
            client = Client(world.who(1 + index, lines), world.task_id, data[index])
            saved = chain.snapshot()
            while client.member_role() != 1:
                assert client.step() is Activity.ACTED
            if seen_by_the_log:
                assert client.step() is Activity.WAITING  # its log reads the join's block
                assert len(client.log.clients()) == 1
            epoch = client.log.epoch
            chain.revert(saved)  # the registration and the join are gone
            assert client.member_role() == 0
            for _ in range(5):
                if client.step() is not Activity.ACTED:
                    break
            assert client.member_role() == 1 and client.index == index
            assert read_task(world.d.tasks, world.task_id).client_count == index + 1
            assert client.log.epoch == epoch + (1 if seen_by_the_log else 0)
            rolled = any("the chain rolled back" in line for line in lines)
            assert rolled is seen_by_the_log, lines
            assert sum("joined task" in line for line in lines) == 2, lines
