"""``fedchain account``: encrypted keystore files (Ethereum V3 JSON) for participants' keys.

Thin: every command parses its options, calls :mod:`fedchain.chain.keys`, prints. Only
addresses are ever printed; passwords and keys are read from environment variables or hidden
prompts. Errors are :class:`~fedchain.errors.FedChainError` subclasses that the root ``main()``
turns into one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from fedchain.chain.keys import (
    LIGHT_SCRYPT_N,
    PASSWORD_ENV,
    PRIVATE_KEY_ENV,
    KeyLoadError,
    create_keystore,
    keystore_address,
    parse_private_key,
)

__all__ = ["app"]

app = typer.Typer(
    help="Participants' keys in encrypted keystore files (Ethereum V3 JSON).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

KeystoreOpt = Annotated[
    Path,
    typer.Option("--keystore", help="The keystore file (Ethereum V3 JSON).", show_default=False),
]
PasswordEnvOpt = Annotated[
    str,
    typer.Option(
        "--password-env",
        help="Environment variable holding the new keystore's password; when it is unset the "
        "password is asked for twice, hidden.",
    ),
]
LightKdfOpt = Annotated[
    bool,
    typer.Option(
        "--light-kdf",
        help=f"scrypt with N={LIGHT_SCRYPT_N} (4 MiB) instead of 262144 (256 MiB), for small "
        "devices; weaker against password guessing.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _refuse_existing(keystore: Path) -> None:
    """Fail before asking for anything (create_keystore checks again, atomically)."""
    if keystore.exists():
        raise KeyLoadError(f"keystore {keystore} exists; refusing to overwrite it")


def _new_password(password_env: str) -> str:
    password = os.environ.get(password_env)
    if password is not None:
        return password
    entered: str = typer.prompt(
        "Keystore password", hide_input=True, confirmation_prompt=True, err=True
    )
    return entered


def _emit(as_json: bool, address: str, keystore: Path) -> None:
    payload = {"address": address, "keystore": str(keystore)}
    typer.echo(json.dumps(payload, sort_keys=True) if as_json else address)


@app.command("new")
def new_command(
    keystore: KeystoreOpt,
    password_env: PasswordEnvOpt = PASSWORD_ENV,
    light_kdf: LightKdfOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a new random key, save it encrypted in KEYSTORE (mode 0600), print its address."""
    _refuse_existing(keystore)
    password = _new_password(password_env)
    address = create_keystore(
        keystore, password=password, kdf_iterations=LIGHT_SCRYPT_N if light_kdf else None
    )
    _emit(as_json, address, keystore)


@app.command("import")
def import_command(
    keystore: KeystoreOpt,
    password_env: PasswordEnvOpt = PASSWORD_ENV,
    light_kdf: LightKdfOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Encrypt a key from $FEDCHAIN_PRIVATE_KEY or a hidden prompt into KEYSTORE.

    The key is 64 hex digits, with or without 0x; only its address is printed.
    """
    _refuse_existing(keystore)
    if os.environ.get(PRIVATE_KEY_ENV):
        key = parse_private_key(os.environ[PRIVATE_KEY_ENV], what=PRIVATE_KEY_ENV)
    else:
        entered: str = typer.prompt("Private key (hex)", hide_input=True, err=True)
        key = parse_private_key(entered, what="the key entered")
    password = _new_password(password_env)
    address = create_keystore(
        keystore,
        password=password,
        private_key=key,
        kdf_iterations=LIGHT_SCRYPT_N if light_kdf else None,
    )
    _emit(as_json, address, keystore)


@app.command("address")
def address_command(keystore: KeystoreOpt, as_json: JsonOpt = False) -> None:
    """Print the address of KEYSTORE (read from the file, without decrypting it)."""
    _emit(as_json, keystore_address(keystore), keystore)
