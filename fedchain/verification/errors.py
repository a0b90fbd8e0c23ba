"""Exceptions of :mod:`fedchain.verification`.

Every error derives from :class:`VerificationError` (a :class:`fedchain.errors.FedChainError`
and a :class:`ValueError`: all of them are bad inputs to a pure function)::

    VerificationError(FedChainError, ValueError)
    ├── ByzantineBoundError     f < 0, R ≤ f + 2, or a selection size m out of range
    ├── ShapeMismatchError      updates (or state dicts) of different shapes, keys or dtypes
    ├── NonFiniteUpdateError    an update holds NaN or ±inf (carries the row index)
    ├── WeightError             negative, non-finite or all-zero aggregation weights / stakes
    ├── ScoreMatrixError        a malformed mutual-validation score matrix or leader inputs
    └── UnknownRuleError(KeyError)  no verification / leader rule registered under that name
"""

from __future__ import annotations

from fedchain.errors import FedChainError

__all__ = [
    "ByzantineBoundError",
    "NonFiniteUpdateError",
    "ScoreMatrixError",
    "ShapeMismatchError",
    "UnknownRuleError",
    "VerificationError",
    "WeightError",
]


class VerificationError(FedChainError, ValueError):
    """Base class of the errors raised by :mod:`fedchain.verification`."""


class ByzantineBoundError(VerificationError):
    """The Byzantine bound ``f`` or the selection size ``m`` does not fit the number of updates."""


class ShapeMismatchError(VerificationError):
    """Updates, models or state dicts do not share one shape, key set or float dtype."""


class NonFiniteUpdateError(VerificationError):
    """An update contains NaN or infinity.

    Attributes:
        index: position of the first offending update in the input sequence.
    """

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index


class WeightError(VerificationError):
    """Aggregation weights, stakes or similar amounts are negative, non-finite or sum to zero."""


class ScoreMatrixError(VerificationError):
    """A mutual-validation score matrix or a leader rule's inputs are malformed."""


class UnknownRuleError(VerificationError, KeyError):
    """No rule is registered under the requested name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
