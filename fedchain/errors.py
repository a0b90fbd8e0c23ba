"""The root of every exception FedChain raises on purpose.

Each layer defines its own subclasses next to its code and re-exports them; all of them derive
from :class:`FedChainError`, and where a stdlib type fits they derive from it too (so
``except ValueError`` keeps working)::

    FedChainError
    ├── ConfigError(FedChainError, ValueError)        bad user input: options, files, parameters
    ├── fedchain.storage.errors.StorageError           CIDs, blobs, stores, the tensor codec
    ├── fedchain.learning.errors.LearningError         data sets, model specs, DP parameters
    ├── fedchain.verification.errors.VerificationError rule inputs (shapes, Byzantine bounds)
    └── fedchain.chain.errors.ChainError               connections, nodes, reverted transactions
        └── ContractError                              a contract custom error, decoded with its arguments

The CLI turns any :class:`FedChainError` into one readable line and a non-zero exit code.
"""

from __future__ import annotations

__all__ = ["ConfigError", "FedChainError"]


class FedChainError(Exception):
    """Base class of every error FedChain raises deliberately."""


class ConfigError(FedChainError, ValueError):
    """A user-supplied option, file or parameter is invalid."""
