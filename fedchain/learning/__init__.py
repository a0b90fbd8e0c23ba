"""Learning: data sets, partitions, models, local training with differential privacy, attacks.

Pure code over numpy arrays and torch; it knows nothing of chains or IPFS. Model weights cross
its API as ``dict[str, numpy.ndarray]`` (float32) or flat float32 vectors.
"""

from fedchain.learning import dp_sgd, feature_dp, model_laplace  # noqa: F401  (register mechanisms)
from fedchain.learning.attacks import (
    AttackContext,
    Behaviour,
    behaviour_from_dict,
    behaviour_names,
    compose,
    make_behaviour,
    register_behaviour,
)
from fedchain.learning.data import Dataset, load_dataset
from fedchain.learning.errors import (
    AttackConfigError,
    DataMismatchError,
    DatasetError,
    DatasetNotFoundError,
    LearningError,
    ModelSpecError,
    PartitionError,
    PrivacyConfigError,
    TrainingError,
)
from fedchain.learning.model_laplace import perturb_model
from fedchain.learning.models import ModelSpec, build_model, make_spec, model_names, register_model
from fedchain.learning.partition import partition
from fedchain.learning.preflight import TrainingEstimate, check_data_fits, estimate_training_time
from fedchain.learning.privacy import (
    PrivacyConfig,
    PrivacyMechanism,
    make_privacy,
    privacy_mechanisms,
    register_privacy,
)
from fedchain.learning.state import (
    apply_update,
    flatten_state,
    get_state,
    model_update,
    num_parameters,
    set_state,
    state_shapes,
    unflatten_state,
)
from fedchain.learning.train import TrainResult, evaluate, predict, train_local

__all__ = [
    "AttackConfigError",
    "AttackContext",
    "Behaviour",
    "DataMismatchError",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "LearningError",
    "ModelSpec",
    "ModelSpecError",
    "PartitionError",
    "PrivacyConfig",
    "PrivacyConfigError",
    "PrivacyMechanism",
    "TrainResult",
    "TrainingError",
    "TrainingEstimate",
    "apply_update",
    "behaviour_from_dict",
    "behaviour_names",
    "build_model",
    "check_data_fits",
    "compose",
    "estimate_training_time",
    "evaluate",
    "flatten_state",
    "get_state",
    "load_dataset",
    "make_behaviour",
    "make_privacy",
    "make_spec",
    "model_names",
    "model_update",
    "num_parameters",
    "partition",
    "perturb_model",
    "predict",
    "privacy_mechanisms",
    "register_behaviour",
    "register_model",
    "register_privacy",
    "set_state",
    "state_shapes",
    "train_local",
    "unflatten_state",
]
