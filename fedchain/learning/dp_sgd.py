"""DP-SGD (M4a): Opacus with its RDP accountant, and 003's Laplace variant.

``dp_sgd`` — Opacus DP-SGD: per-sample gradients clipped to L2 norm C, Gaussian noise of
standard deviation σ·C on their sum, Poisson-sampled batches, and Opacus' RDP accountant
reporting (ε, δ). Give ``noise_multiplier`` σ, or a target ``epsilon`` for the whole run (σ from
Opacus' ``get_noise_multiplier``, as ``make_private_with_epsilon`` does). ``grad_sample_mode``:

- ``"fast"``: per-sample gradients from :class:`~fedchain.learning.per_sample.PerSampleGradients`
  (one backward pass, no wasted weight gradients), clipped, noised and accounted by Opacus'
  ``DPOptimizer``, ``DPDataLoader`` and ``RDPAccountant``;
- ``"ghost"``, ``"hooks"``, ``"functorch"``, ``"ew"``: Opacus' ``PrivacyEngine.make_private`` with
  that mode (``"ghost"`` = ghost clipping, two backward passes);
- ``"auto"`` (default): ``"fast"`` when every trainable layer is Linear/Conv, else ``"ghost"``.

``dp_sgd_laplace`` — 003's GD-DP (eqs. 1-4): per-sample gradient g_i, clipped
g_i / max(1, ‖g_i‖/C), and Laplace noise Lap(Δf/ε) on the clipped gradient. Our reading: the
noise goes on the batch *sum* of clipped gradients (one draw per step, as in DP-SGD), which is
then divided by the batch size. The Laplace mechanism needs the L1 sensitivity of that sum;
with add/remove-one-sample neighbours it is one clipped gradient's L1 norm:

- ``norm="l2"`` (003's clipping): ‖g‖₂ ≤ C gives ‖g‖₁ ≤ C·√d, so Δf = C·√d (d = number of
  trainable weights) — correct, but noisy for large models;
- ``norm="l1"``: clip in L1 norm, Δf = C exactly.

Batches within an epoch are disjoint (shuffle without replacement), so by parallel composition an
epoch is ε-DP and ``epochs`` epochs are ``epochs · ε``-DP (pure DP, δ = 0); ``epsilon`` is the
budget of one epoch and :meth:`PrivateRun.epsilon` reports the total.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fedchain.learning.errors import PrivacyConfigError
from fedchain.learning.per_sample import PerSampleGradients, supports_model
from fedchain.learning.privacy import (
    PrivacyMechanism,
    PrivateRun,
    StateDict,
    laplace_noise,
    register_privacy,
    require_positive,
)

__all__ = [
    "GRAD_SAMPLE_MODES",
    "DpSgd",
    "DpSgdLaplace",
    "clip_and_sum",
    "laplace_sensitivity",
    "refuse_batchnorm",
]

GRAD_SAMPLE_MODES = ("auto", "fast", "ghost", "hooks", "functorch", "ew")
_CLIP_NORMS = ("l2", "l1")


def refuse_batchnorm(model: nn.Module, mechanism: str) -> None:
    """Raise :class:`PrivacyConfigError` if ``model`` has no per-sample gradients (BatchNorm)."""
    from opacus.validators import ModuleValidator

    kinds = sorted(
        {
            type(m).__name__
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
        }
    )
    errors = ModuleValidator.validate(model, strict=False)
    if kinds or errors:
        detail = f"{kinds}" if kinds else f"{errors[0]}"
        raise PrivacyConfigError(
            f"{mechanism} cannot train this model: per-sample gradients are undefined for "
            f"{detail}. BatchNorm mixes the samples of a batch; build the CNN with "
            "norm='bounded' or norm='none'."
        )


# --------------------------------------------------------------------------- Opacus DP-SGD


_HOOK_WARNING = "Full backward hook is firing when gradients are computed"
# RDP conversion at an extreme order: the bound is valid, only possibly loose.
_ALPHA_WARNING = "Optimal order is"


@functools.lru_cache(maxsize=256)
def _noise_multiplier(epsilon: float, delta: float, sample_rate: float, epochs: int) -> float:
    """σ reaching (ε, δ) after ``epochs`` epochs at ``sample_rate`` (Opacus' search, cached:
    every client of a round asks the same question)."""
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ALPHA_WARNING, category=UserWarning)
        return float(
            get_noise_multiplier(
                target_epsilon=epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                epochs=epochs,
                accountant="rdp",
            )
        )


def _rdp_epsilon(accountant: Any, delta: float) -> float:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ALPHA_WARNING, category=UserWarning)
        return float(accountant.get_epsilon(delta))


class _OpacusRun(PrivateRun):
    def __init__(self, engine: Any, delta: float, **kw: Any) -> None:
        super().__init__(**kw)
        self._engine = engine
        self._delta = delta

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        with warnings.catch_warnings():
            # Opacus' backward hooks fire on the first layer, whose input needs no gradient.
            warnings.filterwarnings("ignore", message=_HOOK_WARNING, category=UserWarning)
            return super().step(x, y)

    def epsilon(self) -> float:
        return _rdp_epsilon(self._engine.accountant, self._delta)

    def delta(self) -> float:
        return self._delta

    def finish(self, state: StateDict, *, seed: int) -> StateDict:
        cleanup = getattr(self.model, "_close", None)
        if callable(cleanup):
            cleanup()
        return state


@register_privacy("dp_sgd")
@dataclass(frozen=True, kw_only=True)
class DpSgd(PrivacyMechanism):
    """Opacus DP-SGD (Gaussian noise, RDP accountant).

    Args:
        max_grad_norm: L2 clipping bound C > 0.
        noise_multiplier: σ ≥ 0 (noise std = σ·C); exclusive with ``epsilon``.
        epsilon: target ε > 0 for the whole run; exclusive with ``noise_multiplier``.
        delta: δ in (0, 1).
        grad_sample_mode: ``"auto"`` (default), ``"fast"``, ``"ghost"`` (ghost clipping),
            ``"hooks"``, ``"functorch"``, ``"ew"`` (expanded weights); see the module docstring.
        poisson_sampling: Poisson-sampled batches, as the accountant assumes (default ``True``).
    """

    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None
    epsilon: float | None = None
    delta: float = 1e-5
    grad_sample_mode: str = "auto"
    poisson_sampling: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "max_grad_norm", require_positive("max_grad_norm", self.max_grad_norm))
        if (self.noise_multiplier is None) == (self.epsilon is None):
            raise PrivacyConfigError("dp_sgd needs exactly one of noise_multiplier= or epsilon=")
        if self.noise_multiplier is not None:
            nm = require_positive("noise_multiplier", self.noise_multiplier, allow_zero=True)
            set_(self, "noise_multiplier", nm)
        if self.epsilon is not None:
            set_(self, "epsilon", require_positive("epsilon", self.epsilon))
        delta = require_positive("delta", self.delta)
        if not delta < 1:
            raise PrivacyConfigError(f"delta must lie in (0, 1), got {self.delta!r}")
        set_(self, "delta", delta)
        if self.grad_sample_mode not in GRAD_SAMPLE_MODES:
            raise PrivacyConfigError(
                f"grad_sample_mode must be one of {GRAD_SAMPLE_MODES}, "
                f"got {self.grad_sample_mode!r}"
            )
        if not isinstance(self.poisson_sampling, bool):
            raise PrivacyConfigError("poisson_sampling must be true or false")

    def start(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        epochs: int,
        generator: torch.Generator,
    ) -> PrivateRun:
        from opacus import PrivacyEngine

        refuse_batchnorm(model, "dp_sgd")
        mode = self.grad_sample_mode
        if mode == "auto":
            mode = "fast" if supports_model(model) else "ghost"
        if mode == "fast":
            return self._start_fast(
                model, optimizer=optimizer, loader=loader, epochs=epochs, generator=generator
            )
        with warnings.catch_warnings():
            # Opacus warns that secure_mode is off: deliberate, runs must be reproducible.
            warnings.simplefilter("ignore", UserWarning)
            engine = PrivacyEngine(accountant="rdp")
        kwargs: dict[str, Any] = {
            "module": model,
            "optimizer": optimizer,
            "criterion": nn.CrossEntropyLoss(),
            "data_loader": loader,
            "max_grad_norm": self.max_grad_norm,
            "poisson_sampling": self.poisson_sampling,
            "grad_sample_mode": mode,
            "noise_generator": generator,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if self.noise_multiplier is not None:
                out = engine.make_private(noise_multiplier=self.noise_multiplier, **kwargs)
            else:
                out = engine.make_private_with_epsilon(
                    target_epsilon=self.epsilon,
                    target_delta=self.delta,
                    epochs=epochs,
                    **kwargs,
                )
        if mode == "ghost":
            dp_model, dp_opt, criterion, dp_loader = out
        else:
            dp_model, dp_opt, dp_loader = out
            criterion = nn.CrossEntropyLoss()
        return _OpacusRun(
            engine,
            self.delta,
            model=dp_model,
            optimizer=dp_opt,
            loader=dp_loader,
            criterion=criterion,
        )

    def _start_fast(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        epochs: int,
        generator: torch.Generator,
    ) -> PrivateRun:
        from opacus.accountants import RDPAccountant
        from opacus.data_loader import DPDataLoader
        from opacus.optimizers import DPOptimizer

        engine = PerSampleGradients(model)
        if self.poisson_sampling:
            loader = DPDataLoader.from_data_loader(loader, generator=loader.generator)
        sample_rate = 1 / len(loader)
        expected_batch_size = int(len(loader.dataset) * sample_rate)  # type: ignore[arg-type]
        if self.noise_multiplier is not None:
            sigma = self.noise_multiplier
        else:
            assert self.epsilon is not None  # checked in __post_init__
            sigma = _noise_multiplier(self.epsilon, self.delta, sample_rate, epochs)
        dp_opt = DPOptimizer(
            optimizer,
            noise_multiplier=sigma,
            max_grad_norm=self.max_grad_norm,
            expected_batch_size=expected_batch_size,
            loss_reduction="mean",
            generator=generator,
        )
        accountant = RDPAccountant()
        dp_opt.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=sample_rate))
        return _FastRun(
            engine, accountant, self.delta, model=model, optimizer=dp_opt, loader=loader
        )


class _FastRun(PrivateRun):
    def __init__(
        self, engine: PerSampleGradients, accountant: Any, delta: float, **kw: Any
    ) -> None:
        super().__init__(criterion=nn.CrossEntropyLoss(reduction="sum"), **kw)
        self._engine = engine
        self._accountant = accountant
        self._delta = delta

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.criterion(self.model(x), y)
        self._engine.backward(loss)
        self.optimizer.step()
        return float(loss.item()) / len(x)

    def epsilon(self) -> float:
        return _rdp_epsilon(self._accountant, self._delta)

    def delta(self) -> float:
        return self._delta

    def finish(self, state: StateDict, *, seed: int) -> StateDict:
        self._engine.close()
        return state


# --------------------------------------------------------------------------- 003's Laplace variant


def laplace_sensitivity(*, max_grad_norm: float, norm: str, num_weights: int) -> float:
    """L1 sensitivity of a sum of per-sample gradients clipped to ``max_grad_norm`` (add/remove)."""
    if norm == "l1":
        return max_grad_norm
    if norm == "l2":
        return max_grad_norm * math.sqrt(num_weights)
    raise PrivacyConfigError(f"norm must be one of {_CLIP_NORMS}, got {norm!r}")


def clip_and_sum(
    per_sample: Sequence[torch.Tensor], *, max_grad_norm: float, norm: str = "l2"
) -> list[torch.Tensor]:
    """Σ_i g_i / max(1, ‖g_i‖/C) over the batch; ``per_sample[p]`` has shape ``(B, *param)``.

    The norm of sample i is taken over all parameters together (flat clipping).
    """
    if not per_sample:
        return []
    b = per_sample[0].shape[0]
    flat = [g.reshape(b, -1) for g in per_sample]
    if norm == "l2":
        norms = torch.sqrt(sum((f * f).sum(dim=1) for f in flat))  # type: ignore[arg-type]
    elif norm == "l1":
        norms = sum(f.abs().sum(dim=1) for f in flat)  # type: ignore[assignment]
    else:
        raise PrivacyConfigError(f"norm must be one of {_CLIP_NORMS}, got {norm!r}")
    factor = (max_grad_norm / norms.clamp_min(1e-12)).clamp(max=1.0)
    return [torch.einsum("b,b...->...", factor, g) for g in per_sample]


class _LaplaceRun(PrivateRun):
    def __init__(
        self,
        mech: DpSgdLaplace,
        *,
        epochs: int,
        generator: torch.Generator,
        model: nn.Module,
        **kw: Any,
    ) -> None:
        refuse_batchnorm(model, "dp_sgd_laplace")
        self._engine = PerSampleGradients(model)
        super().__init__(model=model, criterion=nn.CrossEntropyLoss(reduction="sum"), **kw)
        self._mech = mech
        self._epochs = epochs
        self._generator = generator
        self._params = [p for p in model.parameters() if p.requires_grad]
        d = sum(p.numel() for p in self._params)
        sens = laplace_sensitivity(max_grad_norm=mech.max_grad_norm, norm=mech.norm, num_weights=d)
        self.noise_scale = sens / mech.epsilon

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.criterion(self.model(x), y)
        self._engine.backward(loss)
        summed = clip_and_sum(
            [p.grad_sample for p in self._params],  # type: ignore[attr-defined]
            max_grad_norm=self._mech.max_grad_norm,
            norm=self._mech.norm,
        )
        for p, s in zip(self._params, summed, strict=True):
            noise = laplace_noise(s.shape, scale=self.noise_scale, generator=self._generator)
            p.grad = (s + noise) / len(x)
            p.grad_sample = None  # type: ignore[attr-defined]
        self.optimizer.step()
        return float(loss.item()) / len(x)

    def epsilon(self) -> float:
        return self._epochs * self._mech.epsilon

    def delta(self) -> float:
        return 0.0

    def finish(self, state: StateDict, *, seed: int) -> StateDict:
        self._engine.close()
        return state


@register_privacy("dp_sgd_laplace")
@dataclass(frozen=True, kw_only=True)
class DpSgdLaplace(PrivacyMechanism):
    """003's DP gradient descent with Laplace noise Lap(Δf/ε) on clipped per-sample gradients.

    Args:
        epsilon: ε > 0 of one epoch (a run of E epochs spends E·ε).
        max_grad_norm: clipping bound C > 0.
        norm: ``"l2"`` (003's clipping; Δf = C·√d) or ``"l1"`` (Δf = C).
    """

    epsilon: float
    max_grad_norm: float = 1.0
    norm: str = "l2"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", require_positive("epsilon", self.epsilon))
        object.__setattr__(
            self, "max_grad_norm", require_positive("max_grad_norm", self.max_grad_norm)
        )
        if self.norm not in _CLIP_NORMS:
            raise PrivacyConfigError(f"norm must be one of {_CLIP_NORMS}, got {self.norm!r}")

    def start(
        self,
        model: nn.Module,
        *,
        optimizer: torch.optim.Optimizer,
        loader: torch.utils.data.DataLoader,
        epochs: int,
        generator: torch.Generator,
    ) -> PrivateRun:
        return _LaplaceRun(
            self,
            epochs=epochs,
            generator=generator,
            model=model,
            optimizer=optimizer,
            loader=loader,
        )
