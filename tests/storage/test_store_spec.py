"""Store specs: one syntax for every command (``local:DIR``, a directory, ``kubo:URL``, a URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedchain.storage import KuboStore, LocalStore, StoreConfigError, open_store
from fedchain.storage.registry import store_scheme


@pytest.mark.parametrize(
    ("spec", "scheme"),
    [
        ("local:/var/store", "local"),
        ("LOCAL:rel/dir", "local"),
        ("/var/store", "local"),
        ("rel/dir", "local"),
        ("./a:b", "local"),
        ("C:store", "local"),  # a one-letter scheme is a path (a Windows drive)
        (Path("x"), "local"),
        ("kubo:http://127.0.0.1:5001", "kubo"),
        ("kubo:", "kubo"),
        ("http://127.0.0.1:5001", "kubo"),
        ("https://ipfs.example:5001", "kubo"),
    ],
)
def test_store_scheme(spec: str | Path, scheme: str) -> None:
    assert store_scheme(spec) == scheme


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty store specification"),
        ("   ", "empty store specification"),
        ("lcoal:dir", "unknown store type 'lcoal'"),
    ],
)
def test_store_scheme_refuses_what_open_store_refuses(spec: str, message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        store_scheme(spec)
    with pytest.raises(StoreConfigError, match=message):
        open_store(spec)


def test_local_spec_opens_the_directory_not_a_directory_named_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("local:st") as store:
        assert isinstance(store, LocalStore)
        cid = store.put(b"hello\n")
    assert LocalStore(tmp_path / "st").get(cid) == b"hello\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st"]
    with pytest.raises(StoreConfigError, match="local: needs a directory"):
        open_store("local:  ")


def test_kubo_spec_passes_options_to_the_store() -> None:
    with open_store("kubo:http://127.0.0.1:9", retries=0) as store:
        assert isinstance(store, KuboStore)
        assert "127.0.0.1:9" in store.describe()
