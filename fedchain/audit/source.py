"""Where an audit (or the explorer) reads a task from: a node and a deployment file, or a
demo's run directory; and the store that holds the blobs.

No key is needed: everything is read. A run directory holds ``deployment.json`` and either
``chain.json`` (the embedded chain recorded by the demo, :mod:`fedchain.audit.recording`) or,
when the demo ran against a node that outlives it, the node's URL in ``deployment.json``
(``rpc_url``); its blobs are in ``store/`` unless another store is named.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from web3 import Web3

from fedchain.audit.recording import RECORDING_FILE, RecordedProvider, RecordingError
from fedchain.chain.connection import Chain, connect
from fedchain.chain.deploy import Deployment, DeploymentError
from fedchain.errors import ConfigError
from fedchain.storage import BlobStore, open_store

__all__ = ["DEPLOYMENT_FILE", "AuditSource", "SourceError", "open_source"]

#: The deployment file's name inside a run directory.
DEPLOYMENT_FILE = "deployment.json"


class SourceError(ConfigError):
    """The chain, deployment or store to audit cannot be opened (one line for the user)."""


@dataclass
class AuditSource:
    """An open chain, its deployment and a store.

    Attributes:
        chain: the connection (``kind`` ``"recorded"`` for a run directory's ``chain.json``).
        deployment: the FedChain contracts.
        store: the blob store.
        from_block: the first block with the deployment's events.
        where: the source in words (for reports).
    """

    chain: Chain
    deployment: Deployment
    store: BlobStore
    from_block: int
    where: str

    def close(self) -> None:
        """Close the store and the connection."""
        self.store.close()
        self.chain.close()

    def __enter__(self) -> AuditSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _read_deployment_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"deployment file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"deployment file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"deployment file {path} is not a JSON object")
    return data


def _store_spec(store: str | None, run_dir: Path | None) -> str:
    if store:
        if "://" in store and not store.startswith(("kubo:", "local:")):
            return "kubo:" + store  # an IPFS RPC URL
        return store if ":" in store.split("/")[0] else f"local:{store}"
    if run_dir is not None:
        return f"local:{run_dir / 'store'}"
    raise SourceError("name the store holding the task's blobs: --store DIR or --store URL")


def open_source(
    *,
    rpc_url: str | None = None,
    deployment: str | os.PathLike[str] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    store: str | None = None,
) -> AuditSource:
    """Open a node + deployment file, or a run directory, with its store.

    Args:
        rpc_url: a JSON-RPC node (default: the deployment file's ``rpc_url``).
        deployment: the deployment file (default: the run directory's).
        run_dir: a ``fedchain demo`` run directory.
        store: ``local:DIR``, a directory, ``kubo:URL`` or an IPFS RPC ``http(s)://`` URL
            (default: the run directory's ``store/``).

    Raises:
        SourceError: nothing to open, a missing or wrong file, a node that does not answer.
    """
    directory = Path(run_dir) if run_dir is not None else None
    if directory is not None and not directory.is_dir():
        raise SourceError(f"run directory {directory} does not exist")
    if deployment is None and directory is None:
        raise SourceError("name what to audit: --deployment FILE (with --rpc-url) or --run-dir")
    dep_path = Path(deployment) if deployment is not None else directory / DEPLOYMENT_FILE  # type: ignore[operator]
    data = _read_deployment_file(dep_path)
    chain, where = _open_chain(rpc_url, data, directory, dep_path)
    try:
        try:
            bound = Deployment.from_json(chain, data)
        except DeploymentError as exc:
            raise SourceError(f"{dep_path}: {exc}") from None
        blob_store = open_store(_store_spec(store, directory))
    except BaseException:
        chain.close()
        raise
    return AuditSource(
        chain=chain, deployment=bound, store=blob_store, from_block=bound.deployed_block,
        where=where,
    )  # fmt: skip


def _open_chain(
    rpc_url: str | None, data: dict[str, Any], directory: Path | None, dep_path: Path
) -> tuple[Chain, str]:
    recording = directory / RECORDING_FILE if directory is not None else None
    if rpc_url is None and recording is not None and recording.exists():
        try:
            provider = RecordedProvider(recording)
        except RecordingError as exc:
            raise SourceError(str(exc)) from None
        return Chain(Web3(provider), kind="recorded"), f"the recorded chain {recording}"
    url = rpc_url or data.get("rpc_url")
    if not url:
        raise SourceError(
            f"{dep_path} names no node: pass --rpc-url URL (the node the deployment is on)"
        )
    return connect(str(url)), str(url)
