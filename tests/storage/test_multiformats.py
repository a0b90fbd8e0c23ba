"""Multibase, varints, CID parsing and the CID <-> on-chain (digest, codec) mapping."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedchain.storage import (
    CODEC_DAG_PB,
    CODEC_RAW,
    InvalidCIDError,
    cid_to_digest,
    compute_cid,
    digest_to_cid,
    parse_cid,
)
from fedchain.storage.multiformats import (
    base32_decode,
    base32_encode,
    base58_decode,
    base58_encode,
    varint_decode,
    varint_encode,
)

# "base32 test\n" added with Kubo's defaults, printed both ways by Kubo's own t0040 test
V0 = "QmS92gwP5AAp6YHyG7QypC81H3ARBmNTbozJ1gTrhy2ASA"
V0_AS_V1 = "bafybeibyosqxljd2eptb4ebbtvk7pb4aoxzqa6ttdsflty6rsslz5y6i34"
HELLO_RAW = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"  # "hello world" CIDv1


@given(st.binary(max_size=80))
def test_base58_round_trip(data: bytes) -> None:
    assert base58_decode(base58_encode(data)) == data


@given(st.binary(max_size=80))
def test_base32_round_trip(data: bytes) -> None:
    text = base32_encode(data)
    assert text == text.lower() and "=" not in text
    assert base32_decode(text) == data
    if data:
        assert base32_decode(text.upper()) == data


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_varint_round_trip(n: int) -> None:
    encoded = varint_encode(n)
    assert varint_decode(encoded + b"\xff") == (n, len(encoded))


def test_varint_rejects_overlong_and_truncated() -> None:
    with pytest.raises(InvalidCIDError, match="minimal"):
        varint_decode(b"\x81\x00")
    with pytest.raises(InvalidCIDError, match="truncated"):
        varint_decode(b"\x80")


def test_v0_and_v1_forms_of_one_block() -> None:
    v0, v1 = parse_cid(V0), parse_cid(V0_AS_V1)
    assert (v0.version, v1.version) == (0, 1)
    assert v0.key == v1.key == V0_AS_V1
    assert v0.to_v1().encode() == V0_AS_V1
    assert str(v0) == V0 and v0.codec_name == "dag-pb"
    assert parse_cid(v1.to_bytes()) == v1 and parse_cid(v0.to_bytes()) == v0
    for other_base in (
        "B" + V0_AS_V1[1:].upper(),
        "f" + v1.to_bytes().hex(),
        "z" + base58_encode(v1.to_bytes()),
    ):
        assert parse_cid(other_base) == v1


def test_digest_round_trip_for_both_codecs() -> None:
    digest, codec = cid_to_digest(HELLO_RAW)
    assert codec == CODEC_RAW
    assert digest == hashlib.sha256(b"hello world").digest()  # a one-chunk raw file
    assert digest_to_cid(digest, codec) == HELLO_RAW
    digest, codec = cid_to_digest(V0)
    assert codec == CODEC_DAG_PB and len(digest) == 32
    assert digest_to_cid(digest, codec) == V0_AS_V1
    assert digest_to_cid(digest, codec, version=0) == V0


@given(st.binary(min_size=32, max_size=32), st.sampled_from([CODEC_RAW, CODEC_DAG_PB]))
def test_digest_to_cid_and_back(digest: bytes, codec: int) -> None:
    assert cid_to_digest(digest_to_cid(digest, codec)) == (digest, codec)


@given(st.binary(max_size=5000))
def test_computed_cids_parse_and_map_back(data: bytes) -> None:
    cid = compute_cid(data)
    digest, codec = cid_to_digest(cid)
    assert digest_to_cid(digest, codec) == cid
    assert codec == (CODEC_RAW if len(data) <= 262144 else CODEC_DAG_PB)


def test_digest_to_cid_rejects_bad_input() -> None:
    with pytest.raises(InvalidCIDError, match="32 bytes"):
        digest_to_cid(b"\0" * 31, CODEC_RAW)
    with pytest.raises(InvalidCIDError, match="codec"):
        digest_to_cid(b"\0" * 32, 0x71)
    with pytest.raises(InvalidCIDError, match="dag-pb"):
        digest_to_cid(b"\0" * 32, CODEC_RAW, version=0)


def test_only_sha256_cids_map_to_the_chain() -> None:
    blake = compute_cid(b"x", hash="blake2b-256")
    assert parse_cid(blake).hash_function.name == "blake2b-256"
    with pytest.raises(InvalidCIDError, match="sha2-256"):
        cid_to_digest(blake)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("hello", "multibase"),
        ("Qm" + "0" * 44, "base58"),  # '0' is not in the base58 alphabet
        ("QmS92gwP5AAp6YHyG7QypC81H3ARBmNTbozJ1gTrhy2AS", "46 characters, not 45"),  # 45 chars
        ("b" + base32_encode(b"\x01\x55\x12\x20" + b"\0" * 31), "digest"),  # truncated digest
        ("b" + base32_encode(b"\x01\x55\x12\x21" + b"\0" * 33), "32 bytes"),  # wrong length
        ("b" + base32_encode(b"\x01\x55\x11\x14" + b"\0" * 20), "multihash code 0x11"),  # sha1
        ("b" + base32_encode(b"\x01\x71\x12\x20" + b"\0" * 32), "codec 0x71"),  # dag-cbor
        ("b" + base32_encode(b"\x02\x55\x12\x20" + b"\0" * 32), "version 2"),
        ("b" + "1" * 20, "base32"),
        ("f" + "zz" * 36, "base16"),
        ("u" + "A" * 40, "multibase prefix 'u'"),
        ("b" + "a" * 600, "too long"),
    ],
)
def test_invalid_cids_have_clear_reasons(text: str, reason: str) -> None:
    with pytest.raises(InvalidCIDError, match=reason) as info:
        parse_cid(text)
    assert isinstance(info.value, ValueError)


def test_parse_cid_rejects_other_types() -> None:
    with pytest.raises(InvalidCIDError):
        parse_cid(12345)  # type: ignore[arg-type]
