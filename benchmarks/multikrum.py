"""Multi-KRUM selection: FedChain vs Flower's MultiKrum vs one float32 GEMM (BENCHMARKS.md).

R = 100 updates of d = 10^6 float32 coordinates, f = 20, one thread. The data are seeded:
80 honest updates near a common direction (g + small noise), 20 Byzantine ones (sign-flipped
and scaled, large Gaussian noise, a shifted direction, and colluding identical copies). A second,
harder scenario has only 10 outliers, so the cut-off falls inside the honest cluster (reported,
not a target).

Timed, median of ``--repeats`` interleaved runs after a warm-up:
- ours:   ``fedchain.verification.multikrum`` on the list of R arrays;
- flower: ``flwr.serverapp.strategy.multikrum.select_multikrum`` (Flower's own selection
          function, called on RecordDicts holding one ArrayRecord per update, built once
          outside the timing);
- gemm:   one float32 ``X @ X.T`` on the stacked (R, d) array.

Both selections are compared with a float64 reference (centred float64 Gram, scores in float64,
ties by lower index). The last line is a JSON object.

Run: ``.venv/bin/python benchmarks/multikrum.py`` (Flower: ``pip install -c constraints.txt
flwr``; without it the Flower figures are null and the GEMM ratio is still printed).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fedchain.verification import multikrum  # noqa: E402

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    threadpool_limits = None


def make_updates(R: int, d: int, outliers: int, seed: int) -> np.ndarray:
    """Honest updates g + noise; ``outliers`` Byzantine rows spread over the index range."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(d, dtype=np.float32) * np.float32(0.01)
    X = np.empty((R, d), dtype=np.float32)
    for i in range(R):
        X[i] = g + rng.standard_normal(d, dtype=np.float32) * np.float32(0.004)
    bad = np.linspace(0, R - 1, outliers).astype(int) if outliers else np.array([], int)
    for n, i in enumerate(bad):
        kind = n % 4
        if kind == 0:  # sign flip, scaled
            X[i] = -4.0 * X[i]
        elif kind == 1:  # Gaussian noise
            X[i] = rng.standard_normal(d, dtype=np.float32) * np.float32(0.05)
        elif kind == 2:  # a shifted direction
            X[i] = X[i] + np.float32(0.02)
        else:  # colluders: copies of one poisoned update
            X[i] = X[bad[1]] if n > 1 else X[i] * 3
    return X


def reference_float64(X: np.ndarray, f: int, block: int = 8192) -> tuple[list[int], float]:
    """Float64 Multi-KRUM (centred Gram in float64 blocks); returns (selection, relative gap)."""
    R, d = X.shape
    G = np.zeros((R, R))
    for c0 in range(0, d, block):
        c = X[:, c0 : c0 + block].astype(np.float64)
        c -= c.mean(axis=0)
        G += c @ c.T
    n = np.diag(G)
    D = np.maximum(n[:, None] + n[None, :] - 2 * G, 0.0)
    k, m = R - f - 2, R - f
    s = np.array([np.sort(np.delete(D[i], i))[:k].sum() for i in range(R)])
    order = sorted(range(R), key=lambda i: (s[i], i))
    gap = float((s[order[m]] - s[order[m - 1]]) / s[order[m]])
    return sorted(order[:m]), gap


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--R", type=int, default=100)
    ap.add_argument("--d", type=int, default=1_000_000)
    ap.add_argument("--f", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if threadpool_limits is not None:
        threadpool_limits(1)  # BLAS pools stay at one thread for the whole run

    R, d, f = args.R, args.d, args.f
    X = make_updates(R, d, f, args.seed)
    rows = [X[i] for i in range(R)]

    flower_select = None
    contents: list[Any] = []
    flower_error = None
    try:
        from flwr.app import ArrayRecord, RecordDict
        from flwr.serverapp.strategy.multikrum import select_multikrum

        contents = [RecordDict({"arrays": ArrayRecord([row])}) for row in rows]
        flower_select = select_multikrum
    except Exception as exc:  # flwr missing or its API moved
        flower_error = f"{type(exc).__name__}: {exc}"

    def run_ours() -> list[int]:
        return multikrum(rows, f=f).selected

    def run_flower() -> list[int]:
        assert flower_select is not None
        picked = flower_select(contents, num_malicious_nodes=f, num_nodes_to_select=R - f)
        ids = {id(c): i for i, c in enumerate(contents)}
        return sorted(ids[id(c)] for c in picked)

    def run_gemm() -> None:
        X @ X.T

    ours_sel = run_ours()  # warm-up (and the result we check)
    flower_sel = run_flower() if flower_select else None
    run_gemm()
    t_ours, t_flower, t_gemm = [], [], []
    for _ in range(args.repeats):
        t_ours.append(timed(run_ours))
        if flower_select:
            t_flower.append(timed(run_flower))
        t_gemm.append(timed(run_gemm))
    ref_sel, gap = reference_float64(X, f)
    res = multikrum(rows, f=f)

    # Harder scenario: 10 outliers for f = 20, the cut falls among honest updates.
    Xh = make_updates(R, d, f // 2, args.seed + 1)
    rows_h = [Xh[i] for i in range(R)]
    res_h = multikrum(rows_h, f=f)
    t_hard = [timed(lambda: multikrum(rows_h, f=f)) for _ in range(3)]
    t_gemm_h = [timed(lambda: Xh @ Xh.T) for _ in range(3)]
    ref_h, gap_h = reference_float64(Xh, f)

    med = statistics.median
    out = {
        "R": R,
        "d": d,
        "f": f,
        "threads": 1,
        "repeats": args.repeats,
        "ours_median_s": med(t_ours),
        "flower_median_s": med(t_flower) if t_flower else None,
        "gemm_median_s": med(t_gemm),
        "speedup_vs_flower": med(t_flower) / med(t_ours) if t_flower else None,
        "ratio_to_gemm": med(t_ours) / med(t_gemm),
        "same_selection_as_float64": ours_sel == ref_sel and res.selected == ref_sel,
        "flower_same_selection_as_float64": (flower_sel == ref_sel) if flower_sel else None,
        "float64_reference_relative_gap": gap,
        "rows_refined_float64": len(res.refined_float64),
        "rows_refined_exact": len(res.refined_exact),
        "flower_version": _flwr_version(),
        "flower_error": flower_error,
        "hard_ours_median_s": med(t_hard),
        "hard_ratio_to_gemm": med(t_hard) / med(t_gemm_h),
        "hard_same_selection_as_float64": res_h.selected == ref_h,
        "hard_rows_refined_float64": len(res_h.refined_float64),
        "hard_float64_reference_relative_gap": gap_h,
    }
    print(
        f"ours {out['ours_median_s']:.3f}s  flower {out['flower_median_s'] or float('nan'):.3f}s"
        f"  gemm {out['gemm_median_s']:.3f}s  speedup {out['speedup_vs_flower'] or 0:.2f}x"
        f"  ratio_to_gemm {out['ratio_to_gemm']:.2f}  exact {out['same_selection_as_float64']}"
    )
    print(
        f"hard scenario: ours {out['hard_ours_median_s']:.3f}s, "
        f"{out['hard_ratio_to_gemm']:.2f}x GEMM, {out['hard_rows_refined_float64']} rows refined"
        f" in float64, same selection {out['hard_same_selection_as_float64']}"
    )
    print(json.dumps(out))


def _flwr_version() -> str | None:
    try:
        import flwr

        return str(flwr.__version__)
    except Exception:
        return None


if __name__ == "__main__":
    main()
