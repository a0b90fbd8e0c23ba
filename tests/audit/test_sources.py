"""What the audit reads from: a recorded chain answers as the live one did, log reads go in
chunks and halve a range the node refuses, and bad sources fail with one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from fedchain.audit import RecordedProvider, SourceError, open_source, record_chain
from fedchain.audit.recording import RecordingError
from fedchain.chain.connection import Chain, connect
from fedchain.chain.deploy import deploy_fedchain
from fedchain.chain.errors import ChainError
from fedchain.roles.chainview import read_logs


def test_a_recording_answers_like_the_live_chain(tmp_path: Path) -> None:
    chain = connect("embedded", seed=1, accounts=3)
    try:
        dep = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        who = chain.dev_accounts(3)[1]
        dep.registry.registerMiner(sender=who)
        path = record_chain(chain.w3, tmp_path / "chain.json", from_block=dep.deployed_block)
        recorded = Chain(Web3(RecordedProvider(path)), kind="recorded")
        assert recorded.chain_id == chain.chain_id
        assert recorded.block_number() == chain.block_number()
        for n in range(dep.deployed_block, chain.block_number() + 1):
            assert recorded.block_hash(n) == chain.block_hash(n)
        for address in (dep.registry.address, [dep.tasks.address, dep.registry.address], None):
            for topics in (None, [None, "0x" + bytes(12).hex() + who.address[2:].lower()]):
                live = chain.get_logs(address=address, topics=topics, from_block=dep.deployed_block)
                again = recorded.get_logs(address=address, topics=topics,
                                          from_block=dep.deployed_block)  # fmt: skip
                assert [dict(x) for x in again] == [dict(x) for x in live]
        tx = chain.w3.eth.get_transaction(again[-1]["transactionHash"]) if again else None
        if tx is not None:
            assert recorded.w3.eth.get_transaction(tx["hash"])["from"] == tx["from"]
        with pytest.raises(Exception, match="state reads need a live node"):
            recorded.balance(who.address)
    finally:
        chain.close()


def test_a_file_that_is_not_a_recording_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "chain.json"
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(RecordingError, match="not a fedchain-chain-recording"):
        RecordedProvider(bad)
    with pytest.raises(RecordingError, match="does not exist"):
        RecordedProvider(tmp_path / "missing.json")


class _CappedNode:
    """A node that refuses log ranges over ``cap`` blocks, as public nodes do."""

    def __init__(self, cap: int) -> None:
        self.cap, self.asked = cap, []

    def get_logs(self, *, address: Any, topics: Any, from_block: int, to_block: int) -> list:
        self.asked.append((from_block, to_block))
        if to_block - from_block + 1 > self.cap:
            raise ChainError("query returned more than 10000 results / block range too large")
        return [{"blockNumber": b} for b in range(from_block, to_block + 1) if b % 100 == 0]


def test_log_reads_go_in_chunks_and_halve_a_refused_range() -> None:
    node = _CappedNode(cap=1_000)
    logs = read_logs(node, address="0x" + "00" * 20, topics=None, from_block=0,  # type: ignore[arg-type]
                     to_block=9_999, chunk=4_000)  # fmt: skip
    assert [x["blockNumber"] for x in logs] == list(range(0, 10_000, 100))
    assert all(b - a + 1 <= 4_000 for a, b in node.asked)
    assert max(b - a + 1 for a, b in node.asked if b - a + 1 <= node.cap) == 1_000


def test_bad_sources_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="name what to audit"):
        open_source()
    with pytest.raises(SourceError, match="does not exist"):
        open_source(run_dir=tmp_path / "nowhere")
    (tmp_path / "deployment.json").write_text("{not json")
    with pytest.raises(SourceError, match="is not JSON"):
        open_source(run_dir=tmp_path)
    (tmp_path / "deployment.json").write_text(json.dumps({"format": "x", "chain_id": 1}))
    with pytest.raises(SourceError, match="names no node"):
        open_source(run_dir=tmp_path)
