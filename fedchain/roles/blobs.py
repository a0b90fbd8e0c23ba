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
from fedchain.roles.taskfile import TaskFileError, TaskManifest
from fedchain.storage import (
    BlobStore,
    ModelMetadata,
    cid_to_digest,
    decode_model,
    digest_to_cid,
    encode_model,
)

__all__ = [
    "MANIFEST_KEY",
    "VERDICT_KEY",
    "FetchedModel",
    "PublishedModel",
    "fetch_model",
    "publish_model",
    "read_manifest",
    "read_verdict_notes",
    "verdict_notes_text",
]

#: Metadata key of the task manifest inside the initial model blob.
MANIFEST_KEY = "fedchain_task"
#: Metadata key of the round's verdict notes inside a global model blob (a JSON object).
VERDICT_KEY = "fedchain_verdict"


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
