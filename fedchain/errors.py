"""The root of every exception FedChain raises on purpose.

Each layer defines its own subclasses next to its code and re-exports them; all of them derive
from :class:`FedChainError`, and where a stdlib type fits they derive from it too (so
``except ValueError`` keeps working)::

    FedChainError
    ├── ConfigError(FedChainError, ValueError)      bad user input: options, files, parameters
    │   └── fedchain.incentives.IncentiveError      reward / penalty parameters
    ├── fedchain.storage.errors.StorageError         CIDs, blobs, stores, the tensor codec
    ├── fedchain.learning.errors.LearningError       data sets, model specs, DP parameters
    ├── fedchain.verification.errors.VerificationError
    │                                                rule inputs (shapes, Byzantine bounds, NaN)
    └── fedchain.chain.errors.ChainError             connections, nodes, transactions
        ├── ChainConnectionError, TransactionError   node unreachable; funds, nonce, gas, timeout
        └── ContractError                            a revert, decoded: custom error + arguments
            └── one class per custom error            fedchain.chain.contract_errors.<Name>

Each subpackage's ``errors.py`` draws its own subtree.

The CLI turns any :class:`FedChainError` into one readable line and a non-zero exit code.
"""

from __future__ import annotations

__all__ = ["ConfigError", "FedChainError"]


class FedChainError(Exception):
    """Base class of every error FedChain raises deliberately.

    Attributes:
        exit_code: the CLI's exit status when this error ends a command (1 unless a subclass
            documents another).
    """

    exit_code: int = 1


class ConfigError(FedChainError, ValueError):
    """A user-supplied option, file or parameter is invalid."""
