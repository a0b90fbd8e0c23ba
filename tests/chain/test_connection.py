"""connect(): embedded, anvil and RPC URLs; accounts and keys; time travel; readable failures."""

from __future__ import annotations

import socket

import pytest
from eth_account import Account

from fedchain.chain import Chain, connect, derive_accounts
from fedchain.chain.anvil import DEFAULT_MNEMONIC
from fedchain.chain.errors import (
    ChainConfigError,
    ChainConnectionError,
    ChainError,
    UnsupportedOperationError,
)
from fedchain.errors import ConfigError, FedChainError


def test_embedded_accounts_have_their_keys(embedded_chain: Chain) -> None:
    accounts = embedded_chain.dev_accounts()
    assert len(accounts) == 10
    assert embedded_chain.kind == "embedded" and embedded_chain.url is None
    for account in accounts:
        assert Account.from_key(account.key).address == account.address
        assert embedded_chain.balance(account.address) == 10**24
    assert [a.address for a in accounts] == list(embedded_chain.w3.eth.accounts)
    assert embedded_chain.block_gas_limit() >= 30_000_000
    with pytest.raises(ChainError, match="11 development accounts requested"):
        embedded_chain.dev_accounts(11)


def test_keys_never_appear_in_reprs(embedded_chain: Chain) -> None:
    account = embedded_chain.dev_accounts(1)[0]
    text = repr(embedded_chain) + str(embedded_chain.gas.records)
    assert account.key.hex().removeprefix("0x") not in text


def test_close_is_idempotent_and_a_context_manager() -> None:
    with connect("embedded", accounts=2) as chain:
        assert len(chain.dev_accounts()) == 2
    assert chain.closed
    chain.close()
    assert chain.closed


def test_fund_and_new_accounts(embedded_chain: Chain) -> None:
    fresh = embedded_chain.new_account(fund_wei=123)
    other = embedded_chain.new_account()
    assert fresh.address != other.address
    assert embedded_chain.balance(fresh.address) == 123
    assert embedded_chain.balance(other.address) == 0
    embedded_chain.fund(other, 45, sender=embedded_chain.dev_accounts(2)[1])
    assert embedded_chain.balance(other.address) == 45


def test_time_travel_mining_and_snapshots(embedded_chain: Chain) -> None:
    start, height = embedded_chain.timestamp(), embedded_chain.block_number()
    assert embedded_chain.increase_time(3600) == start + 3600
    embedded_chain.mine(3)
    assert embedded_chain.block_number() == height + 4
    snap = embedded_chain.snapshot()
    embedded_chain.fund(embedded_chain.new_account().address, 1)
    embedded_chain.revert(snap)
    assert embedded_chain.block_number() == height + 4
    with pytest.raises(ChainError, match="forward"):
        embedded_chain.increase_time(-1)


@pytest.mark.anvil
def test_anvil_accounts_time_travel_and_snapshots(anvil_chain: Chain) -> None:
    accounts = anvil_chain.dev_accounts()
    assert anvil_chain.kind == "anvil" and anvil_chain.chain_id == 31337
    assert [a.address for a in accounts] == [
        a.address for a in derive_accounts(DEFAULT_MNEMONIC, 10)
    ]
    assert [a.address for a in accounts] == list(anvil_chain.w3.eth.accounts)
    start = anvil_chain.timestamp()
    assert anvil_chain.increase_time(86_400) == start + 86_400
    height = anvil_chain.block_number()
    anvil_chain.mine(2)
    assert anvil_chain.block_number() == height + 2
    snap = anvil_chain.snapshot()
    anvil_chain.fund(accounts[1].address, 5, sender=accounts[2])
    anvil_chain.revert(snap)
    assert anvil_chain.block_number() == height + 2
    anvil_chain.fund(accounts[1].address, 5, sender=accounts[2])  # nonces resynced after revert


@pytest.mark.anvil
def test_rpc_url_to_a_running_node(anvil_chain: Chain) -> None:
    assert anvil_chain.url is not None
    with connect(anvil_chain.url, mnemonic=DEFAULT_MNEMONIC, accounts=2) as rpc:
        assert rpc.kind == "rpc" and rpc.chain_id == anvil_chain.chain_id
        alice, bob = rpc.dev_accounts()
        before = rpc.balance(bob.address)
        rpc.fund(bob.address, 77, sender=alice)
        assert anvil_chain.balance(bob.address) == before + 77
        with pytest.raises(UnsupportedOperationError, match="development chain"):
            rpc.increase_time(10)
    assert anvil_chain.node is not None and anvil_chain.node.running  # rpc close leaves it alone


def test_unreachable_rpc_url_is_a_readable_connection_error() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChainConnectionError) as caught:
        connect(f"http://127.0.0.1:{port}", timeout=2)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "unreachable" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert isinstance(caught.value, FedChainError | ConnectionError)


def test_unknown_target_is_a_config_error() -> None:
    with pytest.raises(ChainConfigError, match="embedded") as caught:
        connect("ganache")
    assert isinstance(caught.value, ConfigError)


def _history(seed: int) -> list[tuple[int, int, bytes, bytes]]:
    with connect("embedded", seed=seed, accounts=2) as chain:
        alice, bob = chain.dev_accounts()
        chain.fund(bob.address, 5, sender=alice)
        chain.increase_time(100)
        snap = chain.snapshot()
        chain.fund(bob.address, 6, sender=alice)
        chain.revert(snap)
        chain.fund(bob.address, 7, sender=alice)
        blocks = [chain.w3.eth.get_block(i) for i in range(chain.block_number() + 1)]
    return [(b["number"], b["timestamp"], bytes(b["mixHash"]), bytes(b["hash"])) for b in blocks]


def test_seeded_embedded_chain_is_reproducible() -> None:
    first, again, other = _history(7), _history(7), _history(8)
    assert first == again
    assert [b[1] for b in first] == [1_700_000_000, 1_700_000_001, 1_700_000_101, 1_700_000_102]
    assert [b[2] for b in first] != [b[2] for b in other]  # prevrandao follows the seed
    with pytest.raises(ChainConfigError, match="embedded"):
        connect("http://127.0.0.1:1", seed=1)
