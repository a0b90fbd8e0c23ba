"""compute_cid beyond the vectors: the balanced layout against a slow, obviously-correct
reference, streaming == in-memory, parameters, verification and bounded memory."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedchain.storage import (
    KNOWN_PROFILES,
    CIDParameterError,
    ImportParams,
    compute_cid,
    compute_cid_file,
    compute_directory_cid,
    parse_cid,
    verify_cid,
    verify_cid_file,
)
from fedchain.storage.unixfs import DagBuilder, Link

from .vector_streams import ChaChaStream


def reference_balanced(data: bytes, params: ImportParams) -> str:
    """The balanced DAG described top-down: the smallest depth d with max_links**d >= number
    of chunks; each node covers max_links**(d-1) chunks per child, left to right."""
    b = DagBuilder(params)
    size, m = params.chunk_size, params.max_links
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    if len(chunks) <= 1:
        return parse_cid(b.leaf(chunks[0] if chunks else None).cid).encode()
    depth = 1
    while m**depth < len(chunks):
        depth += 1

    def build(part: list[bytes], d: int) -> Link:
        if d == 0:
            return b.leaf(part[0])
        span = m ** (d - 1)
        return b.file_node([build(part[i : i + span], d - 1) for i in range(0, len(part), span)])

    return parse_cid(build(chunks, depth).cid).encode()


class Trickling(io.RawIOBase):
    """A file object that returns short reads, as pipes and sockets do."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = min(n, self._step) if n >= 0 else self._step
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


params_strategy = st.builds(
    ImportParams,
    cid_version=st.sampled_from([0, 1]),
    raw_leaves=st.sampled_from([None, True, False]),
    chunk_size=st.integers(min_value=1, max_value=64),
    max_links=st.integers(min_value=2, max_value=5),
)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2000), params=params_strategy)
def test_balanced_layout_matches_reference(data: bytes, params: ImportParams) -> None:
    assert compute_cid(data, params=params) == reference_balanced(data, params)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=1500),
    params=params_strategy,
    layout=st.sampled_from(["balanced", "trickle"]),
    step=st.integers(min_value=1, max_value=50),
)
def test_streaming_equals_in_memory(
    data: bytes, params: ImportParams, layout: str, step: int
) -> None:
    p = ImportParams(
        cid_version=params.cid_version,
        raw_leaves=params.raw_leaves,
        chunk_size=params.chunk_size,
        max_links=params.max_links,
        layout=layout,
    )
    expected = compute_cid(data, params=p)
    assert compute_cid_file(Trickling(data, step), params=p) == expected
    assert compute_cid(bytearray(data), params=p) == expected


def test_kubo_defaults_and_known_small_cids() -> None:
    empty_v0 = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    assert compute_cid(b"", cid_version=0) == empty_v0
    assert compute_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert ImportParams().raw_leaves is True and ImportParams(cid_version=0).raw_leaves is False
    # a file of exactly one chunk is that chunk's raw block; one byte more makes a dag-pb root
    assert compute_cid(b"a" * 262144).startswith("bafkrei")
    assert compute_cid(b"a" * 262145).startswith("bafybei")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cid_version": 2}, "cid_version"),
        ({"cid_version": 0, "hash": "blake2b-256"}, "CIDv0 only supports sha2-256"),
        ({"hash": "md5"}, "unsupported hash"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 2 * 1024 * 1024}, "chunk_size"),
        ({"max_links": 1}, "max_links"),
        ({"layout": "rabin"}, "layout"),
    ],
)
def test_unsupported_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(CIDParameterError, match=message):
        compute_cid(b"x", **kwargs)


def test_directory_paths_are_checked() -> None:
    for bad in ({"../x": b""}, {"a//b": b""}, {"a": b"", "a/b": b""}):
        with pytest.raises(CIDParameterError):
            compute_directory_cid(bad)


@pytest.mark.parametrize("profile", KNOWN_PROFILES, ids=lambda p: f"v{p.cid_version}-{p.chunker}")
def test_verify_cid_recognises_known_profiles(profile: ImportParams) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: several chunks in every profile
    cid = compute_cid(data, params=profile)
    for form in (cid, parse_cid(cid).to_v1().encode()):
        assert verify_cid(data, form)
        assert verify_cid_file(io.BytesIO(data), form)
    assert not verify_cid(data[:-1] + b"!", cid)
    assert not verify_cid_file(io.BytesIO(data + b"!"), cid)


def test_verify_cid_raw_and_custom_params() -> None:
    raw = compute_cid(b"small")
    assert verify_cid(b"small", raw) and not verify_cid(b"smalL", raw)
    assert verify_cid_file(io.BytesIO(b"small"), raw)
    custom = ImportParams(chunk_size=1000, max_links=3)
    cid = compute_cid(b"y" * 10_000, params=custom)
    assert not verify_cid(b"y" * 10_000, cid)  # not a known profile...
    assert verify_cid(b"y" * 10_000, cid, params=custom)  # ...unless told


def test_streaming_memory_stays_bounded() -> None:
    size = 48 * 1024 * 1024
    stream = ChaChaStream("memory", size)
    tracemalloc.start()
    try:
        compute_cid_file(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.left == 0
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while hashing {size} bytes"
