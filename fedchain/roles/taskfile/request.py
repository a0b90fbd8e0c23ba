"""The M3 request a task answers (001): key terms, and the canonical request key.

A task file with a ``[request]`` section asks a question others may ask again::

    [request]
    terms = ["temperature", "humidity"]
    release_epsilon = 20          # optional: serve m + Lap(s/ε) (002 eq. 5), not the model itself
    release_sensitivity = 0.01

Its request key is keccak-256 of one canonical JSON document: the data category, the key terms
(each normalised, stripped and lower-cased, hashed with keccak-256, sorted, duplicates dropped),
the model spec hash, the privacy policy (mechanism and parameters), the verification rule and
the release perturbation.
Two task files asking the same question (whatever their rounds, rewards or term order) have the
same key. The contract binds the key to its requester before filing it in the cache
(:func:`bound_request_key`), so a stranger's task with the same request can never answer it
first; ``fedchain request`` looks the bound key up for each requester the user trusts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak

from fedchain.roles.taskfile.errors import TaskFileError
from fedchain.roles.taskfile.reader import Table

__all__ = ["REQUEST_FORMAT", "REQUEST_KEYS", "RequestConfig", "bound_request_key", "hash_term"]

#: The canonical request document's format tag (part of the key).
REQUEST_FORMAT = "fedchain-request/1"
#: Keys of the ``[request]`` section.
REQUEST_KEYS = ("terms", "release_epsilon", "release_sensitivity")
_MAX_TERMS = 64


def hash_term(term: str) -> str:
    """A key term as profiles and requests carry it: keccak-256 of its normalised text, hex."""
    return "0x" + keccak(text=" ".join(term.split()).lower()).hex()


@dataclass(frozen=True)
class RequestConfig:
    """The ``[request]`` section.

    Attributes:
        terms: the key terms (as written; hashed in the key).
        release_epsilon: with ``release_sensitivity``, the requester publishes the final model
            perturbed with Laplace(sensitivity/ε) noise (``publishPerturbedModel``, 002 eq. 5),
            and the cache serves that; None: the cache serves the final model.
        release_sensitivity: the L1 sensitivity the perturbation assumes (002 eq. 6; stated by
            the requester, as neither paper derives it for a neural network).
    """

    terms: tuple[str, ...]
    release_epsilon: float | None = None
    release_sensitivity: float | None = None

    @classmethod
    def _read(cls, table: Table) -> RequestConfig:
        raw = table.get("terms", [])
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            raise table.error("terms", "must be a list of strings")
        terms = tuple(t for t in raw if t.strip())
        if len(terms) != len(raw):
            raise table.error("terms", "a key term must not be empty")
        if len(terms) > _MAX_TERMS:
            raise table.error("terms", f"at most {_MAX_TERMS} key terms, got {len(terms)}")
        given = [k for k in ("release_epsilon", "release_sensitivity") if k in table.data]
        if len(given) == 1:
            other = ({"release_epsilon", "release_sensitivity"} - set(given)).pop()
            raise table.error(other, f"missing: {given[0]} needs it")
        if not given:
            return cls(terms)
        epsilon = table.number("release_epsilon", None, lo=0.0, lo_open=True)
        sensitivity = table.number("release_sensitivity", None, lo=0.0, lo_open=True)
        return cls(terms, epsilon, sensitivity)

    @property
    def release(self) -> dict[str, Any] | None:
        """The release perturbation as the manifest and the key carry it, or None."""
        if self.release_epsilon is None:
            return None
        return {"mechanism": "model_laplace", "epsilon": self.release_epsilon,
                "sensitivity": self.release_sensitivity}  # fmt: skip

    def hashed_terms(self) -> list[str]:
        """The terms as the key holds them: hashed, sorted, without duplicates."""
        return sorted({hash_term(t) for t in self.terms})

    def key(
        self,
        *,
        category: str,
        model_spec_hash: str,
        privacy: dict[str, Any] | None,
        verification: dict[str, Any],
    ) -> bytes:
        """The canonical request key (32 bytes); see the module docstring."""
        document = {
            "format": REQUEST_FORMAT,
            "category": category,
            "terms": self.hashed_terms(),
            "model_spec_hash": model_spec_hash,
            "privacy": privacy,
            "verification": verification,
            "release": self.release,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return keccak(text=text)


def bound_request_key(requester: str, request_key: bytes) -> bytes:
    """The cache key the contract files ``request_key`` under for ``requester``:
    keccak256(abi.encode(requester, request_key)) (``TaskSetup._boundRequestKey``)."""
    if len(request_key) != 32:
        raise TaskFileError(f"a request key is 32 bytes, got {len(request_key)}")
    if request_key == bytes(32):
        return bytes(32)
    return keccak(encode(["address", "bytes32"], [requester, request_key]))
