"""Faults a deployment meets, injected into a task whose participants are separate OS processes.

A real Anvil node that saves its state every second; one requester, four honest clients and
three miners (``fedchain`` commands, as users run them). During round 0 a client and a miner get
Ctrl-C and are started again (exit 130, then they carry on from the chain); as round 1 opens the
node itself is stopped and, a few seconds later, started again from its saved state on the same
port. Every process must ride it out and exit 0, and no honest participant may lose money: the
balances on chain after the run equal what the events say each one is owed, every client gets
back at least its mortgage plus its rewards, and no wei is created or lost.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from fedchain.chain import AnvilNode, connect, find_anvil_binary
from fedchain.chain.anvil import DEFAULT_MNEMONIC
from fedchain.chain.connection import derive_accounts
from fedchain.chain.deploy import Deployment
from fedchain.chain.errors import AnvilError
from fedchain.roles import TaskLog, TaskStatus, read_task, task_outcome

from .harness import Participant, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]

ROUNDS, CLIENTS, MINERS = 3, 4, 3
MORTGAGE = 3 * 10**15
STAKE = 10**16
TASK_TOML = f"""
[task]
name = "faults"
rounds = {ROUNDS}
max_clients = {CLIENTS}
committee_size = {MINERS}
byzantine_f = 1
join_window = 100
submit_window = 30
verdict_window = 20

[rewards]
policy = "reputation"
reward_unit = "0.0001 ether"
client_mortgage = {MORTGAGE}
min_miner_stake = {STAKE}

[training]
epochs = 1
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node(port: int, state: Path) -> AnvilNode:
    return AnvilNode(
        accounts=1 + CLIENTS + MINERS, block_time=1, port=port, state_path=state, state_interval=1
    )


def test_interrupts_and_a_node_restart_lose_nothing(tmp_path: Path) -> None:
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    port, state_file = _free_port(), tmp_path / "anvil-state.json"
    keys = [a.key.hex() for a in derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS + MINERS)]
    addresses = [a.address for a in derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS + MINERS)]
    logs = tmp_path / "logs"
    logs.mkdir()
    deployment_file = tmp_path / "deployment.json"
    node = _node(port, state_file).start()
    everyone: list[Participant] = []
    try:
        argv = [
            "deploy",
            "--rpc-url",
            node.url,
            "--limits",
            "devnet",
            "--out",
            str(deployment_file),
        ]
        deploy = Participant("deploy", argv, keys[0], logs).start()
        assert deploy.proc is not None and deploy.proc.wait(120) == 0, deploy.output()
        (tmp_path / "task.toml").write_text(TASK_TOML)
        common = ["--deployment", str(deployment_file), "--store",
                  f"local:{tmp_path / 'store'}", "--poll", "0.5", "--json"]  # fmt: skip
        requester = Participant(
            "requester",
            ["task", "create", str(tmp_path / "task.toml"), "--follow", "--settle-after", "5",
             *common],
            keys[0], logs,
        ).start()  # fmt: skip
        with connect(node.url) as chain:
            d = Deployment.from_json(chain, json.loads(deployment_file.read_text()))
            wait_for("the task", lambda: int(d.tasks.taskCount()) == 1, 120, [requester])
        task = ["--task", "1"]
        miners = [
            Participant(f"miner{j}", ["miner", "run", *task, *common], keys[1 + CLIENTS + j], logs)
            for j in range(MINERS)
        ]
        clients = [
            Participant(f"client{i}", ["client", "run", *task, *common, "--dataset", "digits",
                                       "--shard", f"{i}/{CLIENTS}"], keys[1 + i], logs)
            for i in range(CLIENTS)
        ]  # fmt: skip
        everyone = [requester, *miners, *clients]
        for p in [*miners, *clients]:
            p.start()
        _interrupt_and_restart(node.url, d_json=deployment_file, crowd=everyone,
                               picked=[clients[0], miners[0]])  # fmt: skip
        node = _restart_node(node, port, state_file, deployment_file, everyone)
        wait_for("everyone to finish", lambda: all(p.proc is not None and p.proc.poll()
                                                   is not None for p in everyone), 480,
                 everyone)  # fmt: skip
        for p in everyone:
            assert p.proc is not None and p.proc.returncode == 0, f"{p.name}:\n{p.output()[-3000:]}"
        rode_out = [p for p in everyone if "node unreachable" in p.output()]
        assert rode_out, "someone must have met the node going away"
        for p in rode_out:
            assert "Traceback" not in p.output()
            assert "node reachable again" in p.output(), p.output()[-2000:]
        with connect(node.url) as chain:
            d = Deployment.from_json(chain, json.loads(deployment_file.read_text()))
            _check_nobody_lost(d, addresses[1 : 1 + CLIENTS], addresses[1 + CLIENTS :])
    finally:
        for p in everyone:
            p.kill()
        node.stop()


def _interrupt_and_restart(
    url: str, *, d_json: Path, crowd: list[Participant], picked: list[Participant]
) -> None:
    """Ctrl-C the picked processes while round 0 runs, then start them again."""
    with connect(url) as chain:
        d = Deployment.from_json(chain, json.loads(d_json.read_text()))
        running = lambda: read_task(d.tasks, 1).status is TaskStatus.RUNNING  # noqa: E731
        wait_for("the task to start", running, 240, crowd)
    time.sleep(2)  # mid-round: clients are training
    for p in picked:
        code = p.interrupt()
        assert code == 130, f"{p.name} exited {code} on Ctrl-C:\n{p.output()[-2000:]}"
        out = p.output()
        assert "interrupted" in out and "run the same command again" in out, out[-1500:]
        assert "Traceback" not in out
        p.start()


def _restart_node(
    node: AnvilNode, port: int, state: Path, d_json: Path, crowd: list[Participant]
) -> AnvilNode:
    """Stop the node as round 1 opens; start it again from its saved state, same port."""
    with connect(node.url) as chain:
        d = Deployment.from_json(chain, json.loads(d_json.read_text()))
        wait_for("round 1", lambda: read_task(d.tasks, 1).round >= 1, 300, crowd)
    node.stop()  # SIGTERM: Anvil writes its state file
    time.sleep(4)
    return _node(port, state).start()


def _check_nobody_lost(d: Deployment, clients: list[str], miners: list[str]) -> None:
    tasks = d.tasks
    state = read_task(tasks, 1)
    assert state.status is TaskStatus.FINISHED and state.unsettled == 0 and state.pot == 0
    log = TaskLog(tasks, 1)
    log.refresh()
    outcome = task_outcome(log, state, threshold=5, gamma_max=100)
    assert sorted(outcome.clients) == sorted(clients)
    assert len(outcome.rounds) == ROUNDS
    for row in outcome.rounds:  # honest clients: accepted every round, whatever Multi-KRUM cut
        assert sorted(row.accepted) == sorted(clients) and row.rejected == [] and not row.missing
    for c in clients:
        pay = outcome.payouts[c]
        assert pay["penalty"] == 0 and pay["reward"] > 0
        assert pay["payout"] >= MORTGAGE + pay["reward"]
        assert int(tasks.balanceOf(c)) == 0  # withdrawn by its own process
    for m in miners:
        pay = outcome.payouts[m]
        assert pay["payout"] + pay["slashed"] == STAKE
    assert outcome.balanced is True
    escrow = outcome.escrow
    assert escrow["paid"] + escrow["refunded"] == escrow["deposited"]
