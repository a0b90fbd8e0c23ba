"""Verification and aggregation rules: pure functions over arrays (no chain, no IPFS, no torch).

- :func:`multikrum` — Multi-KRUM with an exact, machine-independent selection (M7);
"""

from fedchain.verification.errors import (
    ByzantineBoundError,
    NonFiniteUpdateError,
    ScoreMatrixError,
    ShapeMismatchError,
    UnknownRuleError,
    VerificationError,
    WeightError,
)
from fedchain.verification.multikrum import MultiKrumResult, multikrum

__all__ = [
    "ByzantineBoundError",
    "MultiKrumResult",
    "NonFiniteUpdateError",
    "ScoreMatrixError",
    "ShapeMismatchError",
    "UnknownRuleError",
    "VerificationError",
    "WeightError",
    "multikrum",
]
