"""``fedchain ipfs``: content-addressed storage commands (CIDs, the local store, Kubo).

Thin: every command parses its options, calls :mod:`fedchain.storage`, prints. Errors are
:class:`~fedchain.errors.FedChainError` subclasses that the root ``main()`` turns into one line.
``--store`` takes the store spec every other command takes (``local:DIR``, ``kubo:URL``, an
``http(s)://`` URL or a plain directory); ``--kubo URL`` is kept as a shorthand for ``kubo:URL``.
Without either the store is ``$FEDCHAIN_STORE`` (a store spec), else the Kubo node at
``$FEDCHAIN_KUBO_API``, else the local store in ``~/.fedchain/store``.

Only the CID code is imported up front (the stores and their HTTP client load when a command
opens one), so ``fedchain ipfs cid`` starts fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedchain.errors import ConfigError
from fedchain.storage.cid import compute_cid_file, verify_cid_file
from fedchain.storage.errors import IntegrityError
from fedchain.storage.multiformats import cid_to_digest, digest_to_cid, parse_cid
from fedchain.storage.registry import default_store_spec, open_store, store_scheme

if TYPE_CHECKING:
    from fedchain.storage.base import BlobStore

__all__ = ["app"]

app = typer.Typer(
    help="Content-addressed model storage: CIDs, local store, Kubo.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_CLI_KUBO_RETRIES = 2

FileArg = Annotated[Path, typer.Argument(help="The file.", show_default=False)]
CidArg = Annotated[str, typer.Argument(help="The CID (Qm... or b...).", show_default=False)]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Blob store spec: local:DIR, kubo:URL or a directory (default: $FEDCHAIN_STORE, "
        "kubo:$FEDCHAIN_KUBO_API, local:~/.fedchain/store).",
        show_default=False,
    ),
]
KuboOpt = Annotated[
    str | None,
    typer.Option(
        "--kubo",
        help="Kubo RPC API URL, e.g. http://127.0.0.1:5001 (same as --store kubo:URL).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _open(store: str | None, kubo: str | None) -> BlobStore:
    """The store named by ``--store SPEC`` or ``--kubo URL``, else the default spec."""
    if store is not None and kubo is not None:
        raise ConfigError("give --store or --kubo, not both")
    if kubo is not None:
        if not kubo.strip():
            raise ConfigError("--kubo needs a URL, e.g. http://127.0.0.1:5001")
        spec = "kubo:" + kubo.strip()
    elif store is not None:
        spec = store
    else:
        spec = default_store_spec()
    options: dict[str, Any] = {}
    if store_scheme(spec) == "kubo":
        options["retries"] = _CLI_KUBO_RETRIES
    return open_store(spec, **options)


def _describe(cid: str) -> dict[str, Any]:
    parsed = parse_cid(cid)
    digest, codec = cid_to_digest(parsed)
    return {
        "cid": cid,
        "cid_v1": parsed.key,
        "digest": "0x" + digest.hex(),
        "codec": parsed.codec_name,
        "codec_code": codec,
    }


def _emit(as_json: bool, plain: str, payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, sort_keys=True) if as_json else plain)


@app.command("cid")
def cid_command(
    file: FileArg,
    cid_version: Annotated[
        int, typer.Option("--cid-version", help="0 (Qm..., dag-pb leaves) or 1 (b..., raw leaves).")
    ] = 1,
    raw_leaves: Annotated[
        bool | None,
        typer.Option("--raw-leaves/--no-raw-leaves", help="Default: Kubo's for the version."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the CID that `ipfs add` gives FILE (computed here, streaming; nothing is stored)."""
    cid = compute_cid_file(file, cid_version=cid_version, raw_leaves=raw_leaves)
    _emit(as_json, cid, {**_describe(cid), "size": os.stat(file).st_size})


@app.command("put")
def put_command(
    file: FileArg,
    store: StoreOpt = None,
    kubo: KuboOpt = None,
    pin: Annotated[bool, typer.Option("--pin/--no-pin", help="Protect it from gc.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Store FILE and print its CID."""
    with _open(store, kubo) as target:
        cid = target.put_file(file, pin=pin)
        where = target.describe()
    _emit(as_json, cid, {**_describe(cid), "size": os.stat(file).st_size, "store": where})


@app.command("get")
def get_command(
    cid: CidArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File to write.", show_default=False)
    ],
    store: StoreOpt = None,
    kubo: KuboOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch CID, check it, and write it to OUTPUT atomically."""
    parse_cid(cid)  # a bad CID fails before any store is opened
    with _open(store, kubo) as source:
        path = source.get_file(cid, output, overwrite=force)
        where = source.describe()
    _emit(
        as_json,
        str(path),
        {**_describe(cid), "output": str(path), "size": path.stat().st_size, "store": where},
    )


@app.command("verify")
def verify_command(file: FileArg, cid: CidArg, as_json: JsonOpt = False) -> None:
    """Check that FILE is the content CID addresses (exit 1 if not)."""
    if not verify_cid_file(file, cid):
        raise IntegrityError(f"{file} does not match {cid}")
    _emit(as_json, f"ok: {file} matches {cid}", {**_describe(cid), "file": str(file), "ok": True})


@app.command("digest")
def digest_command(cid: CidArg, as_json: JsonOpt = False) -> None:
    """Print the on-chain form of CID: its sha2-256 digest (bytes32) and codec."""
    info = _describe(cid)
    _emit(as_json, f"{info['digest']} {info['codec']}", info)


@app.command("from-digest")
def from_digest_command(
    digest: Annotated[str, typer.Argument(help="0x + 64 hex digits.", show_default=False)],
    codec: Annotated[str, typer.Option("--codec", help="raw or dag-pb.")] = "raw",
    cid_version: Annotated[int, typer.Option("--cid-version", help="0 or 1.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the CID from an on-chain digest and codec."""
    codes = {"raw": 0x55, "dag-pb": 0x70}
    if codec not in codes:
        raise ConfigError(f"--codec must be raw or dag-pb, not {codec!r}")
    try:
        raw = bytes.fromhex(digest.removeprefix("0x"))
    except ValueError:
        raise ConfigError(f"not a hex digest: {digest!r}") from None
    cid = digest_to_cid(raw, codes[codec], version=cid_version)
    _emit(as_json, cid, _describe(cid))
