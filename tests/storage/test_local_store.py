"""LocalStore: atomic, verified, content-addressed blobs in a directory."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedchain.storage import (
    BlobNotFoundError,
    BlobStore,
    BlobTooLargeError,
    CorruptBlobError,
    ImportParams,
    InvalidCIDError,
    KuboStore,
    LocalStore,
    OutputExistsError,
    StoreConfigError,
    compute_cid,
    compute_cid_file,
    default_store_spec,
    open_store,
    parse_cid,
    register_store,
    registry,
)
from fedchain.storage.registry import store_schemes

from .store_workers import blob, put_many


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_put_get_has_and_layout(store: LocalStore) -> None:
    data = blob(3)
    cid = store.put(data)
    assert cid == compute_cid(data)
    assert store.has(cid) and store.get(cid) == data
    path = store.path_of(cid)
    assert path == store.root / "blobs" / cid[-3:-1] / cid
    assert path.read_bytes() == data
    assert store.put(data) == cid  # idempotent
    assert isinstance(store, BlobStore)


def test_cidv0_and_cidv1_name_the_same_blob(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, params=ImportParams(cid_version=0))
    data = blob(7)
    cid = store.put(data)
    assert cid.startswith("Qm")
    v1 = parse_cid(cid).to_v1().encode()
    assert store.has(v1) and store.get(v1) == data == store.get(cid)
    assert store.pins() == [v1]


def test_tampered_blob_is_refused_naming_the_cid(store: LocalStore, tmp_path: Path) -> None:
    cid = store.put(blob(5))
    path = store.path_of(cid)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptBlobError, match=cid) as info:
        store.get(cid)
    assert info.value.cid == cid
    out = tmp_path / "out.bin"
    with pytest.raises(CorruptBlobError):
        store.get_file(cid, out)
    assert not out.exists()
    path.write_bytes(blob(5) + b"extra")  # appended bytes are caught too
    with pytest.raises(CorruptBlobError):
        store.get(cid)


def test_missing_blob(store: LocalStore) -> None:
    cid = compute_cid(b"never stored")
    assert not store.has(cid)
    with pytest.raises(BlobNotFoundError, match=cid) as info:
        store.get(cid)
    assert isinstance(info.value, KeyError)
    with pytest.raises(BlobNotFoundError):
        store.pin(cid)


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "bafkrei/../../x",
        "/etc/passwd",
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk",  # one char short
        "Qm" + "1" * 44,
        "",
        "b" + "a" * 600,
    ],
)
def test_invalid_cids_never_reach_the_file_system(store: LocalStore, bad: str) -> None:
    for call in (store.get, store.has, store.path_of, store.pin, store.unpin):
        with pytest.raises(InvalidCIDError):
            call(bad)


def test_size_limit(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, max_bytes=1000)
    with pytest.raises(BlobTooLargeError):
        store.put(b"x" * 1001)
    big = tmp_path / "big.bin"
    big.write_bytes(b"y" * 5000)
    with pytest.raises(BlobTooLargeError):
        store.put_file(big)
    assert list((tmp_path / "tmp").iterdir()) == []  # the partial copy is gone
    cid = store.put(b"z" * 1000)
    with pytest.raises(BlobTooLargeError):
        store.get(cid, max_bytes=999)
    assert store.get(cid) == b"z" * 1000


def test_put_file_and_get_file(store: LocalStore, tmp_path: Path) -> None:
    src = tmp_path / "model.safetensors"
    data = blob(11) * 3  # several chunks
    src.write_bytes(data)
    cid = store.put_file(src)
    assert cid == compute_cid_file(src) == compute_cid(data)
    assert store.get(cid) == data
    out = tmp_path / "copy.bin"
    store.get_file(cid, out)
    assert out.read_bytes() == data
    with pytest.raises(OutputExistsError):
        store.get_file(cid, out)
    out.write_bytes(b"old")
    store.get_file(cid, out, overwrite=True)
    assert out.read_bytes() == data
    assert [p.name for p in (store.root / "tmp").iterdir()] == []


def test_pins_and_gc(store: LocalStore) -> None:
    kept = store.put(b"kept")
    loose = store.put(b"loose", pin=False)
    later = store.put(b"later")
    assert store.pins() == sorted([kept, later])
    assert store.unpin(later) is True
    assert store.unpin(later) is False
    removed = store.gc()
    assert sorted(removed) == sorted([loose, later])
    assert store.has(kept) and not store.has(loose) and not store.has(later)
    store.pin(kept)
    assert store.gc() == []


def test_gc_removes_only_stale_temporary_files(store: LocalStore) -> None:
    fresh = store.root / "tmp" / ".tmp-fresh"
    stale = store.root / "tmp" / ".tmp-stale"
    fresh.write_bytes(b"in progress")
    stale.write_bytes(b"abandoned")
    os.utime(stale, (1, 1))
    store.gc()
    assert fresh.exists() and not stale.exists()


def test_processes_share_one_directory(tmp_path: Path) -> None:
    root = str(tmp_path / "shared-store")
    shared = [1, 2, 3]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(put_many, [(root, w, shared, 3) for w in range(4)])
    store = LocalStore(root)
    expected = {i: compute_cid(blob(i)) for i in [*shared, *range(1000, 1008)]}
    for pairs in results:
        for i, cid in pairs:
            assert cid == expected[i]
    for i, cid in expected.items():
        assert store.get(cid) == blob(i)
    assert sorted(store.pins()) == sorted(expected.values())
    assert list((tmp_path / "shared-store" / "tmp").iterdir()) == []
    blobs = [p for p in (tmp_path / "shared-store" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == len(expected)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=3000))
def test_round_trip_property(tmp_path: Path, data: bytes) -> None:
    store = LocalStore(tmp_path / "prop", fsync=False)
    cid = store.put(data)
    assert cid == compute_cid(data)
    assert store.get(cid) == data


def test_open_store_specs(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path / "a"), LocalStore)
    assert isinstance(open_store(str(tmp_path / "b")), LocalStore)
    local = open_store(f"local:{tmp_path / 'c'}")
    assert isinstance(local, LocalStore) and local.root == tmp_path / "c"
    kubo = open_store("kubo:http://127.0.0.1:5999")
    assert isinstance(kubo, KuboStore) and kubo.api_url == "http://127.0.0.1:5999"
    kubo.close()
    with open_store("http://127.0.0.1:5998") as other:
        assert isinstance(other, KuboStore)
    with pytest.raises(StoreConfigError, match="unknown store type 's3'"):
        open_store("s3:bucket")
    with pytest.raises(StoreConfigError):
        open_store("")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreConfigError):
        LocalStore(tmp_path / "file")


def test_register_store(tmp_path: Path) -> None:
    made = []

    def factory(rest: str, **options: object) -> LocalStore:
        made.append(rest)
        return LocalStore(tmp_path / rest)

    register_store("memtest", factory)
    try:
        assert isinstance(open_store("memtest:x"), LocalStore) and made == ["x"]
        assert "memtest" in store_schemes()
        with pytest.raises(StoreConfigError):
            register_store("http", factory)
    finally:
        registry._FACTORIES.pop("memtest", None)


def test_default_store_spec() -> None:
    assert default_store_spec({}) == "local:~/.fedchain/store"
    assert default_store_spec({"FEDCHAIN_KUBO_API": "http://h:5001"}) == "kubo:http://h:5001"
    env = {"FEDCHAIN_STORE": "/data/s", "FEDCHAIN_KUBO_API": "http://h:5001"}
    assert default_store_spec(env) == "/data/s"
