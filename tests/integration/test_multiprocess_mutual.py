"""Mutual supervision (003) with every participant in its own OS process.

A real Anvil node; ``fedchain deploy`` (which deploys the ScoreBoard too); a requester
(``fedchain task create --follow``) whose task file picks ``rule = "mutual"``; four clients
(``fedchain client run``: two honest, a loud sign-flipper and a dishonest scorer that trains
honestly but inverts every score it posts) and three miners (``fedchain miner run``). Nothing is
shared but the chain and one LocalStore directory. The dishonest scorer is killed after posting
its first row and restarted. Then ``fedchain audit`` re-derives the task as
a stranger would.

The chain must show: a score row from every client in every round, the sign-flipper rejected
as poor and penalised, everyone else accepted and paid, money balanced; the audit holds and
flags the dishonest scorer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.chain import AnvilNode, connect, find_anvil_binary
from fedchain.chain.anvil import DEFAULT_MNEMONIC
from fedchain.chain.connection import derive_accounts
from fedchain.chain.deploy import Deployment
from fedchain.chain.errors import AnvilError
from fedchain.roles import TaskLog, TaskStatus, read_task, task_outcome

from .harness import cast_task, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]

ROUNDS, CLIENTS, MINERS = 2, 4, 3
MORTGAGE = 4 * 10**15
SIGN_FLIPPER, SCORER = 3, 2
TASK_TOML = f"""
[task]
name = "mutual"
rounds = {ROUNDS}
max_clients = {CLIENTS}
committee_size = {MINERS}
byzantine_f = 1
join_window = 120
submit_window = 20
verdict_window = 40

[rewards]
policy = "reputation"
reward_unit = "0.0001 ether"
client_mortgage = {MORTGAGE}
min_miner_stake = "0.01 ether"

[training]
epochs = 1

[verification]
rule = "mutual"
"""


@pytest.fixture
def node() -> Iterator[AnvilNode]:
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    with AnvilNode(accounts=1 + CLIENTS + MINERS, block_time=1) as anvil:
        yield anvil


def test_mutual_supervision_with_separate_processes(node: AnvilNode, tmp_path: Path) -> None:
    keys = [a.key.hex() for a in derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS + MINERS)]
    attacks = {SIGN_FLIPPER: ["--attack", "sign_flip:scale=4"],
               SCORER: ["--attack", "dishonest_scores"]}  # fmt: skip
    cast = cast_task(node.url, tmp_path, keys, TASK_TOML, clients=CLIENTS, miners=MINERS,
                     attacks=attacks)  # fmt: skip
    deployment_file, store, everyone = cast.deployment_file, cast.store, cast.everyone
    assert "score_board" in json.loads(deployment_file.read_text())
    with connect(node.url) as chain:
        d = Deployment.from_json(chain, json.loads(deployment_file.read_text()))
        try:
            for p in [*cast.miners, *cast.clients]:
                p.start()
            # The dishonest scorer is killed once its round-0 row is on chain and started again:
            # it reads its row back from the chain and posts no second one.
            log = TaskLog(d.tasks, 1, addresses=d.log_addresses())
            restarted = derive_accounts(DEFAULT_MNEMONIC, 2 + SCORER)[1 + SCORER].address

            def scored() -> bool:
                log.refresh()
                return bool(log.events("ScoresPosted", round=0, validator=restarted))

            wait_for("the scorer's round-0 row", scored, 300, everyone)
            cast.clients[SCORER].kill()
            cast.clients[SCORER].start()
            wait_for("everyone to finish", lambda: all(
                p.proc is not None and p.proc.poll() is not None for p in everyone), 480, everyone
            )  # fmt: skip
        finally:
            for p in everyone:
                p.kill()
        for p in everyone:
            assert p.proc is not None and p.proc.returncode == 0, f"{p.name}:\n{p.output()[-3000:]}"
        audit = subprocess.run(
            [sys.executable, "-m", "fedchain.cli", "audit", "1", "--rpc-url", node.url,
             "--deployment", str(deployment_file), "--store", store, "--json"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        state = read_task(d.tasks, 1)
        assert state.status is TaskStatus.FINISHED and state.unsettled == 0
        log = TaskLog(d.tasks, 1, addresses=d.log_addresses())
        log.refresh()
        addr = [a.address for a in derive_accounts(DEFAULT_MNEMONIC, 1 + CLIENTS)[1:]]
        for r in range(ROUNDS):
            validators = [str(e.args["validator"]) for e in log.events("ScoresPosted", round=r)]
            assert len(validators) == len(set(validators))  # one row each, the restart included
            # Every client posts in round 0; in round 1 the restarted one may, on a loaded
            # machine, come back after the scoring window (its row is then simply missing).
            honest = [a for i, a in enumerate(addr) if i != SCORER]
            assert set(validators) >= set(addr if r == 0 else honest), (r, validators)
        outcome = task_outcome(log, state, threshold=5, gamma_max=100)
        for row in outcome.rounds:
            assert row.rejected == [addr[SIGN_FLIPPER]]
        pay = outcome.payouts
        assert pay[addr[SIGN_FLIPPER]]["penalty"] == MORTGAGE
        for i in (0, 1):
            assert pay[addr[i]]["reward"] > 0 and pay[addr[i]]["penalty"] == 0
        assert pay[addr[SCORER]]["reward"] > 0  # (a restart on a loaded machine may miss a round)
        assert outcome.balanced is True
    assert audit.returncode == 0, audit.stdout[-3000:] + audit.stderr[-3000:]
    doc = json.loads(audit.stdout.strip().splitlines()[-1])
    assert doc["ok"] is True and doc["checks"]["mutual.timing"]["ok"] == ROUNDS
    flags = [row["flagged_scorers"] for row in doc["rounds"]]
    assert flags[0] == [addr[SCORER]] and all(f in ([], [addr[SCORER]]) for f in flags), flags
