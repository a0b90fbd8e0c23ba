"""Local training and evaluation over numpy arrays (M4).

:func:`train_local` loads a global model state into the spec's architecture, runs ``epochs``
epochs of SGD on the client's data under an optional DP mechanism, and returns the new state as
numpy arrays. Runs are deterministic on CPU: batches are shuffled by a ``torch.Generator`` seeded
from ``seed``, DP noise comes from a second seeded generator, and the global torch RNG is forked
and seeded for anything else (it is restored afterwards).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fedchain.learning.errors import TrainingError
from fedchain.learning.layers import PositionBatchNorm
from fedchain.learning.models import ModelSpec, build_model
from fedchain.learning.privacy import PrivacyConfig, PrivateRun
from fedchain.learning.state import StateDict, get_state, set_state

__all__ = ["TrainResult", "evaluate", "predict", "train_local"]

_NOISE_STREAM = 0x5EED_D1FF
_POST_STREAM = 0x5EED_0001


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What local training returns.

    Attributes:
        state: the trained model as name → float32 array.
        num_samples: number of training samples (FedAvg's weight).
        loss: mean training loss of the last epoch.
        epsilon: privacy spent by this call (``None`` without DP; see :mod:`privacy`).
        delta: the δ that goes with ``epsilon`` (0 for pure DP, ``None`` without DP).
    """

    state: StateDict
    num_samples: int
    loss: float
    epsilon: float | None
    delta: float | None = None


def _check_xy(x: np.ndarray, y: np.ndarray, *, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4 or x.dtype != np.float32:
        raise TrainingError(f"{what}: x must be float32 (N, C, H, W), got {x.dtype} {x.shape}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise TrainingError(f"{what}: y must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise TrainingError(f"{what}: {len(x)} images but {len(y)} labels")
    if len(x) == 0:
        raise TrainingError(f"{what}: no samples")
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))


def _has_batchnorm(model: nn.Module) -> bool:
    kinds = (PositionBatchNorm, nn.modules.batchnorm._BatchNorm)
    return any(isinstance(m, kinds) for m in model.modules())


def train_local(
    spec: ModelSpec,
    global_state: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    privacy: PrivacyConfig | None = None,
    seed: int,
    momentum: float = 0.0,
) -> TrainResult:
    """Train ``spec`` from ``global_state`` on ``(x, y)`` and return the local model.

    Args:
        spec: the architecture.
        global_state: starting weights (name → array, as :func:`get_state` returns).
        x: ``float32`` images ``(N, C, H, W)``; y: integer labels ``(N,)``.
        epochs: local epochs (≥ 1).
        batch_size: mini-batch size (≥ 1; the expected size under Poisson sampling).
        lr: SGD learning rate (> 0).
        privacy: a DP mechanism, or ``None`` for non-private training.
        seed: seeds shuffling, DP noise and any post-processing noise.
        momentum: SGD momentum in [0, 1).

    Raises:
        TrainingError: invalid data or hyper-parameters.
        PrivacyConfigError: the mechanism cannot protect this model (e.g. BatchNorm with DP-SGD).
        ModelSpecError: ``global_state`` does not fit ``spec``.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise TrainingError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise TrainingError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not (lr > 0 and np.isfinite(lr)):
        raise TrainingError(f"lr must be a positive number, got {lr!r}")
    if not 0 <= momentum < 1:
        raise TrainingError(f"momentum must lie in [0, 1), got {momentum!r}")
    xt, yt = _check_xy(x, y, what="train_local")
    mechanism = privacy.build() if privacy is not None else None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(spec)
        set_state(model, global_state)
        model.train()
        shuffle = torch.Generator().manual_seed(seed)
        noise = torch.Generator().manual_seed(seed ^ _NOISE_STREAM)
        # BatchNorm cannot normalise a final batch of one sample.
        drop_last = _has_batchnorm(model) and len(xt) % batch_size == 1
        loader = DataLoader(
            TensorDataset(xt, yt),
            batch_size=batch_size,
            shuffle=True,
            generator=shuffle,
            drop_last=drop_last,
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        run: PrivateRun
        if mechanism is None:
            run = PrivateRun(model, optimizer=optimizer, loader=loader)
        else:
            run = mechanism.start(
                model, optimizer=optimizer, loader=loader, epochs=epochs, generator=noise
            )
        loss = float("nan")
        for _ in range(epochs):
            total, count = 0.0, 0
            for xb, yb in run.loader:
                if len(xb) == 0:  # Poisson sampling may draw an empty batch
                    continue
                total += run.step(xb, yb) * len(xb)
                count += len(xb)
            loss = total / count if count else float("nan")
        state = run.finish(get_state(model), seed=seed ^ _POST_STREAM)
        return TrainResult(
            state=state,
            num_samples=len(xt),
            loss=loss,
            epsilon=run.epsilon(),
            delta=run.delta(),
        )


def predict(
    spec: ModelSpec, state: Mapping[str, np.ndarray], x: np.ndarray, *, batch_size: int = 1024
) -> np.ndarray:
    """Predicted class of every image (``int64``), model in evaluation mode (no DP noise)."""
    xt = torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float32)))
    if xt.ndim != 4:
        raise TrainingError(f"predict: x must be (N, C, H, W), got shape {tuple(xt.shape)}")
    model = build_model(spec, seed=0)
    set_state(model, state)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(xt), batch_size):
            out.append(model(xt[i : i + batch_size]).argmax(dim=1))
    if not out:
        return np.zeros(0, dtype=np.int64)
    return torch.cat(out).numpy().astype(np.int64)


def evaluate(
    spec: ModelSpec,
    state: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 1024,
) -> float:
    """Accuracy of the model ``(spec, state)`` on ``(x, y)``, in [0, 1]."""
    _check_xy(np.asarray(x, dtype=np.float32), y, what="evaluate")
    pred = predict(spec, state, x, batch_size=batch_size)
    return float((pred == np.asarray(y)).mean())
