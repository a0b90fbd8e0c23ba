"""Model blobs between the store and the chain: publish, fetch and check.

A model travels as a safetensors blob (:mod:`fedchain.storage.codec`); the chain holds its
CID's sha2-256 digest and codec. :func:`fetch_model` rebuilds the CID from what the chain
says, lets the store verify the bytes against it, then validates the tensors against the task's
model spec (names, shapes, dtype, finiteness, size): whatever a stranger uploads, the worst a
reader gets is a :class:`~fedchain.storage.errors.StorageError`.

The initial model also carries the task's manifest (:class:`~fedchain.roles.taskfile.
TaskManifest`) in its metadata under :data:`MANIFEST_KEY`, so clients and miners learn the
model, training, privacy and verification settings from the chain and the store alone.

Each global model carries its round's verdict notes under :data:`VERDICT_KEY`: the accepted and
aggregated client indices and the reason for every rejection (:func:`read_verdict_notes`), so a
client learns why it was rejected and an auditor what the aggregate was made of.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedchain.learning import ModelSpec, state_shapes
from fedchain.roles.errors import RoleError
from fedchain.roles.judging import CheckedUpdate
from fedchain.roles.taskfile import TaskFileError, TaskManifest
from fedchain.storage import (
    BlobNotFoundError,
    BlobStore,
    ModelMetadata,
    cid_to_digest,
    decode_model,
    digest_to_cid,
    encode_model,
)
from fedchain.storage.errors import KuboError, StorageError

__all__ = [
    "MANIFEST_KEY",
    "PRIVACY_KEY",
    "RELEASE_KEY",
    "VERDICT_KEY",
    "FetchedModel",
    "PublishedModel",
    "check_submission",
    "fetch_model",
    "privacy_declaration",
    "publish_model",
    "read_manifest",
    "read_verdict_notes",
    "verdict_notes_text",
]

#: Metadata key of the task manifest inside the initial model blob.
MANIFEST_KEY = "fedchain_task"
#: Metadata key of an update's privacy declaration (a JSON object: ``mechanism``, ``params``
#: and the ``epsilon`` this release spent, None when nothing was trained).
PRIVACY_KEY = "fedchain_privacy"
#: Metadata key of the round's verdict notes inside a global model blob (a JSON object).
VERDICT_KEY = "fedchain_verdict"
#: Metadata key of the release perturbation inside a perturbed final model (the manifest's
#: ``release``: mechanism, epsilon, sensitivity).
RELEASE_KEY = "fedchain_release"


@dataclass(frozen=True)
class PublishedModel:
    """A blob put on the store: its CID and what the chain stores of it."""

    cid: str
    digest: bytes
    codec: int


@dataclass(frozen=True)
class FetchedModel:
    """A checked model: the tensors, the blob's metadata and its CID."""

    state: dict[str, np.ndarray]
    metadata: ModelMetadata
    cid: str


def publish_model(
    store: BlobStore,
    state: Mapping[str, np.ndarray],
    metadata: ModelMetadata,
    *,
    check_finite: bool = True,
) -> PublishedModel:
    """Encode ``state`` with ``metadata``, put it on ``store`` (pinned) and return its address."""
    blob = encode_model(state, metadata=metadata, check_finite=check_finite)
    cid = store.put(blob)
    digest, codec = cid_to_digest(cid)
    return PublishedModel(cid=cid, digest=digest, codec=codec)


def fetch_model(
    store: BlobStore, digest: bytes, codec: int, *, spec: ModelSpec | None = None
) -> FetchedModel:
    """Fetch the blob the chain names by ``(digest, codec)`` and validate it.

    With ``spec`` the tensors must be exactly the spec's, float32 and finite.

    Raises:
        StorageError: missing blob, bytes that do not match the CID, malformed blob, wrong
            tensors, NaN/inf, oversize (every subclass names what is wrong).
    """
    cid = digest_to_cid(bytes(digest), int(codec))
    blob = store.get(cid)
    shapes = state_shapes(spec) if spec is not None else None
    state, metadata = decode_model(blob, expected_shapes=shapes)
    return FetchedModel(state=state, metadata=metadata, cid=cid)


def read_manifest(initial: FetchedModel) -> TaskManifest:
    """The task manifest carried by the initial model blob.

    Raises:
        RoleError: the blob carries no manifest, or one that does not parse or does not match
            the blob's own model spec hash.
    """
    text = initial.metadata.extra.get(MANIFEST_KEY)
    if text is None:
        raise RoleError(f"the initial model {initial.cid} carries no task manifest")
    try:
        manifest = TaskManifest.from_json(text)
    except TaskFileError as exc:
        raise RoleError(f"the task manifest in {initial.cid} is invalid: {exc}") from None
    if "0x" + manifest.model.spec_hash() != initial.metadata.model_spec_hash:
        raise RoleError(f"the task manifest in {initial.cid} names another model spec")
    return manifest


def privacy_declaration(privacy: Any, epsilon: float | None) -> str:
    """What an update declares of its privacy (:data:`PRIVACY_KEY`): the task's mechanism and
    parameters it trained under and the ε this release spent (None: nothing was trained, or
    the mechanism gives no ε). Canonical JSON."""
    config = privacy.to_dict() if privacy is not None else {"mechanism": "none", "params": {}}
    return json.dumps(
        {**config, "epsilon": None if epsilon is None else float(epsilon)},
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip


def verdict_notes_text(notes: Mapping[str, Any]) -> str:
    """The canonical JSON of verdict notes (sorted keys: every member writes the same bytes)."""
    return json.dumps(notes, sort_keys=True, separators=(",", ":"))


def read_verdict_notes(model: FetchedModel) -> dict[str, Any] | None:
    """The verdict notes of a global model: ``{"accepted": [...], "aggregated": [...],
    "reasons": {"<index>": "<why>"}}``, or None when the blob carries none (or garbage)."""
    text = model.metadata.extra.get(VERDICT_KEY)
    if text is None:
        return None
    try:
        notes = json.loads(text)
    except ValueError:
        return None
    if not isinstance(notes, dict):
        return None
    reasons = notes.get("reasons", {})
    if not isinstance(reasons, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in reasons.items()
    ):
        return None
    for key in ("accepted", "aggregated"):
        value = notes.get(key, [])
        if not isinstance(value, list) or not all(isinstance(i, int) for i in value):
            return None
    return notes


def check_submission(
    store: BlobStore,
    spec: ModelSpec,
    *,
    task_id: int,
    round: int,
    index: int,
    event: Any,
    weight: int,
    reraise: tuple[type[StorageError], ...] = (),
) -> CheckedUpdate:
    """One client's ``UpdateSubmitted`` checked as every committee member (and the auditor)
    checks it: the blob must match the on-chain digest (the store verifies the CID), decode
    as the task's model spec (names, shapes, float32, finite, size limit) and name the right
    task, round, author, sample count and kind. The author binding is the M6 signature check:
    the contract recorded the submission under the transaction sender or the EIP-712 signer,
    and the blob must say the same.

    Args:
        weight: the update's FedAvg weight (its claimed count capped at the count fixed at join).
        reraise: storage errors to raise rather than record as the update's problem (the
            auditor tells a blob the store lost or corrupted from a client's bad blob).

    Returns:
        The checked update; its ``problem`` says what failed.

    Raises:
        KuboError: the store cannot be reached now (the caller abstains and retries).
    """
    args = event.args
    claimed = int(args["numSamples"])
    try:
        fetched = fetch_model(store, args["digest"], int(args["codec"]), spec=spec)
    except reraise:
        raise
    except BlobNotFoundError:
        return CheckedUpdate(index, weight, None, "blob not found on the store")
    except KuboError:
        raise
    except StorageError as exc:
        return CheckedUpdate(index, weight, None, f"invalid blob: {exc}")
    meta = fetched.metadata
    expected = {
        "task_id": task_id, "round": round, "author": str(args["client"]).lower(),
        "num_samples": claimed, "kind": "local", "model_spec_hash": "0x" + spec.spec_hash(),
    }  # fmt: skip
    for key, want in expected.items():
        got = getattr(meta, key)
        if (got.lower() if isinstance(got, str) else got) != want:
            return CheckedUpdate(index, weight, None, f"blob {key} is {got!r}, not {want!r}")
    return CheckedUpdate(index, weight, fetched.state)
