"""Keys from keystore files and environment variables: round trips, every error, no secret in
any message."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak

from fedchain.chain.errors import ChainError
from fedchain.chain.keys import (
    LIGHT_SCRYPT_N,
    PASSWORD_ENV,
    PASSWORD_PROMPT,
    PRIVATE_KEY_ENV,
    KeyLoadError,
    create_keystore,
    keystore_address,
    load_account,
    parse_private_key,
)
from fedchain.errors import ConfigError

KEY = keccak(b"fedchain/tests/keys")
KEY_HEX = KEY.hex()
ADDRESS = Account.from_key(KEY).address
PASSWORD = "correct horse battery staple"
FAST: dict[str, Any] = {"kdf": "scrypt", "kdf_iterations": LIGHT_SCRYPT_N}
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def assert_no_secret(exc: BaseException, *secrets: str) -> None:
    """Neither the message nor a chained exception carries a secret."""
    text = f"{exc} {exc!r}"
    for secret in filter(None, (KEY_HEX, PASSWORD, *secrets)):
        assert secret not in text and secret.lower() not in text.lower()
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None
    assert "\n" not in str(exc)


def failure(**kwargs: Any) -> KeyLoadError:
    with pytest.raises(KeyLoadError) as info:
        load_account(**kwargs)
    assert_no_secret(info.value)
    return info.value


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    path = tmp_path / "key.json"
    assert create_keystore(path, password=PASSWORD, private_key=KEY, **FAST) == ADDRESS
    return path


def test_round_trip_and_file_mode(keystore: Path) -> None:
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    data = json.loads(keystore.read_text())
    assert data["version"] == 3 and data["crypto"]["kdfparams"]["n"] == LIGHT_SCRYPT_N
    assert KEY_HEX not in keystore.read_text() and PASSWORD not in keystore.read_text()
    assert keystore_address(keystore) == ADDRESS
    account = load_account(keystore=keystore, password=PASSWORD, environ={})
    assert account.address == ADDRESS and account.key == KEY
    assert Account.decrypt(data, PASSWORD) == KEY  # a plain V3 file any wallet reads
    assert [p.name for p in keystore.parent.iterdir()] == ["key.json"]  # no temp file left


def test_new_random_keys_and_pbkdf2(tmp_path: Path) -> None:
    first = create_keystore(tmp_path / "a.json", password=PASSWORD, **FAST)
    second = create_keystore(
        tmp_path / "b.json", password=PASSWORD, kdf="pbkdf2", kdf_iterations=10
    )
    assert first != second
    assert load_account(keystore=tmp_path / "a.json", password=PASSWORD).address == first
    assert load_account(keystore=tmp_path / "b.json", password=PASSWORD).address == second
    assert json.loads((tmp_path / "b.json").read_text())["crypto"]["kdfparams"]["c"] == 10


def test_a_keystore_written_by_eth_account_loads(tmp_path: Path) -> None:
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(Account.encrypt(KEY, PASSWORD, kdf="pbkdf2", iterations=2)))
    assert load_account(keystore=path, password=PASSWORD).address == ADDRESS
    assert keystore_address(path) == ADDRESS  # the file's address has no 0x and no checksum


def test_password_sources_in_order(keystore: Path) -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return PASSWORD

    env = {PASSWORD_ENV: PASSWORD}
    wrong_env = {PASSWORD_ENV: "nope"}
    assert load_account(keystore=keystore, environ=env, prompt=prompt).address == ADDRESS
    assert asked == []  # the variable wins over the prompt
    assert load_account(keystore=keystore, password=PASSWORD, environ=wrong_env).key == KEY
    assert load_account(keystore=keystore, environ={}, prompt=prompt).address == ADDRESS
    assert asked == [PASSWORD_PROMPT]
    custom = {"MY_PW": PASSWORD}
    assert load_account(keystore=keystore, password_env="MY_PW", environ=custom).key == KEY


def test_no_password(keystore: Path) -> None:
    exc = failure(keystore=keystore, environ={})
    assert str(exc) == f"no password for keystore {keystore}: set {PASSWORD_ENV}"
    exc = failure(keystore=keystore, environ={}, password_env="MY_PW")
    assert str(exc).endswith("set MY_PW")
    assert isinstance(exc, ChainError) and isinstance(exc, ConfigError)


def test_wrong_password(keystore: Path) -> None:
    exc = failure(keystore=keystore, password="hunter2", environ={})
    assert str(exc) == f"wrong password for keystore {keystore}"
    assert_no_secret(exc, "hunter2")


def test_bad_keystore_files(tmp_path: Path, keystore: Path) -> None:
    missing = tmp_path / "missing.json"
    assert str(failure(keystore=missing, password=PASSWORD)) == f"no keystore file {missing}"
    assert str(failure(keystore=tmp_path, password=PASSWORD)).startswith(
        f"cannot read keystore file {tmp_path}: "
    )
    bad = tmp_path / "bad.json"
    for content, problem in [
        (b"{not json", "is not JSON"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"[1, 2]", "is not an Ethereum keystore"),
        (b'{"version": 3}', "is not an Ethereum keystore"),
    ]:
        bad.write_bytes(content)
        msg = str(failure(keystore=bad, password=PASSWORD))
        assert str(bad) in msg and problem in msg
        with pytest.raises(KeyLoadError) as info:
            keystore_address(bad)
        assert str(bad) in str(info.value) and problem in str(info.value)
    data = json.loads(keystore.read_text())
    data["crypto"]["kdf"] = "argon2"
    bad.write_text(json.dumps(data))
    assert str(failure(keystore=bad, password=PASSWORD)) == f"keystore {bad} is invalid " + (
        "(cannot decrypt it)"
    )
    data = json.loads(keystore.read_text())
    data["address"] = "0x" + "ab" * 20  # another address than the key's
    bad.write_text(json.dumps(data))
    assert "holds another key than its address field names" in str(
        failure(keystore=bad, password=PASSWORD)
    )
    del data["address"]
    bad.write_text(json.dumps(data))
    with pytest.raises(KeyLoadError, match="has no valid address field"):
        keystore_address(bad)
    assert load_account(keystore=bad, password=PASSWORD).key == KEY  # decrypting needs none


@pytest.mark.parametrize(
    "value", [KEY_HEX, "0x" + KEY_HEX, "0X" + KEY_HEX.upper(), f" {KEY_HEX}\n"]
)
def test_key_from_the_environment(value: str) -> None:
    assert load_account(environ={PRIVATE_KEY_ENV: value}).key == KEY
    assert load_account(key_env="K", environ={"K": value}).address == ADDRESS


def test_no_key() -> None:
    msg = "no key: pass --keystore FILE or set FEDCHAIN_PRIVATE_KEY"
    assert str(failure(environ={})) == msg
    assert str(failure(environ={PRIVATE_KEY_ENV: ""})) == msg
    assert str(failure(environ={}, key_env="K")).endswith("set K")


@pytest.mark.parametrize(
    "value",
    [
        KEY_HEX[:-2],  # 31 bytes
        KEY_HEX + "00",  # 33 bytes
        KEY_HEX[:-1] + "g",  # not hex
        "0" * 64,  # zero is not a key
        f"{SECP256K1_N:064x}",  # the curve order is not a key
        "0x",
        "zz" * 32,
    ],
)
def test_malformed_keys_are_never_echoed(value: str) -> None:
    exc = failure(environ={PRIVATE_KEY_ENV: value})
    assert str(exc) == "FEDCHAIN_PRIVATE_KEY is not a 32-byte hex private key"
    assert_no_secret(exc, value.removeprefix("0x"))


def test_parse_private_key() -> None:
    assert parse_private_key(KEY, what="k") == KEY == parse_private_key("0x" + KEY_HEX, what="k")
    with pytest.raises(KeyLoadError, match=r"^k is not a 32-byte hex private key$"):
        parse_private_key(KEY[:31], what="k")


def test_create_refuses_to_overwrite(keystore: Path) -> None:
    before = keystore.read_bytes()
    with pytest.raises(KeyLoadError) as info:
        create_keystore(keystore, password=PASSWORD, **FAST)
    assert str(info.value) == f"keystore {keystore} exists; refusing to overwrite it"
    assert keystore.read_bytes() == before
    address = create_keystore(keystore, password="other", overwrite=True, **FAST)
    assert address != ADDRESS and keystore_address(keystore) == address
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert [p.name for p in keystore.parent.iterdir()] == ["key.json"]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"password": ""}, "the keystore password must not be empty"),
        ({"private_key": "0x1234"}, "private_key is not a 32-byte hex private key"),
        ({"private_key": b"\0" * 32}, "private_key is not a 32-byte hex private key"),
        ({"kdf": "argon2"}, "unknown key derivation function 'argon2'"),
        ({"kdf_iterations": 1000}, "must be a power of two > 1, got 1000"),
        ({"kdf_iterations": 0}, "kdf_iterations must be a positive integer, got 0"),
        ({"kdf": "pbkdf2", "kdf_iterations": True}, "must be a positive integer, got True"),
    ],
)
def test_create_errors(tmp_path: Path, kwargs: dict[str, Any], problem: str) -> None:
    args: dict[str, Any] = {"password": PASSWORD, **FAST, **kwargs}
    with pytest.raises(KeyLoadError) as info:
        create_keystore(tmp_path / "k.json", **args)
    assert problem in str(info.value)
    assert_no_secret(info.value, "1234")
    assert list(tmp_path.iterdir()) == []


def test_create_in_a_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "k.json"
    with pytest.raises(KeyLoadError) as info:
        create_keystore(target, password=PASSWORD, private_key=KEY, **FAST)
    assert str(info.value).startswith(f"cannot write keystore {target}: ")
