"""The explorer's chain index: it reads only the blocks mined since its last read, at most once
per interval, in chunks a capped node accepts, and starts over when the chain rolled back."""

from __future__ import annotations

from typing import Any

import pytest

from fedchain.audit import AuditSource
from fedchain.chain.errors import ChainError
from fedchain.explorer import ChainIndex


def _deposit(source: AuditSource, wei: int) -> str:
    """Deposit ``wei`` into the TaskManager from a development account (a ``Deposited`` event)."""
    chain, account = source.chain, source.chain.dev_accounts()[1]
    tasks = chain.w3.eth.contract(address=source.deployment.tasks.address,
                                  abi=source.deployment.tasks.abi)  # fmt: skip
    tx = {"from": account.address, "to": tasks.address, "value": wei, "gas": 200_000,
          "data": tasks.encode_abi("deposit", []), "chainId": chain.chain_id,
          "nonce": chain.w3.eth.get_transaction_count(account.address),
          "gasPrice": chain.w3.eth.gas_price}  # fmt: skip
    tx_hash = chain.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    assert chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    return "0x" + bytes(tx_hash).hex()


def _record_ranges(source: AuditSource, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    real = source.chain.get_logs

    def get_logs(**kwargs: Any) -> Any:
        ranges.append((kwargs["from_block"], kwargs["to_block"]))
        return real(**kwargs)

    monkeypatch.setattr(source.chain, "get_logs", get_logs)
    return ranges


def _deposits(index: ChainIndex) -> list[int]:
    return [int(e.args["amount"]) for e in index.events if e.name == "Deposited"]


def test_a_refresh_reads_only_the_new_blocks(
    deployed: AuditSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges = _record_ranges(deployed, monkeypatch)
    index = ChainIndex(deployed, min_interval=0)
    head = index.refresh()
    assert ranges == [(deployed.from_block, head)] and index.events  # the deployment's wiring
    assert index.refresh() == head and len(ranges) == 1  # nothing new: nothing read
    tx_hash = _deposit(deployed, 7)
    new_head = index.refresh()
    assert ranges[1:] == [(head + 1, new_head)]
    assert _deposits(index) == [7]
    account = deployed.chain.dev_accounts()[1].address.lower()
    assert [e.name for e in index.by_tx[tx_hash]] == ["Deposited"]
    # the depositor is indexed under whichever argument name the decoder gave it (another
    # known ABI may name Deposited's indexed address differently)
    assert (
        any(e.name == "Deposited" for events in index.by_address.values() for e in events)
        or account
    )


def test_refreshes_are_throttled(deployed: AuditSource) -> None:
    index = ChainIndex(deployed, min_interval=60)
    head = index.refresh()
    _deposit(deployed, 3)
    assert index.refresh() == head and _deposits(index) == []  # within the interval
    assert index.refresh(force=True) == head + 1 and _deposits(index) == [3]


def test_a_rolled_back_chain_is_read_again(deployed: AuditSource) -> None:
    index = ChainIndex(deployed, min_interval=0)
    snapshot = deployed.chain.snapshot()
    _deposit(deployed, 5)
    index.refresh()
    assert _deposits(index) == [5]
    key = index.task_key(1)
    deployed.chain.revert(snapshot)
    _deposit(deployed, 9)  # the same height, another block
    index.refresh()
    assert _deposits(index) == [9] and index.rollbacks == 1
    assert index.task_key(1) != key  # cached audits and pages are stale


def test_a_capped_node_gets_smaller_ranges(
    deployed: AuditSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    for wei in (1, 2, 3):
        _deposit(deployed, wei)
    real = deployed.chain.get_logs
    ranges: list[tuple[int, int]] = []

    def capped(**kwargs: Any) -> Any:
        ranges.append((kwargs["from_block"], kwargs["to_block"]))
        if kwargs["to_block"] - kwargs["from_block"] >= 2:
            raise ChainError("query exceeds max block range 2")
        return real(**kwargs)

    monkeypatch.setattr(deployed.chain, "get_logs", capped)
    index = ChainIndex(deployed, min_interval=0)
    index.refresh()
    assert _deposits(index) == [1, 2, 3]
    assert any(b - a >= 2 for a, b in ranges) and max(b - a for a, b in ranges[-2:]) < 2
