"""ABI helpers: canonical types, selectors and friendly encoding."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address

from fedchain.chain.abi import decode_values, encode_values, entry_signature, param_type, selector
from fedchain.chain.errors import AbiArgumentError

STRUCT = {
    "name": "spec",
    "type": "tuple[]",
    "components": [{"name": "x", "type": "uint64"}, {"name": "who", "type": "address"}],
}


def test_signatures_and_selectors() -> None:
    entry = {"type": "function", "name": "transfer",
             "inputs": [{"type": "address"}, {"type": "uint256"}]}  # fmt: skip
    assert entry_signature(entry) == "transfer(address,uint256)"
    assert selector(entry).hex() == "a9059cbb"
    assert param_type(STRUCT) == "(uint64,address)[]"


def test_round_trip_with_friendly_values() -> None:
    params = [STRUCT, {"name": "d", "type": "bytes32"}, {"name": "b", "type": "bytes"}]
    who = "0x" + "cd" * 20
    data = encode_values(params, [[{"x": 1, "who": who}, (2, who)], "0x" + "11" * 32, b"\x02"])
    spec, digest, blob = decode_values(params, data)
    assert [s["x"] for s in spec] == [1, 2]
    assert spec[0]["who"] == to_checksum_address(who) != who
    assert digest == b"\x11" * 32 and blob == b"\x02"


def test_bad_arguments_are_named_errors() -> None:
    with pytest.raises(AbiArgumentError, match="exactly 32 bytes"):
        encode_values([{"name": "d", "type": "bytes32"}], [b"\x01"])
    with pytest.raises(AbiArgumentError, match="expected 1 arguments"):
        encode_values([{"name": "d", "type": "uint8"}], [])
    with pytest.raises(AbiArgumentError, match="cannot ABI-encode"):
        encode_values([{"name": "d", "type": "uint8"}], [256])
    with pytest.raises(ValueError):  # AbiArgumentError is a ValueError too
        encode_values([{"name": "d", "type": "uint8"}], [-1])
