"""Per-sample gradients in one backward pass, for DP-SGD on convolutional models.

Opacus offers three ways to get per-sample gradients: backward hooks (``"hooks"``: im2col +
batched matmul per conv layer, on top of the ordinary backward), functorch, and ghost clipping
(``"ghost"``: per-sample *norms*, then a second backward pass with the clipping weights). Ghost
clipping saves memory and time for linear layers over long sequences, but Opacus has no norm
sampler for convolutions: for a CNN it computes the per-sample conv gradients anyway and then
pays for a second backward pass. On 004's CNN both come out at 2.5-3× the cost of plain SGD
(``benchmarks/dp_overhead.py``).

:class:`PerSampleGradients` does what DP-SGD needs and no more:

1. forward hooks keep each trainable ``Linear``/``Conv*d`` layer's input and output;
2. one ``torch.autograd.grad`` of the summed loss with respect to those *outputs* — autograd then
   skips every weight gradient (nobody asked for them) and computes only the backprops;
3. per layer: ``Linear`` per-sample gradients are outer products g_i a_iᵀ (one einsum); ``Conv``
   per-sample gradients are the ordinary weight-gradient kernel (``torch.nn.grad.convNd_weight``)
   vmapped over the batch, which PyTorch lowers to one grouped convolution.

The results land in ``p.grad_sample`` with the layout Opacus uses, so Opacus' own
:class:`~opacus.optimizers.DPOptimizer` clips, noises and accounts them (``dp_sgd``), or
:func:`~fedchain.learning.dp_sgd.clip_and_sum` clips them for the Laplace variant. The
gradients equal Opacus' ``"hooks"`` ones and a one-sample-at-a-time loop (``tests/learning``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.grad as nn_grad
from torch import nn

from fedchain.learning.errors import PrivacyConfigError

__all__ = ["PerSampleGradients", "supports_model"]

_CONV_WEIGHT: dict[type[nn.Module], Callable[..., torch.Tensor]] = {
    nn.Conv1d: nn_grad.conv1d_weight,
    nn.Conv2d: nn_grad.conv2d_weight,
    nn.Conv3d: nn_grad.conv3d_weight,
}


def _own_params(m: nn.Module) -> list[nn.Parameter]:
    return [p for p in m.parameters(recurse=False) if p.requires_grad]


def _unsupported(m: nn.Module) -> str | None:
    if type(m) is nn.Linear:
        return None
    if type(m) in _CONV_WEIGHT:
        conv: Any = m
        if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            return f"{type(m).__name__} with padding={conv.padding!r}/{conv.padding_mode!r}"
        return None
    return type(m).__name__


def supports_model(model: nn.Module) -> bool:
    """Whether every trainable layer of ``model`` is one this engine handles."""
    return all(_unsupported(m) is None for m in model.modules() if _own_params(m))


class PerSampleGradients:
    """Attach to a model; after a forward pass, :meth:`backward` fills ``p.grad_sample``."""

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if _own_params(m)]
        bad = sorted({r for m in self.layers if (r := _unsupported(m)) is not None})
        if bad:
            raise PrivacyConfigError(
                f"per-sample gradients: unsupported trainable layers {bad}; "
                "use grad_sample_mode='hooks' or 'ghost'"
            )
        self._saved: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        self._handles = [m.register_forward_hook(self._capture) for m in self.layers]

    def _capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], out: Any) -> None:
        if module.training and torch.is_grad_enabled():
            self._saved[module] = (inputs[0].detach(), out)

    def backward(self, loss_sum: torch.Tensor) -> None:
        """Set ``p.grad_sample`` (shape ``(B, *p.shape)``) from the summed batch loss.

        ``p.grad`` is not touched: no ordinary weight gradient is computed.
        """
        layers = [m for m in self.layers if m in self._saved]
        outputs = [self._saved[m][1] for m in layers]
        backprops = torch.autograd.grad(loss_sum, outputs, allow_unused=True)
        for m, grad in zip(layers, backprops, strict=True):
            a, out = self._saved[m]
            g = torch.zeros_like(out) if grad is None else grad.detach()
            self._set(m, a, g)
        self._saved.clear()

    @staticmethod
    def _set(m: nn.Module, a: torch.Tensor, g: torch.Tensor) -> None:
        conv: Any = m
        if type(m) is nn.Linear:
            w = torch.einsum("n...i,n...j->nij", g, a)
            b = g.reshape(g.shape[0], -1, g.shape[-1]).sum(dim=1) if m.bias is not None else None
        else:
            weight_fn = _CONV_WEIGHT[type(m)]
            shape = conv.weight.shape

            def one(ai: torch.Tensor, gi: torch.Tensor) -> torch.Tensor:
                return weight_fn(
                    ai[None],
                    shape,
                    gi[None],
                    stride=conv.stride,
                    padding=conv.padding,
                    dilation=conv.dilation,
                    groups=conv.groups,
                )

            w = torch.func.vmap(one)(a, g) if len(a) else a.new_zeros((0, *shape))
            spatial = tuple(range(2, g.dim()))
            b = g.sum(dim=spatial) if conv.bias is not None else None  # type: ignore[assignment]
        if conv.weight.requires_grad:
            conv.weight.grad_sample = w
        if b is not None and conv.bias.requires_grad:
            conv.bias.grad_sample = b

    def clear(self) -> None:
        """Drop saved activations and ``grad_sample`` attributes."""
        self._saved.clear()
        for m in self.layers:
            for p in _own_params(m):
                p.grad_sample = None  # type: ignore[attr-defined]

    def close(self) -> None:
        """Remove the hooks."""
        self.clear()
        for h in self._handles:
            h.remove()
        self._handles = []
