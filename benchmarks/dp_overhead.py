"""DP-SGD epoch time ÷ non-DP epoch time on 004's CNN (batch 64), measured in one run.

Baseline: the same model, data and batches trained with plain SGD. Variants, all through
FedChain's ``dp_sgd`` mechanism (Opacus DPOptimizer + RDP accountant): ``"fast"`` (FedChain's
default for Linear/Conv models: one backward pass, per-sample conv gradients as one vmapped
weight-gradient kernel), Opacus ghost clipping (``"ghost"``) and Opacus' default per-sample
hooks (``"hooks"``). ``dp_overhead_ratio`` is the default (``"fast"``) one. Batches
are identical across variants (Poisson sampling off, so every step sees 64 samples). One torch
thread, a warm-up epoch per variant, then ``--repeats`` rounds of one timed epoch per variant,
interleaved so drift hits all variants alike; the ratio uses the medians.

Data: the first ``--batches`` × 64 MNIST training images from ../shared/data/mnist.npz, or a seeded
synthetic 28×28 set when that file is absent. Progress goes to stderr; the last stdout line is a
JSON object (key ``dp_overhead_ratio``, target ≤ 2.2).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from fedchain.learning import build_model, make_privacy, make_spec
from fedchain.learning.privacy import PrivateRun

BATCH = 64
MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_data(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    if MNIST.is_file():
        with np.load(MNIST, allow_pickle=False) as z:
            x = z["x_train"][:n].astype(np.float32)[:, None] / 255.0
            y = z["y_train"][:n].astype(np.int64)
        return x, y, "mnist"
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    return x, y, "synthetic"


def make_run(variant: str, x: torch.Tensor, y: torch.Tensor, epochs: int) -> PrivateRun:
    spec = make_spec("cnn004")
    model = build_model(spec, seed=0)
    loader = DataLoader(
        TensorDataset(x, y),
        batch_size=BATCH,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    if variant == "sgd":
        return PrivateRun(model, optimizer=opt, loader=loader)
    mech = make_privacy(
        "dp_sgd",
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        grad_sample_mode=variant.removeprefix("dp_"),
        poisson_sampling=False,
    )
    return mech.start(
        model,
        optimizer=opt,
        loader=loader,
        epochs=epochs,
        generator=torch.Generator().manual_seed(1),
    )


def epoch(run: PrivateRun) -> float:
    t0 = time.perf_counter()
    for xb, yb in run.loader:
        run.step(xb, yb)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=60, help="batches of 64 per epoch")
    ap.add_argument("--repeats", type=int, default=5, help="timed epochs per variant")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    xn, yn, source = load_data(args.batches * BATCH)
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    variants = ["sgd", "dp_fast", "dp_ghost", "dp_hooks"]
    runs = {v: make_run(v, x, y, epochs=args.repeats + 1) for v in variants}
    for v in variants:
        log(f"warm-up {v}: {epoch(runs[v]):.2f} s")
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in variants:
            times[v].append(epoch(runs[v]))
        line = ", ".join(f"{v} {times[v][-1]:.2f} s" for v in variants)
        log(f"repeat {r + 1}/{args.repeats}: {line}")
    med = {v: statistics.median(times[v]) for v in variants}
    result = {
        "benchmark": "dp_overhead",
        "model": "cnn004",
        "batch_size": BATCH,
        "batches_per_epoch": args.batches,
        "repeats": args.repeats,
        "data": source,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "epoch_seconds_median": {v: round(t, 4) for v, t in med.items()},
        "dp_overhead_ratio": round(med["dp_fast"] / med["sgd"], 3),
        "dp_overhead_ratio_ghost": round(med["dp_ghost"] / med["sgd"], 3),
        "dp_overhead_ratio_hooks": round(med["dp_hooks"] / med["sgd"], 3),
        "grad_sample_mode": "fast",
        "target": 2.2,
    }
    result["meets_target"] = result["dp_overhead_ratio"] <= result["target"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
