"""Contract custom errors become named Python exceptions; Panic and Error(string) are decoded."""

from __future__ import annotations

import pickle

import eth_abi
import pytest
from eth_utils import keccak, to_checksum_address

from fedchain.chain import Artifact, register_artifact
from fedchain.chain import errors as chain_errors
from fedchain.chain.artifacts import unregister_artifact
from fedchain.chain.contract_errors import all_errors, decode_revert, lookup
from fedchain.chain.errors import (
    ArtifactError,
    ChainError,
    ContractError,
    PanicError,
    RevertError,
    UnknownRevertError,
)

ERROR_ABI = {
    "type": "error",
    "name": "ProbeRoundClosed",
    "inputs": [
        {"name": "taskId", "type": "uint256"},
        {"name": "round", "type": "uint64"},
        {"name": "who", "type": "address"},
        {"name": "digest", "type": "bytes32"},
    ],
}


@pytest.fixture
def probe() -> type[ContractError]:
    register_artifact(Artifact(name="ProbeErrors", abi=[ERROR_ABI]))
    try:
        yield lookup("ProbeRoundClosed")
    finally:
        unregister_artifact("ProbeErrors")


def _encode(signature: str, types: list[str], values: list) -> bytes:
    return keccak(text=signature)[:4] + eth_abi.encode(types, values)


def test_custom_error_class_carries_named_arguments(probe: type[ContractError]) -> None:
    who = "0x" + "ab" * 20
    data = _encode(
        "ProbeRoundClosed(uint256,uint64,address,bytes32)",
        ["uint256", "uint64", "address", "bytes32"],
        [1, 3, who, b"\x01" * 32],
    )
    err = decode_revert(data, context="Probe.submit")
    assert type(err) is probe and isinstance(err, ContractError | ChainError)
    assert err.error_name == "ProbeRoundClosed"
    assert err.selector == data[:4] == probe.selector
    assert err.error_args["taskId"] == 1 and err.error_args["round"] == 3
    checksummed = to_checksum_address(who)
    assert err.error_args["who"] == checksummed
    assert str(err) == (
        f"ProbeRoundClosed(taskId=1, round=3, who={checksummed}, digest=0x{'01' * 32})"
    )
    assert err.context == "Probe.submit"
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is probe and copy.error_args == err.error_args


def test_module_attribute_access_and_lookup_agree(probe: type[ContractError]) -> None:
    from fedchain.chain.contract_errors import ProbeRoundClosed  # type: ignore[attr-defined]

    assert ProbeRoundClosed is probe is chain_errors.lookup("ProbeRoundClosed")
    assert "ProbeRoundClosed" in all_errors()
    assert probe.__module__ == "fedchain.chain.contract_errors"
    with pytest.raises(ArtifactError, match="NoSuchError"):
        lookup("NoSuchError")
    with pytest.raises(ImportError):
        from fedchain.chain.contract_errors import NoSuchError  # type: ignore[attr-defined]  # noqa: F401


def test_panic_and_error_string() -> None:
    panic = decode_revert(_encode("Panic(uint256)", ["uint256"], [0x32]))
    assert isinstance(panic, PanicError) and panic.code == 0x32
    assert str(panic) == "Panic(0x32: array index out of bounds)"
    assert lookup("Panic") is PanicError and lookup("Error") is RevertError
    reason = decode_revert(_encode("Error(string)", ["string"], ["not yours"]))
    assert isinstance(reason, RevertError) and reason.reason == "not yours"
    assert str(reason) == "Error(message='not yours')"


def test_empty_and_unknown_revert_data() -> None:
    empty = decode_revert(b"")
    assert isinstance(empty, UnknownRevertError) and "without a reason" in str(empty)
    unknown = decode_revert(bytes.fromhex("deadbeef") + bytes(32))
    assert isinstance(unknown, UnknownRevertError) and "0xdeadbeef" in str(unknown)
    truncated = decode_revert(_encode("Panic(uint256)", [], []))  # selector without payload
    assert isinstance(truncated, UnknownRevertError)
