"""The node goes away: every call says so as ChainConnectionError, and a role's run loop waits
for the node (one line when it goes, one when it is back) and carries on where it was."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.chain import DEFAULT_MNEMONIC, AnvilNode, connect
from fedchain.chain.deploy import deploy_fedchain
from fedchain.chain.errors import ChainConnectionError, NodeUnreachableError, NodeWaitTimeoutError
from fedchain.roles.base import Activity, Participant, TaskRole
from fedchain.storage import open_store

pytestmark = pytest.mark.anvil


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Depositor(TaskRole):
    """A role that deposits 1 wei per step until its TaskManager balance is ``target`` wei:
    each step reads the chain first, so a step repeated after an outage sends nothing twice."""

    target = 3

    def step(self) -> Activity:
        balance = int(self.who.tasks.balanceOf(self.who.address))
        if balance >= self.target:
            return Activity.DONE
        self.send("deposit", value=1)
        return Activity.WAITING


@pytest.fixture
def node(anvil_available: None, tmp_path: Path) -> Iterator[AnvilNode]:
    anvil = AnvilNode(
        accounts=2, port=_free_port(), state_path=tmp_path / "state.json", state_interval=1
    )
    with anvil:
        yield anvil


def _participant(node: AnvilNode, tmp_path: Path, lines: list[str]) -> Participant:
    chain = connect(node.url, mnemonic=DEFAULT_MNEMONIC, accounts=2)
    deployer, account = chain.dev_accounts(2)
    deployment = deploy_fedchain(chain, deployer=deployer)
    store = open_store(f"local:{tmp_path / 'store'}")
    return Participant(chain, deployment, store, account, name="p", log=lines.append)


def test_every_call_with_the_node_gone_raises_chain_connection_error(
    node: AnvilNode, tmp_path: Path
) -> None:
    who = _participant(node, tmp_path, [])
    node.stop()
    calls = {
        "block_number": who.chain.block_number,
        "view": lambda: who.tasks.balanceOf(who.address),
        "logs": lambda: who.chain.get_logs(address=who.tasks.address),
        "send": lambda: who.tasks.deposit(sender=who.account, value=1),
        "balance": lambda: who.chain.balance(who.address),
    }
    for name, call in calls.items():
        with pytest.raises(ChainConnectionError) as info:
            call()
        assert isinstance(info.value, NodeUnreachableError), name
        assert f"node unreachable (http://127.0.0.1:{who.chain.url.rsplit(':', 1)[1]})" in str(
            info.value
        ), name
        assert info.value.__cause__ is None, name  # no provider traceback under it


def test_the_run_loop_waits_for_the_node_and_carries_on(node: AnvilNode, tmp_path: Path) -> None:
    lines: list[str] = []
    who = _participant(node, tmp_path, lines)
    role = Depositor(who, task_id=1)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            role.run(poll=0.3, node_timeout=60)
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while int(who.tasks.balanceOf(who.address)) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    port = node.port
    node.stop()  # SIGTERM: Anvil writes its state file
    time.sleep(2.5)
    restarted = AnvilNode(accounts=2, port=port, state_path=node.state_path, state_interval=1)
    with restarted:
        thread.join(timeout=60)
        assert not thread.is_alive(), lines
        assert not failure, failure
        assert int(who.tasks.balanceOf(who.address)) == Depositor.target
    gone = [line for line in lines if "node unreachable" in line]
    back = [line for line in lines if "node reachable again" in line]
    assert len(gone) == 1 and len(back) == 1, lines
    assert gone[0].startswith(f"p: node unreachable (http://127.0.0.1:{port}); retrying for up")
    assert "Ctrl-C to stop" in gone[0]


def test_the_run_loop_gives_up_after_node_timeout(node: AnvilNode, tmp_path: Path) -> None:
    lines: list[str] = []
    role = Depositor(_participant(node, tmp_path, lines), task_id=1)
    node.stop()
    started = time.monotonic()
    with pytest.raises(NodeWaitTimeoutError, match="gave up"):
        role.run(poll=0.1, node_timeout=1.5)
    assert 1.4 < time.monotonic() - started < 10
    assert len([line for line in lines if "node unreachable" in line]) == 1, lines


def test_a_transaction_sent_as_the_node_went_away_is_waited_for_not_sent_again(
    anvil_available: None, tmp_path: Path
) -> None:
    """The node takes a deposit, then the connection drops before the reply: the role must not
    step (and deposit again) until it knows what became of that transaction."""
    with AnvilNode(accounts=2, block_time=2) as slow:  # a deposit waits up to 2 s in the pool
        lines: list[str] = []
        who = _participant(slow, tmp_path, lines)
        role = Depositor(who, task_id=1)
        role.target = 1
        eth = who.chain.w3.eth
        real_send = eth.send_raw_transaction
        dropped: list[bytes] = []

        def send_then_drop(raw: bytes) -> object:
            result = real_send(raw)
            if not dropped:
                dropped.append(raw)
                raise NodeUnreachableError(f"node unreachable ({slow.url}): reply lost")
            return result

        eth.send_raw_transaction = send_then_drop  # type: ignore[method-assign]
        role.run(poll=0.2, node_timeout=30)
        assert dropped, "the test must have dropped a reply"
        time.sleep(2.5)  # past the next block: a second deposit would have been mined by now
        assert int(who.tasks.balanceOf(who.address)) == 1, lines
        assert any("node reachable again" in line for line in lines), lines
