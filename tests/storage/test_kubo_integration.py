"""KuboStore against a real Kubo daemon named by FEDCHAIN_KUBO_API (e.g. http://127.0.0.1:5001).

Skipped when the variable is unset or the daemon does not answer. Start one with
``ipfs daemon --offline`` (Kubo >= 0.8) and run ``FEDCHAIN_KUBO_API=http://127.0.0.1:5001
pytest -m kubo tests/storage``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.storage import (
    ImportParams,
    KuboError,
    KuboStore,
    compute_cid,
    parse_cid,
)

from .vector_streams import ChaChaStream

pytestmark = pytest.mark.kubo


@pytest.fixture(scope="module")
def api_url() -> str:
    url = os.environ.get("FEDCHAIN_KUBO_API", "").strip()
    if not url:
        pytest.skip("FEDCHAIN_KUBO_API is not set: no real Kubo daemon to test against")
    try:
        with KuboStore(url, timeout=5.0, retries=0) as probe:
            probe.version()
    except KuboError as exc:
        pytest.skip(f"Kubo daemon at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def store(api_url: str) -> Iterator[KuboStore]:
    with KuboStore(api_url, timeout=60.0) as s:
        yield s


def _data(size: int, seed: str) -> bytes:
    return ChaChaStream(seed, size).read()


@pytest.mark.parametrize("size", [0, 11, 262_144, 262_145, 3_000_000])
def test_kubo_computes_our_cids(store: KuboStore, size: int) -> None:
    data = _data(size, f"fedchain-kubo-{size}")
    cid = store.put(data, pin=False)  # KuboStore raises CIDMismatchError if Kubo disagrees
    assert cid == compute_cid(data)
    assert store.has(cid)
    assert store.get(cid) == data


def test_kubo_cidv0_profile(api_url: str) -> None:
    data = _data(600_000, "fedchain-kubo-v0")
    with KuboStore(api_url, params=ImportParams(cid_version=0)) as store:
        cid = store.put(data, pin=False)
        assert cid == compute_cid(data, cid_version=0) and cid.startswith("Qm")
        assert store.get(parse_cid(cid).to_v1().encode()) == data


def test_kubo_pins_and_files(store: KuboStore, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    src.write_bytes(_data(1_000_000, "fedchain-kubo-pins"))
    cid = store.put_file(src)
    assert parse_cid(cid).key in store.pins()
    assert store.unpin(cid) is True and parse_cid(cid).key not in store.pins()
    assert store.unpin(cid) is False
    store.pin(cid)
    out = store.get_file(cid, tmp_path / "out.bin")
    assert out.read_bytes() == src.read_bytes()
    store.unpin(cid)
