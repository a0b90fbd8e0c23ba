"""Accuracy sanity experiment on MNIST (paper 004's setting, scaled to this machine) or digits.

Part A — feature-level DP (004): ``--clients`` IID clients with ``--per-client`` images each,
004's CNN with bounded normalization, feature DP at ``--epsilon`` (default 2), FedAvg weighted
by sample count; test accuracy after every global round (004 reports ≥ 90 % after 2 global
epochs for ε > 1, with 40 local epochs; we run ``--local-epochs``, default 1).

Part B — robustness (M7/M15): the same federation with ``--attackers`` (default 20 %) sign-flip
clients (Δ → −scale·Δ), aggregated by plain FedAvg and by Multi-KRUM (f = number of attackers)
followed by FedAvg of the accepted updates; test accuracy of each after ``--rounds`` rounds.
Round 1 of Part B starts from the same global model with the same seeds as Part A, so the
honest round-1 updates of Part A are reused.

Needs MNIST (``--mnist``, default ../shared/data/mnist.npz) unless ``--dataset digits``
(scikit-learn's 8×8 digits with ``cnn_digits``; the whole training set split IID), which is
also what runs when the default MNIST file is absent. ``--dataset digits`` defaults to the
digits demo recommendation of docs/learning.md (5 rounds × 5 local epochs, batch 16, lr 0.05,
momentum 0.5, feature DP ε = 2).

Progress goes to stderr; the last stdout line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fedchain.learning import (
    PrivacyConfig,
    TrainResult,
    apply_update,
    build_model,
    evaluate,
    get_state,
    load_dataset,
    make_behaviour,
    make_spec,
    model_update,
    partition,
    train_local,
)
from fedchain.learning.attacks import AttackContext
from fedchain.learning.state import StateDict, flatten_state
from fedchain.verification import multikrum
from fedchain.verification.fedavg import fedavg

DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"


#: Defaults per data set: 004's MNIST setting (1 local epoch instead of 40) and the digits demo.
PRESETS = {
    "mnist": {"rounds": 2, "local_epochs": 1, "lr": 0.01, "momentum": 0.9, "batch_size": 64},
    "digits": {"rounds": 5, "local_epochs": 5, "lr": 0.05, "momentum": 0.5, "batch_size": 16},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Federation:
    """Clients, their data and the training hyper-parameters of one experiment."""

    def __init__(self, args: argparse.Namespace) -> None:
        if args.dataset == "mnist":
            ds = load_dataset("mnist", path=args.mnist)
            model, size = "cnn004", args.per_client or 6000
        else:
            ds = load_dataset("digits")
            model, size = "cnn_digits", args.per_client
        self.x_test = ds.x_test[: args.test_size]
        self.y_test = ds.y_test[: args.test_size]
        parts = partition(ds.y_train, args.clients, scheme="iid", size=size, seed=args.seed)
        self.data = [(ds.x_train[p], ds.y_train[p]) for p in parts]
        self.spec = make_spec(model, norm=args.norm, norm_batch=args.batch_size)
        self.privacy = (
            PrivacyConfig.create("feature_dp", epsilon=args.epsilon) if args.epsilon > 0 else None
        )
        self.args = args
        self.cache: dict[tuple[int, int], TrainResult] = {}

    def train(self, k: int, rnd: int, global_state: StateDict, *, cache: bool) -> TrainResult:
        key = (k, rnd)
        if cache and key in self.cache:
            return self.cache[key]
        x, y = self.data[k]
        a = self.args
        r = train_local(
            self.spec,
            global_state,
            x,
            y,
            epochs=a.local_epochs,
            batch_size=a.batch_size,
            lr=a.lr,
            momentum=a.momentum,
            privacy=self.privacy,
            seed=a.seed * 1_000_003 + rnd * 1009 + k,
        )
        if cache:
            self.cache[key] = r
        return r

    def accuracy(self, state: StateDict) -> float:
        return evaluate(self.spec, state, self.x_test, self.y_test)


def run(
    fed: Federation,
    init: StateDict,
    *,
    rounds: int,
    attackers: list[int],
    rule: str,
    label: str,
) -> dict[str, object]:
    a = fed.args
    attack = make_behaviour("sign_flip", scale=a.attack_scale)
    state = init
    accs: list[float] = []
    rejected: list[list[int]] = []
    eps_spent = 0.0
    for rnd in range(1, rounds + 1):
        t0 = time.perf_counter()
        updates, weights = [], []
        gvec = flatten_state(state)
        for k in range(len(fed.data)):
            # round 1 starts from the shared initial model: identical across experiments
            r = fed.train(k, rnd, state, cache=rnd == 1)
            upd = model_update(r.state, state)
            if k in attackers:
                ctx = AttackContext(round=rnd, global_vector=gvec)
                upd = attack.after_training(upd, ctx, np.random.default_rng(k))
            updates.append(upd)
            weights.append(r.num_samples)
            eps_spent = max(eps_spent, float(r.epsilon or 0.0))
        chosen = list(range(len(updates)))
        if rule == "multikrum":
            res = multikrum(np.stack(updates), f=max(len(attackers), 1))
            chosen = res.selected
            rejected.append(res.rejected)
        agg = fedavg([updates[i] for i in chosen], [weights[i] for i in chosen])
        state = apply_update(state, agg, fed.spec)
        accs.append(fed.accuracy(state))
        extra = f", rejected {rejected[-1]}" if rule == "multikrum" else ""
        log(
            f"[{label}] round {rnd}/{rounds}: test accuracy {accs[-1]:.4f} "
            f"({time.perf_counter() - t0:.0f} s{extra})"
        )
    out: dict[str, object] = {"accuracy_per_round": [round(v, 4) for v in accs]}
    out["final_accuracy"] = round(accs[-1], 4)
    if rule == "multikrum":
        out["rejected_per_round"] = rejected
    out["epsilon_per_round"] = eps_spent
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    ap.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="MNIST .npz or IDX dir")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument(
        "--per-client", type=int, default=None, help="IID images per client (MNIST: 6000)"
    )
    ap.add_argument("--rounds", type=int, help="global rounds (MNIST 2, digits 5)")
    ap.add_argument("--local-epochs", type=int, help="MNIST 1, digits 5")
    ap.add_argument("--epsilon", type=float, default=2.0, help="feature-DP ε (0: no DP)")
    ap.add_argument("--norm", choices=["bounded", "batch"], default="bounded")
    ap.add_argument("--lr", type=float, help="MNIST 0.01, digits 0.05")
    ap.add_argument("--momentum", type=float, help="MNIST 0.9, digits 0.5")
    ap.add_argument("--batch-size", type=int, help="MNIST 64 (004), digits 16")
    ap.add_argument("--test-size", type=int, default=10000)
    ap.add_argument("--attackers", type=float, default=0.2, help="share of sign-flip clients")
    ap.add_argument("--attack-scale", type=float, default=4.0, help="sign flip: Δ → −scale·Δ")
    ap.add_argument("--skip-attack", action="store_true", help="run Part A only")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.dataset == "mnist" and not args.mnist.exists() and args.mnist == DEFAULT_MNIST:
        log(f"{DEFAULT_MNIST} not found: running the digits setting instead (--dataset digits)")
        args.dataset = "digits"
    for key, value in PRESETS[args.dataset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    fed = Federation(args)
    init = get_state(build_model(fed.spec, seed=args.seed))
    log(
        f"{args.clients} clients × {len(fed.data[0][1])} {args.dataset} images, "
        f"{fed.spec.name} norm={args.norm}, "
        f"feature DP ε={args.epsilon}, {args.rounds} rounds × {args.local_epochs} local epochs"
    )
    result: dict[str, object] = {
        "benchmark": "accuracy",
        "dataset": args.dataset,
        "model": fed.spec.name,
        "norm": args.norm,
        "privacy": fed.privacy.to_dict() if fed.privacy else None,
        "clients": args.clients,
        "per_client": [len(y) for _, y in fed.data],
        "rounds": args.rounds,
        "local_epochs": args.local_epochs,
        "lr": args.lr,
        "momentum": args.momentum,
        "batch_size": args.batch_size,
        "test_size": len(fed.y_test),
        "seed": args.seed,
    }
    part_a = run(fed, init, rounds=args.rounds, attackers=[], rule="fedavg", label="feature DP")
    result["feature_dp"] = part_a
    result["feature_dp_accuracy"] = part_a["final_accuracy"]
    if args.dataset == "mnist":
        result["paper_004_target"] = 0.90
    if not args.skip_attack:
        n_att = max(1, round(args.attackers * args.clients))
        attackers = list(range(args.clients - n_att, args.clients))
        log(f"attackers (sign flip ×{args.attack_scale}): clients {attackers}")
        fedavg_res = run(
            fed,
            init,
            rounds=args.rounds,
            attackers=attackers,
            rule="fedavg",
            label="FedAvg + attack",
        )
        krum_res = run(
            fed,
            init,
            rounds=args.rounds,
            attackers=attackers,
            rule="multikrum",
            label="Multi-KRUM + attack",
        )
        result["attack"] = {
            "kind": "sign_flip",
            "scale": args.attack_scale,
            "attackers": attackers,
            "fedavg": fedavg_res,
            "multikrum": krum_res,
        }
        result["fedavg_under_attack_accuracy"] = fedavg_res["final_accuracy"]
        result["multikrum_under_attack_accuracy"] = krum_res["final_accuracy"]
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
