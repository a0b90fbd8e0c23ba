"""KuboStore against a fake Kubo RPC server on 127.0.0.1 (real HTTP, real httpx client)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.storage import (
    BlobNotFoundError,
    BlobTooLargeError,
    CIDMismatchError,
    CorruptBlobError,
    ImportParams,
    InvalidCIDError,
    KuboAPIError,
    KuboStore,
    KuboTimeoutError,
    KuboUnavailableError,
    OutputExistsError,
    StoreConfigError,
    compute_cid,
    parse_cid,
)

from .kubo_fake import FakeKubo

DATA = bytes(range(256)) * 3000  # 768000 bytes: 3 chunks, a two-level DAG


@pytest.fixture
def node() -> Iterator[FakeKubo]:
    with FakeKubo() as fake:
        yield fake


@pytest.fixture
def store(node: FakeKubo) -> Iterator[KuboStore]:
    with KuboStore(node.url, timeout=5.0, retries=2, backoff=0.01) as s:
        yield s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_put_get_round_trip_passes_import_options(store: KuboStore, node: FakeKubo) -> None:
    cid = store.put(DATA)
    assert cid == compute_cid(DATA)
    assert cid.startswith("bafybei")
    assert store.get(cid) == DATA
    add = next(q for endpoint, q in node.state.requests if endpoint == "add")
    assert add["cid-version"] == ["1"]
    assert add["raw-leaves"] == ["true"]
    assert add["chunker"] == ["size-262144"]
    assert add["hash"] == ["sha2-256"]
    assert add["pin"] == ["true"]
    assert parse_cid(cid).key in node.state.pins


def test_version_has_pins_and_gc(store: KuboStore, node: FakeKubo) -> None:
    assert store.version() == "0.39.0-fake"
    kept = store.put(b"kept")
    loose = store.put(b"loose", pin=False)
    assert store.has(kept) and store.has(loose)
    assert not store.has(compute_cid(b"never added"))
    assert store.pins() == [parse_cid(kept).key]
    assert store.unpin(kept) is True
    assert store.unpin(kept) is False
    store.pin(kept)
    assert store.pins() == [parse_cid(kept).key]
    assert store.gc() == [parse_cid(loose).key]
    assert not store.has(loose)
    with pytest.raises(BlobNotFoundError):
        store.pin(loose)


def test_cidv0_params_and_v0_lookup(node: FakeKubo) -> None:
    with KuboStore(node.url, params=ImportParams(cid_version=0), retries=0) as store:
        cid = store.put(DATA)
        assert cid.startswith("Qm") and cid == compute_cid(DATA, cid_version=0)
        assert store.get(cid) == DATA
        assert store.get(parse_cid(cid).to_v1().encode()) == DATA


def test_put_file_streams_and_get_file_is_atomic(store: KuboStore, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(DATA)
    cid = store.put_file(src)
    assert cid == compute_cid(DATA)
    dest = tmp_path / "out.bin"
    assert store.get_file(cid, dest) == dest
    assert dest.read_bytes() == DATA
    with pytest.raises(OutputExistsError):
        store.get_file(cid, dest)
    dest.write_bytes(b"old")
    store.get_file(cid, dest, overwrite=True)
    assert dest.read_bytes() == DATA


def test_retries_transient_503_then_succeeds(store: KuboStore, node: FakeKubo) -> None:
    node.knobs.fail_first = 2
    cid = store.put(b"after two failures")
    assert store.get(cid) == b"after two failures"
    assert [e for e, _ in node.state.requests].count("add") == 3


def test_gives_up_after_bounded_retries(store: KuboStore, node: FakeKubo) -> None:
    node.knobs.fail_first = 10
    with pytest.raises(KuboUnavailableError, match="HTTP 503") as info:
        store.version()
    assert info.value.url == node.url
    assert len(node.state.requests) == 3  # 1 try + 2 retries, not more


def test_kubo_command_errors_are_not_retried(store: KuboStore, node: FakeKubo) -> None:
    with pytest.raises(KuboAPIError, match="not pinned"):
        store._json("pin/rm", {"arg": compute_cid(b"x")})  # Kubo's own error answer
    assert len(node.state.requests) == 1


def test_unreachable_node_names_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with (
        KuboStore(url, retries=1, backoff=0.0) as store,
        pytest.raises(KuboUnavailableError) as info,
    ):
        store.version()
    assert url in str(info.value)
    assert isinstance(info.value, ConnectionError)


def test_timeout(node: FakeKubo) -> None:
    node.knobs.delay = 1.0
    with KuboStore(node.url, timeout=0.2, retries=0) as store, pytest.raises(KuboTimeoutError):
        store.version()


def test_lying_node_wrong_cid(store: KuboStore, node: FakeKubo) -> None:
    node.knobs.lie_about_cid = True
    with pytest.raises(CIDMismatchError) as info:
        store.put(DATA)
    assert info.value.expected == compute_cid(DATA)
    assert info.value.got != info.value.expected


def test_node_with_other_import_settings_is_caught(store: KuboStore, node: FakeKubo) -> None:
    node.knobs.ignore_import_options = True  # e.g. an old Kubo ignoring cid-version
    with pytest.raises(CIDMismatchError):
        store.put(DATA)


def test_tampered_bytes_are_refused(store: KuboStore, node: FakeKubo, tmp_path: Path) -> None:
    cid = store.put(DATA)
    node.knobs.tamper = True
    with pytest.raises(CorruptBlobError, match=cid):
        store.get(cid)
    dest = tmp_path / "out.bin"
    with pytest.raises(CorruptBlobError):
        store.get_file(cid, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_oversize_answers_are_cut_off(store: KuboStore, node: FakeKubo) -> None:
    cid = store.put(b"small")
    node.knobs.extra_bytes = 1_000_000
    with pytest.raises(BlobTooLargeError):
        store.get(cid, max_bytes=100_000)
    node.knobs.extra_bytes = 0
    node.knobs.cat_declared_length = 10**12  # refused from the header, before reading
    with pytest.raises(BlobTooLargeError):
        store.get(cid)


def test_missing_blob_and_bad_cids(store: KuboStore, node: FakeKubo) -> None:
    with pytest.raises(BlobNotFoundError):
        store.get(compute_cid(b"absent"))
    before = len(node.state.requests)
    for bad in ("", "Qm123", "bafy../../etc/passwd", "zzzz"):
        with pytest.raises(InvalidCIDError):
            store.get(bad)
    assert len(node.state.requests) == before  # validated before any request


def test_size_limit_on_put(node: FakeKubo) -> None:
    with KuboStore(node.url, max_bytes=10) as store, pytest.raises(BlobTooLargeError):
        store.put(b"x" * 11)
    assert node.state.requests == []


def test_bad_configuration() -> None:
    with pytest.raises(StoreConfigError):
        KuboStore("ftp://example")
    with pytest.raises(StoreConfigError):
        KuboStore("http://127.0.0.1:5001", timeout=0)
    store = KuboStore("http://127.0.0.1:5001/api/v0/")
    assert store.api_url == "http://127.0.0.1:5001"
    store.close()
