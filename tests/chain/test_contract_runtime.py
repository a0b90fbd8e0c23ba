"""Deploy, call, transact, revert decoding, events and gas: embedded chain and a real Anvil."""

from __future__ import annotations

import pytest

from fedchain.chain import BoundContract, Chain
from fedchain.chain.contract_errors import lookup
from fedchain.chain.errors import (
    AbiArgumentError,
    ContractError,
    InsufficientFundsError,
    OutOfGasError,
    PanicError,
    RevertError,
    TransactionError,
)
from fedchain.chain.testing import reverts


@pytest.fixture
def fixture(chain: Chain, fixture_artifact, fixture_binding) -> BoundContract:
    owner = chain.dev_accounts(1)[0]
    return chain.deploy(fixture_artifact, 5, sender=owner, value=7, binding=fixture_binding)


def test_deploy_returns_the_typed_binding(chain: Chain, fixture, fixture_binding) -> None:
    owner = chain.dev_accounts(1)[0]
    assert isinstance(fixture, fixture_binding)
    assert fixture.deployment.contract_address == fixture.address
    assert fixture.value() == 5
    assert fixture.owner() == owner.address
    assert fixture.balance() == 7
    again = chain.at("Fixture", fixture.address, binding=fixture_binding)
    assert again == fixture and again.value() == 5


def test_transact_changes_state_and_decodes_events(chain: Chain, fixture) -> None:
    alice = chain.dev_accounts(2)[1]
    result = fixture.setValue(11, "hello", sender=alice)
    assert fixture.value() == 11
    assert result.gas_used == result.receipt["gasUsed"] > 21_000
    event = result.event("ValueSet")
    assert event.args == {"by": alice.address, "oldValue": 5, "newValue": 11, "note": "hello"}
    assert (event.address, event.tx_hash, event.block_number) == (
        fixture.address,
        result.tx_hash,
        result.block_number,
    )


def test_struct_arrays_and_multiple_outputs(chain: Chain, fixture, fixture_binding) -> None:
    alice = chain.dev_accounts(2)[1]
    point = (3, -4, alice.address, b"\x07" * 32)
    stored = fixture.storePoint(point, sender=alice).event("PointStored")
    assert stored["id"] == 1
    assert stored["point"] == {"x": 3, "y": -4, "owner": alice.address, "tag": b"\x07" * 32}
    got = fixture.pointOf(1)
    assert type(got).__name__ == "Point" and tuple(got) == point and got.y == -4
    assert fixture.pair() == (1, chain.dev_accounts(1)[0].address)
    assert fixture.pair().count == 1
    fixture.setItems([1, 2, 3], "0xff", sender=alice)
    assert fixture.items() == [1, 2, 3]


def test_custom_error_with_arguments_at_estimation(chain: Chain, fixture) -> None:
    alice = chain.dev_accounts(2)[1]
    from fedchain.chain.contract_errors import FixtureTooSmall  # type: ignore[attr-defined]

    with pytest.raises(FixtureTooSmall) as caught:
        fixture.setValue(3, "x", sender=alice)
    err = caught.value
    assert isinstance(err, ContractError)
    assert err.error_name == "FixtureTooSmall"
    assert err.error_args == {"given": 3, "minimum": 10}
    assert err.selector == bytes.fromhex(err.data[:4].hex())
    assert str(err) == "FixtureTooSmall(given=3, minimum=10)"
    assert err.context == "Fixture.setValue"
    assert fixture.value() == 5


def test_custom_error_in_a_mined_transaction(chain: Chain, fixture) -> None:
    alice = chain.dev_accounts(2)[1]
    before = chain.block_number()
    with reverts("FixtureTooSmall", given=2, minimum=10):
        fixture.setValue(2, "x", sender=alice, gas=200_000)  # explicit gas: no estimate, mined
    assert chain.block_number() == before + 1  # it really was mined (and reverted)


def test_errors_without_arguments_views_and_payable(chain: Chain, fixture) -> None:
    owner, alice = chain.dev_accounts(2)
    with pytest.raises(lookup("FixtureEmpty")) as caught:
        fixture.deposit(sender=alice)
    assert str(caught.value) == "FixtureEmpty()"
    result = fixture.deposit(sender=alice, value=1000)
    assert result.event("Deposited").args == {"from": alice.address, "amount": 1000}
    assert fixture.balance() == 1007
    with reverts("FixtureNotOwner", caller=alice.address, owner=owner.address):
        fixture.checkOwner(sender=alice)
    fixture.checkOwner(sender=owner)  # no revert


def test_panics_and_revert_strings(chain: Chain, fixture) -> None:
    with pytest.raises(PanicError) as caught:
        fixture.divide(1, 0)
    assert caught.value.code == 0x12
    assert str(caught.value) == "Panic(0x12: division or modulo by zero)"
    with reverts("Panic", code=0x11):
        fixture.increment(255)
    assert fixture.increment(254) == 255
    with pytest.raises(RevertError) as caught_reason:
        fixture.failWithReason()
    assert caught_reason.value.reason == "plain reason"
    assert caught_reason.value.error_name == "Error"


def test_events_query_with_filters(chain: Chain, fixture) -> None:
    _, alice, bob = chain.dev_accounts(3)
    start = chain.block_number()
    fixture.setValue(20, "a", sender=alice)
    fixture.setValue(30, "b", sender=bob)
    fixture.setValue(40, "c", sender=alice)
    fixture.deposit(sender=bob, value=1)
    values = fixture.events("ValueSet", from_block=start)
    assert [e["newValue"] for e in values] == [20, 30, 40]
    assert [e.sort_key for e in values] == sorted(e.sort_key for e in values)
    by_alice = fixture.events("ValueSet", from_block=start, filters={"by": alice.address})
    assert [e["note"] for e in by_alice] == ["a", "c"]
    either = fixture.events("ValueSet", from_block=start, filters={"oldValue": [5, 30]})
    assert [e["newValue"] for e in either] == [20, 40]
    names = [e.name for e in fixture.events(from_block=start)]
    assert names == ["ValueSet", "ValueSet", "ValueSet", "Deposited"]
    with pytest.raises(AbiArgumentError, match="no indexed argument"):
        fixture.events("ValueSet", filters={"note": "a"})


def test_gas_meter_records_every_transaction(chain: Chain, fixture) -> None:
    alice = chain.dev_accounts(2)[1]
    chain.gas.reset()
    first = fixture.setValue(11, "x", sender=alice)
    second = fixture.setValue(12, "y", sender=alice)
    transfer = chain.fund(alice.address, 10)
    by_label = chain.gas.by_label()
    assert by_label == {
        "Fixture.setValue": [first.gas_used, second.gas_used],
        "ETH.transfer": [21_000],
    }
    assert chain.gas.total == first.gas_used + second.gas_used + transfer.gas_used
    assert chain.gas.summary()["Fixture.setValue"]["count"] == 2
    assert chain.gas.total_fee_wei == sum(r.fee_wei for r in (first, second, transfer)) > 0


def test_generic_binding_from_the_abi(chain: Chain, fixture) -> None:
    generic = BoundContract(chain, fixture.address, fixture.artifact)
    assert generic.value() == 5
    alice = chain.dev_accounts(2)[1]
    assert generic.setValue(15, "dyn", sender=alice).event("ValueSet")["newValue"] == 15
    assert generic.pointOf(0) == {"x": 0, "y": 0, "owner": "0x" + "0" * 40, "tag": bytes(32)}
    with pytest.raises(AttributeError):
        generic.noSuchFunction  # noqa: B018
    with pytest.raises(AbiArgumentError, match="expected 2 arguments"):
        generic.setValue(15, sender=alice)


def test_money_errors_are_named(chain: Chain, fixture) -> None:
    poor = chain.new_account(fund_wei=10**15)
    assert chain.balance(poor.address) == 10**15
    with pytest.raises(InsufficientFundsError):
        fixture.deposit(sender=poor, value=10**18)
    with pytest.raises(OutOfGasError):
        fixture.setValue(50, "x", sender=poor, gas=24_000)
    with pytest.raises(TransactionError, match="LocalAccount"):
        fixture.setValue(50, "x", sender=poor.address)  # type: ignore[arg-type]


def test_nonce_cache_resyncs_after_an_outside_transaction(chain: Chain, fixture) -> None:
    alice = chain.dev_accounts(2)[1]
    fixture.setValue(11, "cached", sender=alice)  # the nonce of alice is now cached
    outside = {
        "to": alice.address, "value": 1, "gas": 21_000, "chainId": chain.chain_id,
        "nonce": chain.w3.eth.get_transaction_count(alice.address),
        "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
    }  # fmt: skip
    tx_hash = chain.w3.eth.send_raw_transaction(alice.sign_transaction(outside).raw_transaction)
    chain.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.01)
    assert fixture.setValue(12, "resynced", sender=alice).event("ValueSet")["newValue"] == 12


@pytest.mark.anvil
def test_a_transaction_the_node_drops_is_an_error_not_a_hang(anvil_chain: Chain, fixture_artifact):
    owner = anvil_chain.dev_accounts(1)[0]
    fixture = anvil_chain.deploy(fixture_artifact, 5, sender=owner)
    # Above the intrinsic gas but below Prague's calldata floor: Anvil accepts it, never mines it.
    with pytest.raises(TransactionError, match="dropped"):
        fixture.setValue(50, "x" * 200, sender=owner, gas=25_000)
    assert fixture.setValue(50, "after", sender=owner).event("ValueSet")["newValue"] == 50
