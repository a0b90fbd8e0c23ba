"""EIP-712 typed data the FedChain TaskManager verifies: signed updates (M6) and join permits.

The domain is ``{name: "FedChain TaskManager", version: "1", chainId, verifyingContract}``, so a
signature binds the chain and the TaskManager's address; the structs bind the task, the round and
the model digest::

    Update(uint256 taskId,uint64 round,bytes32 digest,uint32 numSamples,uint8 codec)
    JoinTask(uint256 taskId,uint256 mortgage)

A signature made for one (chain, contract, task, round) recovers to a different address anywhere
else, so the committee ignores it (it is not a member's submission). Signing goes through
``eth_account``'s standard typed-data encoder; keys never leave the ``LocalAccount``.
"""

from __future__ import annotations

import functools
from typing import Any

from coincurve import PublicKey
from eth_abi import encode
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from fedchain.chain.abi import digest32

__all__ = [
    "ATTESTATION_TYPES",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "JOIN_TYPES",
    "UPDATE_TYPES",
    "attestation_typed_data",
    "compact_vs",
    "domain",
    "domain_separator",
    "join_typed_data",
    "recover_update_signer",
    "sign_attestation",
    "sign_join",
    "sign_update",
    "split_vs",
    "typed_data_hash",
    "update_digest",
    "update_typed_data",
]

DOMAIN_NAME = "FedChain TaskManager"
DOMAIN_VERSION = "1"

_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
#: The ``Update`` struct of a signed submission.
UPDATE_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": _DOMAIN_FIELDS,
    "Update": [
        {"name": "taskId", "type": "uint256"},
        {"name": "round", "type": "uint64"},
        {"name": "digest", "type": "bytes32"},
        {"name": "numSamples", "type": "uint32"},
        {"name": "codec", "type": "uint8"},
    ],
}
#: The ``Attestation`` struct a committee member signs for the leader to relay.
ATTESTATION_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": _DOMAIN_FIELDS,
    "Attestation": [
        {"name": "taskId", "type": "uint256"},
        {"name": "round", "type": "uint64"},
        {"name": "verdictHash", "type": "bytes32"},
    ],
}
#: The ``JoinTask`` struct of a join permit.
JOIN_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": _DOMAIN_FIELDS,
    "JoinTask": [
        {"name": "taskId", "type": "uint256"},
        {"name": "mortgage", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def domain(*, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The EIP-712 domain of the TaskManager at ``verifying_contract`` on chain ``chain_id``."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": int(chain_id),
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def update_typed_data(
    *,
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    round: int,
    digest: bytes | str,
    num_samples: int,
    codec: int,
) -> dict[str, Any]:
    """The full EIP-712 message of an ``Update`` (what a wallet would show the client)."""
    return {
        "types": UPDATE_TYPES,
        "primaryType": "Update",
        "domain": domain(chain_id=chain_id, verifying_contract=verifying_contract),
        "message": {
            "taskId": int(task_id),
            "round": int(round),
            "digest": digest32(digest),
            "numSamples": int(num_samples),
            "codec": int(codec),
        },
    }


def join_typed_data(
    *,
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    mortgage: int,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The full EIP-712 message of a ``JoinTask`` permit."""
    return {
        "types": JOIN_TYPES,
        "primaryType": "JoinTask",
        "domain": domain(chain_id=chain_id, verifying_contract=verifying_contract),
        "message": {
            "taskId": int(task_id),
            "mortgage": int(mortgage),
            "nonce": int(nonce),
            "deadline": int(deadline),
        },
    }


def attestation_typed_data(
    *, chain_id: int, verifying_contract: str, task_id: int, round: int, verdict_hash: bytes
) -> dict[str, Any]:
    """The full EIP-712 message of an ``Attestation`` of a verdict hash."""
    return {
        "types": ATTESTATION_TYPES,
        "primaryType": "Attestation",
        "domain": domain(chain_id=chain_id, verifying_contract=verifying_contract),
        "message": {
            "taskId": int(task_id),
            "round": int(round),
            "verdictHash": digest32(verdict_hash),
        },
    }


def typed_data_hash(message: dict[str, Any]) -> bytes:
    """keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct(message)): what is signed."""
    signable = encode_typed_data(full_message=message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def compact_vs(v: int, s: bytes) -> bytes:
    """EIP-2098 compact ``vs`` = (v − 27) << 255 | s, as 32 bytes."""
    if v not in (27, 28):
        raise ValueError(f"v must be 27 or 28, got {v}")
    return ((v - 27) << 255 | int.from_bytes(s, "big")).to_bytes(32, "big")


def split_vs(vs: bytes) -> tuple[int, bytes]:
    """Inverse of :func:`compact_vs`: ``(v, s)``."""
    value = int.from_bytes(vs, "big")
    return 27 + (value >> 255), (value & ((1 << 255) - 1)).to_bytes(32, "big")


def _vrs(account: LocalAccount, message: dict[str, Any]) -> dict[str, Any]:
    signed = account.sign_message(encode_typed_data(full_message=message))
    return {"v": signed.v, "r": signed.r.to_bytes(32, "big"), "s": signed.s.to_bytes(32, "big")}


def sign_update(
    *,
    account: LocalAccount,
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    round: int,
    digest: bytes | str,
    num_samples: int,
    codec: int,
) -> dict[str, Any]:
    """Sign an update; returns the ``SignedUpdate`` struct for ``submitUpdatesBySig``
    (``digest, numSamples, codec, r, vs``), the signature in compact EIP-2098 form."""
    message = update_typed_data(
        chain_id=chain_id, verifying_contract=verifying_contract, task_id=task_id, round=round,
        digest=digest, num_samples=num_samples, codec=codec,
    )  # fmt: skip
    sig = _vrs(account, message)
    return {
        "digest": digest32(digest),
        "numSamples": int(num_samples),
        "codec": int(codec),
        "r": sig["r"],
        "vs": compact_vs(sig["v"], sig["s"]),
    }


def sign_join(
    *,
    account: LocalAccount,
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    mortgage: int,
    deadline: int,
    nonce: int = 0,
) -> dict[str, Any]:
    """Sign a join permit; returns the ``JoinSignature`` struct (``client, deadline, v, r, s``)
    for ``joinClientsBySig``. The mortgage must be the task's client mortgage, ``nonce`` the
    client's current ``joinNonce`` (revoking permits or leaving a task bumps it), and the
    permit is void after ``deadline`` (unix seconds)."""
    message = join_typed_data(
        chain_id=chain_id, verifying_contract=verifying_contract, task_id=task_id,
        mortgage=mortgage, nonce=nonce, deadline=deadline,
    )  # fmt: skip
    return {"client": account.address, "deadline": int(deadline), **_vrs(account, message)}


def sign_attestation(
    *,
    account: LocalAccount,
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    round: int,
    verdict_hash: bytes,
) -> dict[str, Any]:
    """Sign an attestation of ``verdict_hash``; returns the ``AttestationSignature`` struct
    (``r, vs``, compact EIP-2098) the leader relays with ``postVerdict``."""
    message = attestation_typed_data(
        chain_id=chain_id, verifying_contract=verifying_contract, task_id=task_id, round=round,
        verdict_hash=verdict_hash,
    )  # fmt: skip
    sig = _vrs(account, message)
    return {"r": sig["r"], "vs": compact_vs(sig["v"], sig["s"])}


def recover_update_signer(
    *,
    signed: dict[str, Any],
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    round: int,
) -> str:
    """The address a ``SignedUpdate`` recovers to in this (chain, contract, task, round): what a
    committee member and the auditor check against the task's clients. The digest is built as
    the contract builds it (:func:`update_digest`) and the key recovered with libsecp256k1."""
    digest = update_digest(
        chain_id=chain_id, verifying_contract=verifying_contract, task_id=task_id, round=round,
        digest=signed["digest"], num_samples=signed["numSamples"], codec=signed["codec"],
    )  # fmt: skip
    v, s = split_vs(signed["vs"])
    signature = bytes(digest32(signed["r"])) + s + bytes([v - 27])
    key = PublicKey.from_signature_and_message(signature, digest, hasher=None)
    return to_checksum_address(keccak(key.format(compressed=False)[1:])[-20:])


_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_UPDATE_TYPEHASH = keccak(
    text="Update(uint256 taskId,uint64 round,bytes32 digest,uint32 numSamples,uint8 codec)"
)


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    """The TaskManager's EIP-712 domain separator (equals its ``domainSeparator()``)."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [_DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION),
             int(chain_id), to_checksum_address(verifying_contract)],
        )
    )  # fmt: skip


def update_digest(
    *,
    chain_id: int,
    verifying_contract: str,
    task_id: int,
    round: int,
    digest: bytes | str,
    num_samples: int,
    codec: int,
) -> bytes:
    """What a client signs for an ``Update``: equals :func:`typed_data_hash` of
    :func:`update_typed_data` and the contract's ``hashUpdate``, without the generic encoder."""
    struct = keccak(
        encode(
            ["bytes32", "uint256", "uint64", "bytes32", "uint32", "uint8"],
            [_UPDATE_TYPEHASH, int(task_id), int(round), digest32(digest), int(num_samples),
             int(codec)],
        )
    )  # fmt: skip
    return keccak(b"\x19\x01" + domain_separator(int(chain_id), verifying_contract) + struct)
