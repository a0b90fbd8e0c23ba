"""``publish_task`` waits for the requester's pending transactions before its duplicate check: an
earlier ``createTask`` still in the node's pool has no ``TaskCreated`` event yet, and publishing
again would lock a second escrow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from fedchain.chain import AnvilNode, connect, find_anvil_binary
from fedchain.chain.anvil import DEFAULT_MNEMONIC
from fedchain.chain.connection import Chain
from fedchain.chain.deploy import deploy_fedchain
from fedchain.chain.errors import AnvilError
from fedchain.roles import Participant, publish_task
from fedchain.roles import requester as requester_module
from fedchain.roles.requester import DuplicateTaskError, PendingTransactionsError
from fedchain.roles.taskfile import TaskFile
from fedchain.storage import LocalStore

pytestmark = pytest.mark.anvil


def _leave_pending(chain: Chain, account: LocalAccount) -> None:
    """Sign and send 1 wei to itself without waiting: it sits in the pool until the next block."""
    eth: Any = chain.w3.eth
    base = int(eth.get_block("latest")["baseFeePerGas"])
    tx = {
        "to": account.address, "value": 1, "gas": 21_000, "chainId": chain.chain_id,
        "nonce": eth.get_transaction_count(account.address, "pending"),
        "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9,
    }  # fmt: skip
    eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    chain.transactor.reset_nonces()


def test_pending_transactions_are_waited_for_before_the_duplicate_check(tmp_path: Path) -> None:
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    task = TaskFile.from_dict({"task": {"max_clients": 4, "rounds": 1, "byzantine_f": 0}})
    with (
        AnvilNode(accounts=1, block_time=3) as node,
        connect(node.url, mnemonic=DEFAULT_MNEMONIC, accounts=1) as chain,
    ):
        requester = chain.dev_accounts(1)[0]
        d = deploy_fedchain(chain, deployer=requester)
        who = Participant(chain, d, LocalStore(tmp_path / "store"), requester)
        assert publish_task(who, task) == 1
        _leave_pending(chain, requester)
        with pytest.raises(DuplicateTaskError) as info:  # waited for the block, then saw task 1
            publish_task(who, task)
        assert info.value.task_id == 1
        _leave_pending(chain, requester)
        with pytest.raises(PendingTransactionsError, match="still pending"):
            requester_module._wait_for_pending(who, timeout=0.0)
        assert int(d.tasks.taskCount()) == 1
