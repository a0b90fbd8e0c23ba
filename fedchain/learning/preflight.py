"""Checks a client runs before it commits to a task: does its data fit the task's model, and how
long does one round of local training take on this machine.

Both are pure (numpy and torch only) and cheap, so a client can run them before it sends any
transaction: a data set that the model cannot read would otherwise crash in training after the
mortgage is locked, and a machine too slow for the round's submission window would miss every
round and forfeit the mortgage anyway.

- :func:`check_data_fits` raises :class:`~fedchain.learning.errors.DataMismatchError` with one
  readable sentence when the images do not have the model's input shape, a label lies outside
  the model's classes, or one batch does not pass forward through the model;
- :func:`estimate_training_time` times local training on a slice of the data (the task's real
  training settings and DP mechanism, a few mini-batches) with a clock the caller may inject,
  and extrapolates to ``epochs`` epochs of the whole data set. It seeds its own run, so the
  client's real training (seeded by seed, task and round) is unaffected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from fedchain.learning.errors import DataMismatchError, LearningError
from fedchain.learning.models import ModelSpec, build_model, make_spec
from fedchain.learning.privacy import PrivacyConfig
from fedchain.learning.train import train_local

__all__ = ["TrainingEstimate", "check_data_fits", "estimate_training_time"]

#: Mini-batches :func:`estimate_training_time` trains on by default.
SAMPLE_BATCHES = 8
_TIMING_SEED = 0x71AE


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape)


def check_data_fits(spec: ModelSpec, x: np.ndarray, y: np.ndarray, *, batch_size: int = 16) -> int:
    """Check that ``(x, y)`` can train ``spec``: shapes, labels and one forward pass.

    Checks, in order: ``x`` is float32 ``(N, C, H, W)`` with ``N > 0`` and ``y`` holds ``N``
    integer labels; each image has the model's ``input_shape`` (when the spec has one); the first
    ``batch_size`` images pass forward through the model (freshly built from the spec) into one
    score per class; every label lies in ``[0, classes)``.

    Returns:
        The number of classes the model predicts.

    Raises:
        DataMismatchError: the data does not fit, in one sentence saying how.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 4 or x.dtype != np.float32:
        raise DataMismatchError(
            f"the images must be float32 (N, C, H, W), got {x.dtype} of shape {x.shape}"
        )
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataMismatchError(f"the labels must be 1-D integers, got {y.dtype} {y.shape}")
    if len(x) != len(y) or len(y) == 0:
        raise DataMismatchError(f"{len(x)} images but {len(y)} labels (both must be > 0)")
    model_name = f"the task's model {spec.name!r}"
    try:
        params = make_spec(spec.name, **dict(spec.params)).params
    except LearningError as exc:
        raise DataMismatchError(f"{model_name} cannot be built here: {exc}") from None
    expected = params.get("input_shape")
    if isinstance(expected, list | tuple) and len(expected) == 3:
        want = tuple(int(v) for v in expected)
        if tuple(x.shape[1:]) != want:
            raise DataMismatchError(
                f"your images are {_shape_text(x.shape[1:])} (channels×height×width) but "
                f"{model_name} takes {_shape_text(want)}: this data set does not fit the task"
            )
    batch = torch.from_numpy(np.ascontiguousarray(x[: max(1, min(batch_size, len(x)))]))
    try:
        model = build_model(spec, seed=0)
        model.eval()
        with torch.no_grad():
            scores = model(batch)
    except LearningError as exc:
        raise DataMismatchError(f"{model_name} cannot be built here: {exc}") from None
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataMismatchError(
            f"a batch of your images of shape {_shape_text(x.shape[1:])} does not pass through "
            f"{model_name} ({first})"
        ) from None
    if scores.ndim != 2 or scores.shape[0] != len(batch):
        raise DataMismatchError(
            f"{model_name} gives outputs of shape {tuple(scores.shape)} for a batch of "
            f"{len(batch)} images, not one score per class"
        )
    classes = int(scores.shape[1])
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        raise DataMismatchError(
            f"your labels range over {low}..{high} but {model_name} has {classes} classes "
            f"(labels 0..{classes - 1}): this data set does not fit the task"
        )
    return classes


@dataclass(frozen=True)
class TrainingEstimate:
    """How long local training takes, from a timed slice.

    Attributes:
        seconds: the estimate for ``epochs`` epochs over all ``num_samples`` samples.
        measured_seconds: what the timed slice took.
        measured_samples: the samples in the slice (one epoch of them was trained).
        num_samples, epochs: what the estimate is for.
    """

    seconds: float
    measured_seconds: float
    measured_samples: int
    num_samples: int
    epochs: int


def estimate_training_time(
    spec: ModelSpec,
    global_state: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.0,
    privacy: PrivacyConfig | None = None,
    clock: Callable[[], float] = time.perf_counter,
    batches: int = SAMPLE_BATCHES,
) -> TrainingEstimate:
    """Estimate how long :func:`~fedchain.learning.train_local` takes with these settings.

    After an untimed warm-up on one mini-batch (torch's first call is slow), trains one epoch on
    the first ``batches × batch_size`` samples (all of them when there are fewer) with the same
    model, optimizer settings and DP mechanism, reads ``clock`` once before and once after, and
    scales linearly to ``epochs`` epochs of all samples. Its run is seeded on its own:
    no RNG the real training uses is touched.

    Raises:
        TrainingError, PrivacyConfigError, ModelSpecError: what training itself would raise.
    """
    if batches < 1:
        raise ValueError(f"batches must be positive, got {batches}")
    n = len(y)
    k = min(n, batches * batch_size)

    def train(m: int) -> None:
        train_local(
            spec, global_state, x[:m], y[:m], epochs=1, batch_size=batch_size, lr=lr,
            momentum=momentum, privacy=privacy, seed=_TIMING_SEED,
        )  # fmt: skip

    train(min(n, batch_size))  # untimed warm-up: torch's first call costs about a second
    start = clock()
    train(k)
    measured = max(0.0, float(clock() - start))
    seconds = measured * (n / k) * epochs if k else math.inf
    return TrainingEstimate(
        seconds=seconds, measured_seconds=measured, measured_samples=k, num_samples=n,
        epochs=epochs,
    )  # fmt: skip
