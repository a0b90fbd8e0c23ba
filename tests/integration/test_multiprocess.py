"""The protocol with every participant in its own OS process, as separate organisations run it.

A real Anvil node; ``fedchain deploy``; one requester (``fedchain task create --follow``), five
clients (``fedchain client run``: three honest, one sign-flipper, one that never submits) and
three miners (``fedchain miner run``), all sharing one LocalStore directory and nothing else.
The task starts when its join window closes (a requester may start early only a full task: every
client seat and all 64 miner seats). During round 0 the test kills the round's leader (SIGKILL: a
leader that never posts) and keeps it down until it has been replaced, and kills and restarts an
honest client that has just submitted. The killed miner is then started again: committee seats
are drawn by stake with replacement, so the dead miner may hold more seats of the round (it may
even lead the next attempt), and a round needs two thirds of its seats; with it down for good a
round could not finalize whenever it holds more than one of the three seats.

The final on-chain state must show: the sign-flipper rejected every round and penalized, the
client that never submitted counted as an exit (M11) and penalized, the honest clients accepted
and rewarded, the dead leader replaced and slashed (and nobody else), every round finalized, the
restarted client's updates counted once, and every wei of escrow, mortgages and stakes accounted
for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.chain import AnvilNode, connect, find_anvil_binary
from fedchain.chain.anvil import DEFAULT_MNEMONIC
from fedchain.chain.connection import Chain, derive_accounts
from fedchain.chain.deploy import Deployment
from fedchain.chain.errors import AnvilError, ContractError
from fedchain.roles import TaskLog, TaskStatus, read_task, task_outcome

from .harness import Participant, cast_task, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]

ROUNDS, CLIENTS, MINERS = 2, 5, 3
MORTGAGE = 4 * 10**15
SIGN_FLIPPER, QUITTER, RESTARTED = 4, 3, 0
TASK_TOML = f"""
[task]
name = "multiprocess"
rounds = {ROUNDS}
max_clients = {CLIENTS}
committee_size = {MINERS}
byzantine_f = 1
join_window = 100
submit_window = 20
verdict_window = 30

[rewards]
policy = "reputation"
reward_unit = "0.0001 ether"
client_mortgage = {MORTGAGE}
min_miner_stake = "0.01 ether"

[training]
epochs = 1
"""


@pytest.fixture
def node() -> Iterator[AnvilNode]:
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    # One block a second: deadlines pass on chain as they do on the wall clock (an automine
    # node only stamps a new time when a transaction arrives).
    with AnvilNode(accounts=1 + CLIENTS + MINERS, block_time=1) as anvil:
        yield anvil


def test_requester_clients_and_miners_as_separate_processes(
    node: AnvilNode, tmp_path: Path
) -> None:
    keys = [a.key.hex() for a in derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS + MINERS)]
    attacks = {SIGN_FLIPPER: ["--attack", "sign_flip:scale=4"],
               QUITTER: ["--attack", "dropout:probability=1"]}  # fmt: skip
    cast = cast_task(node.url, tmp_path, keys, TASK_TOML, clients=CLIENTS, miners=MINERS,
                     attacks=attacks)  # fmt: skip
    requester, miners, clients, everyone = cast.requester, cast.miners, cast.clients, cast.everyone
    with connect(node.url) as chain:
        d = Deployment.from_json(chain, json.loads(cast.deployment_file.read_text()))
        try:
            for p in [*miners, *clients]:
                p.start()
            _play(chain, d, everyone, miners, clients)
        finally:
            for p in everyone:
                p.kill()
        _check_outcome(chain, d, miners, clients, requester)


def _play(
    chain: Chain,
    d: Deployment,
    everyone: list[Participant],
    miners: list[Participant],
    clients: list[Participant],
) -> None:
    tasks = d.tasks
    wait_for("the task to start", lambda: read_task(tasks, 1).status is TaskStatus.RUNNING, 240,
          everyone)  # fmt: skip
    by_address = {
        a.address.lower(): p
        for a, p in zip(derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS + MINERS)[1 + CLIENTS:],
                        miners, strict=True)
    }  # fmt: skip
    seats: list[str] = []

    def drawn() -> bool:  # the view reverts TaskManagerSeedNotReady in the opening block
        try:
            seats[:] = [str(a).lower() for a in tasks.committee(1, 0)]
        except ContractError:
            return False
        return True

    wait_for("round 0's committee", drawn, 60, everyone)
    leader = by_address[seats[0]]
    # The quitter never submits, so the leader cannot post before the submit deadline: kill it
    # now and it never does. It stays down until it has been replaced.
    leader.kill()
    restarted = clients[RESTARTED]
    address = derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS)[1 + RESTARTED].address
    log = TaskLog(tasks, 1)

    def submitted() -> bool:
        log.refresh()
        return address.lower() in log.submissions(0)

    wait_for("client 0's round-0 update", submitted, 120, everyone)
    restarted.kill()
    restarted.start()  # carries on from what the chain says
    live = [p for p in everyone if p is not leader]

    def replaced() -> bool:
        log.refresh()
        return bool(log.events("LeaderReplaced", round=0))

    wait_for("the killed leader's replacement", replaced, 240, live)
    leader.start()  # carries on from the chain: it may hold seats (or the lead) again
    wait_for("everyone to finish", lambda: all(p.proc is not None and p.proc.poll() is not None
                                            for p in everyone), 420, everyone)  # fmt: skip
    for p in everyone:
        assert p.proc is not None and p.proc.returncode == 0, f"{p.name}:\n{p.output()[-3000:]}"


def _check_outcome(
    chain: Chain,
    d: Deployment,
    miners: list[Participant],
    clients: list[Participant],
    requester: Participant,
) -> None:
    tasks = d.tasks
    state = read_task(tasks, 1)
    assert state.status is TaskStatus.FINISHED and state.unsettled == 0 and state.pot == 0
    log = TaskLog(tasks, 1)
    log.refresh()
    outcome = task_outcome(log, state, threshold=5, gamma_max=100)
    # Client process i uses key 1 + i (its on-chain index is its join order, not i).
    addr = [a.address for a in derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS)[1:]]
    assert sorted(outcome.clients) == sorted(addr)
    honest = {c for i, c in enumerate(addr) if i not in (SIGN_FLIPPER, QUITTER)}
    assert len(outcome.rounds) == ROUNDS
    for row in outcome.rounds:
        assert set(row.accepted) == honest
        assert row.rejected == [addr[SIGN_FLIPPER]]
        assert row.missing == [addr[QUITTER]]
    pay = outcome.payouts
    assert pay[addr[SIGN_FLIPPER]]["penalty"] == MORTGAGE  # lazy in 2 of 2 rounds
    assert pay[addr[QUITTER]]["penalty"] == MORTGAGE  # exited in 2 of 2 rounds (M11 p)
    for c in honest:
        assert pay[c]["reward"] > 0 and pay[c]["penalty"] == 0 and pay[c]["penalty_share"] > 0
    # The killed leader was replaced in round 0 and slashed, nobody else; every round finalized.
    replaced = log.events("LeaderReplaced", round=0)
    assert replaced and not replaced[0].args["formerPosted"]
    dead = str(replaced[0].args["formerLeader"])
    assert sorted(int(e.args["round"]) for e in log.events("RoundFinalized")) == list(range(ROUNDS))
    slashes = log.events("StakeSlashed")
    assert slashes and {str(e.args["miner"]) for e in slashes} == {dead}
    assert pay[dead]["slashed"] > 0
    # The restarted client's updates counted once per round.
    for r in range(ROUNDS):
        assert len(log.events("UpdateSubmitted", round=r, client=addr[RESTARTED])) == 1
    assert outcome.balanced is True
    escrow = outcome.escrow
    assert escrow["paid"] + escrow["refunded"] == escrow["deposited"]
    # Every client withdrew what it was owed.
    for p in clients:
        assert int(p.last_json()["withdrawn"]) > 0
    report = requester.last_json()
    assert report["task_id"] == 1 and report["final_accuracy"] > 0.5
    # The killed miner got its stake less the slashes (burned), and withdrew it once restarted.
    assert pay[dead]["payout"] + pay[dead]["slashed"] == 10**16
    assert int(tasks.balanceOf(dead)) == 0
