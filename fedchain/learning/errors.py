"""Exceptions of :mod:`fedchain.learning`.

Every error derives from :class:`LearningError` (itself a :class:`fedchain.errors.FedChainError`)
and, where a stdlib type fits, from that type too, so ``except ValueError`` keeps working::

    LearningError(FedChainError)
    ├── DatasetError(ValueError)           malformed data: keys, shapes, dtypes, IDX headers
    │   └── DatasetNotFoundError(FileNotFoundError)   a data file or directory is missing
    ├── PartitionError(ValueError)         impossible partition requests
    ├── ModelSpecError(ValueError)         unknown model, bad model parameters, bad state
    ├── PrivacyConfigError(ValueError)     unknown DP mechanism or invalid DP parameters
    ├── TrainingError(ValueError)          invalid training inputs (empty data, bad labels)
    ├── DataMismatchError(ValueError)      a client's data does not fit the task's model
    └── AttackConfigError(ValueError)      unknown behaviour or invalid attack parameters
"""

from __future__ import annotations

from fedchain.errors import FedChainError

__all__ = [
    "AttackConfigError",
    "DataMismatchError",
    "DatasetError",
    "DatasetNotFoundError",
    "LearningError",
    "ModelSpecError",
    "PartitionError",
    "PrivacyConfigError",
    "TrainingError",
]


class LearningError(FedChainError):
    """Base class of the errors raised by :mod:`fedchain.learning`."""


class DatasetError(LearningError, ValueError):
    """A data set is malformed: missing keys, wrong shapes or dtypes, corrupt IDX headers."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A data file or directory does not exist."""


class PartitionError(LearningError, ValueError):
    """A partition request cannot be met (too few samples, bad scheme or parameters)."""


class ModelSpecError(LearningError, ValueError):
    """An unknown model name, invalid model parameters, or a state that does not fit the spec."""


class PrivacyConfigError(LearningError, ValueError):
    """An unknown DP mechanism, invalid DP parameters, or a model the mechanism cannot protect."""


class TrainingError(LearningError, ValueError):
    """Invalid inputs to local training or evaluation."""


class DataMismatchError(LearningError, ValueError):
    """A client's data does not fit a task's model: image shape, label range, or a forward pass."""


class AttackConfigError(LearningError, ValueError):
    """An unknown client behaviour or invalid attack parameters."""
