"""Participants' private keys: an encrypted keystore file, or an environment variable.

A keystore is Ethereum's V3 JSON (what geth, Foundry's ``cast wallet`` and MetaMask export): the
key encrypted under a password-derived key (scrypt by default)::

    address = create_keystore("miner.json", password=pw)   # a new random key, mode 0600
    account = load_account(keystore="miner.json")            # $FEDCHAIN_KEYSTORE_PASSWORD
    account = load_account(keystore="miner.json", prompt=getpass.getpass)  # or asked for
    account = load_account()                                 # the key: $FEDCHAIN_PRIVATE_KEY

Secrets stay secret: no message, exception or log line of this module contains a key or a
password, and exceptions are raised ``from None`` so that no library error that might quote one
is chained to them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eth_utils import is_address, to_checksum_address

from fedchain.chain.errors import ChainError
from fedchain.errors import ConfigError
from fedchain.fsutil import atomic_output
from fedchain.jsonfile import read_json_file

if TYPE_CHECKING:  # eth_account costs about 1 s to import: only the functions that sign load it
    from eth_account.signers.local import LocalAccount

__all__ = [
    "LIGHT_SCRYPT_N",
    "PASSWORD_ENV",
    "PASSWORD_PROMPT",
    "PRIVATE_KEY_ENV",
    "KeyLoadError",
    "create_keystore",
    "keystore_address",
    "load_account",
    "parse_private_key",
]

#: Environment variable holding a hex private key (used when no keystore is given).
PRIVATE_KEY_ENV = "FEDCHAIN_PRIVATE_KEY"
#: Environment variable holding the keystore password.
PASSWORD_ENV = "FEDCHAIN_KEYSTORE_PASSWORD"
#: What :func:`load_account` asks its ``prompt`` for.
PASSWORD_PROMPT = "Keystore password: "
#: scrypt's N for small devices (geth's ``--lightkdf``): 4 MiB of memory instead of 256 MiB.
LIGHT_SCRYPT_N = 4096


class KeyLoadError(ChainError, ConfigError):
    """A key cannot be loaded or saved: no key given, wrong password, bad keystore file.

    Its message never contains a key or a password.
    """


def parse_private_key(value: str | bytes, *, what: str) -> bytes:
    """The 32-byte private key in ``value`` (hex with or without ``0x``, or raw bytes).

    Raises:
        KeyLoadError: ``"<what> is not a 32-byte hex private key"`` (the value is not echoed).
    """
    problem = KeyLoadError(f"{what} is not a 32-byte hex private key")
    if isinstance(value, str):
        text = value.strip()
        text = text[2:] if text[:2] in ("0x", "0X") else text
        if len(text) != 64:
            raise problem
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise problem from None
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise problem
    from eth_account import Account

    try:
        Account.from_key(bytes(value))  # 0 and values >= the curve order are not keys
    except Exception:
        raise problem from None
    return bytes(value)


def _read_keystore(path: Path) -> dict[str, Any]:
    data = read_json_file(path, what="keystore file", error=KeyLoadError)
    if not isinstance(data, dict) or not isinstance(data.get("crypto", data.get("Crypto")), dict):
        raise KeyLoadError(f"keystore {path} is not an Ethereum keystore (no crypto section)")
    return data


def keystore_address(path: str | os.PathLike[str]) -> str:
    """The checksummed address a keystore file names, read without decrypting it.

    Raises:
        KeyLoadError: no such file, not a keystore, or no valid ``address`` field.
    """
    keystore = Path(path)
    address = _read_keystore(keystore).get("address")
    if not isinstance(address, str) or not is_address(_with_0x(address)):
        raise KeyLoadError(f"keystore {keystore} has no valid address field")
    return to_checksum_address(_with_0x(address))


def _with_0x(address: str) -> str:
    return address if address[:2] in ("0x", "0X") else "0x" + address


def load_account(
    *,
    keystore: str | os.PathLike[str] | None = None,
    key_env: str = PRIVATE_KEY_ENV,
    password_env: str = PASSWORD_ENV,
    password: str | None = None,
    prompt: Callable[[str], str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LocalAccount:
    """A participant's account, from a keystore file or from an environment variable.

    Args:
        keystore: a V3 keystore file. Its password is ``password``, else ``environ[password_env]``,
            else ``prompt(PASSWORD_PROMPT)`` (e.g. ``getpass.getpass``).
        key_env: without a keystore, the variable holding the hex private key.
        password_env: the variable holding the keystore password.
        password: the keystore password itself.
        prompt: asks for the password when neither ``password`` nor the variable is given.
        environ: the environment to read (default ``os.environ``).

    Raises:
        KeyLoadError: no key given, no password, wrong password, an unreadable or invalid
            keystore, or a malformed key in ``key_env``.
    """
    from eth_account import Account

    env = os.environ if environ is None else environ
    if keystore is None:
        value = env.get(key_env)
        if not value:
            raise KeyLoadError(f"no key: pass --keystore FILE or set {key_env}")
        return Account.from_key(parse_private_key(value, what=key_env))
    path = Path(keystore)
    data = _read_keystore(path)
    if password is None:
        password = env.get(password_env)
    if password is None and prompt is not None:
        password = prompt(PASSWORD_PROMPT)
    if password is None:
        raise KeyLoadError(f"no password for keystore {path}: set {password_env}")
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "mismatch" in str(exc):  # "MAC mismatch" (V3), "Checksum mismatch" (V4)
            raise KeyLoadError(f"wrong password for keystore {path}") from None
        raise KeyLoadError(f"keystore {path} is invalid (cannot decrypt it)") from None
    except Exception:
        raise KeyLoadError(f"keystore {path} is invalid (cannot decrypt it)") from None
    account: LocalAccount = Account.from_key(key)
    named = data.get("address")
    if isinstance(named, str) and named.lower().removeprefix("0x") != account.address[2:].lower():
        raise KeyLoadError(f"keystore {path} holds another key than its address field names")
    return account


def create_keystore(
    path: str | os.PathLike[str],
    *,
    password: str,
    private_key: bytes | str | None = None,
    overwrite: bool = False,
    kdf: Literal["scrypt", "pbkdf2"] = "scrypt",
    kdf_iterations: int | None = None,
) -> str:
    """Encrypt a key into a V3 keystore file and return its checksummed address.

    The file is written atomically (a temporary file, then a rename) with mode 0600.

    Args:
        path: the keystore file to write.
        password: the password (not empty).
        private_key: the key (32 bytes or hex); a new random key when ``None``.
        overwrite: replace an existing file (else :class:`KeyLoadError`).
        kdf: ``"scrypt"`` (the default of geth and eth-account) or ``"pbkdf2"``.
        kdf_iterations: scrypt's N (a power of two; default 262144, :data:`LIGHT_SCRYPT_N` for
            small devices) or PBKDF2's iteration count (default 1,000,000).

    Raises:
        KeyLoadError: the file exists, an empty password, a malformed key, bad KDF parameters,
            or the file cannot be written.
    """
    target = Path(path)
    if not password:
        raise KeyLoadError("the keystore password must not be empty")
    if kdf not in ("scrypt", "pbkdf2"):
        raise KeyLoadError(f"unknown key derivation function {kdf!r}; use scrypt or pbkdf2")
    n = kdf_iterations
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise KeyLoadError(f"kdf_iterations must be a positive integer, got {n!r}")
    if n is not None and kdf == "scrypt" and (n < 2 or n & (n - 1)):
        raise KeyLoadError(f"scrypt's N (kdf_iterations) must be a power of two > 1, got {n}")
    from eth_account import Account

    if private_key is None:
        account: LocalAccount = Account.create()
    else:
        account = Account.from_key(parse_private_key(private_key, what="private_key"))
    if target.exists() and not overwrite:  # fail before the slow key derivation
        raise _keystore_exists(target)
    document = Account.encrypt(account.key, password, kdf=kdf, iterations=kdf_iterations)
    _write_private(target, json.dumps(document).encode(), overwrite=overwrite)
    return account.address


def _write_private(target: Path, payload: bytes, *, overwrite: bool) -> None:
    """Write ``payload`` to ``target`` atomically with mode 0600; never clobber unless asked."""
    try:
        with atomic_output(
            target, overwrite=overwrite, mode=0o600, exists_error=_keystore_exists
        ) as fh:
            fh.write(payload)
    except OSError as exc:
        raise KeyLoadError(f"cannot write keystore {target}: {exc.strerror or exc}") from None


def _keystore_exists(target: Path) -> KeyLoadError:
    return KeyLoadError(f"keystore {target} exists; refusing to overwrite it")
