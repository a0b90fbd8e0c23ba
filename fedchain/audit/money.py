"""Where the money and the reputation went, re-derived with the Python mirror
(:mod:`fedchain.incentives`) and compared with the settlement events to the wei; and the
privacy each client's updates declare."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from fedchain.audit.findings import AuditReport
from fedchain.audit.rebuild import TaskContext
from fedchain.incentives import next_reputation, slashed_stake
from fedchain.learning.model_laplace import UNPERTURBED_SUFFIXES
from fedchain.roles.outcome import TaskOutcome
from fedchain.roles.taskfile import TaskManifest
from fedchain.storage import BlobStore, StorageError, decode_model

__all__ = ["audit_money", "audit_privacy", "audit_release"]


def _client_expectations(
    ctx: TaskContext, outcome: TaskOutcome, *, threshold: int, gamma_max: int
) -> dict[str, dict[str, int]]:
    log, state = ctx.log, ctx.state
    clients = outcome.clients
    joined = {str(e.args["client"]).lower(): int(e.args["reputation"])
              for e in log.events("ClientJoined")}  # fmt: skip
    evaluated = len(outcome.rounds)
    accepted_rounds = {c.lower(): 0 for c in clients}
    rewards = {c.lower(): 0 for c in clients}
    gammas = {c.lower(): joined.get(c.lower(), threshold) for c in clients}
    for row in outcome.rounds:
        chosen = {a.lower() for a in row.accepted}
        for c in clients:
            key = c.lower()
            ok = key in chosen
            accepted_rounds[key] += ok
            gammas[key] = next_reputation(gammas[key], ok, h=threshold, gamma_max=gamma_max)
        for a, amount in row.rewards.items():
            rewards[a.lower()] += int(amount)
    unit = state.client_mortgage // state.rounds if state.rounds else 0
    missed_total = sum(evaluated - n for n in accepted_rounds.values())
    total_penalty = unit * missed_total
    out = {}
    for c in clients:
        key = c.lower()
        penalty = unit * (evaluated - accepted_rounds[key])
        share = (total_penalty - penalty) // (len(clients) - 1) if len(clients) > 1 else 0
        out[key] = {
            "reward": rewards[key], "penalty": penalty, "penaltyShare": share,
            "payout": state.client_mortgage - penalty + share + rewards[key],
            "reputation": gammas[key], "joined": joined.get(key, threshold),
        }  # fmt: skip
    return out


def audit_money(
    report: AuditReport,
    ctx: TaskContext,
    outcome: TaskOutcome,
    *,
    threshold: int,
    gamma_max: int,
    slash_bps: int | None,
) -> None:
    """``money.*`` findings: clients, miners, reputation and the escrow balance."""
    log = ctx.log
    if not ctx.state.status.ended:
        report.add(
            "money.escrow",
            "unchecked",
            "escrow",
            detail=f"the task is {ctx.state.status.name.lower()}: nothing is settled yet",
        )
        return
    want = _client_expectations(ctx, outcome, threshold=threshold, gamma_max=gamma_max)
    settled = {str(e.args["client"]).lower(): e for e in log.events("ClientSettled")}
    for client in outcome.clients:
        key = client.lower()
        e = settled.get(key)
        if e is None:
            report.add("money.client", "unchecked", client, detail="not settled yet")
            continue
        exp = want[key]
        found = {k: int(e.args[k]) for k in ("reward", "penalty", "penaltyShare", "payout")}
        expected = {k: exp[k] for k in found}
        report.add("money.client", "ok" if found == expected else "mismatch", client,
                   tx_hash=e.tx_hash, expected=expected, found=found)  # fmt: skip
        rep = int(e.args["reputation"])
        report.add("money.reputation", "ok" if rep == exp["reputation"] else "mismatch",
                   client, tx_hash=e.tx_hash, expected=exp["reputation"], found=rep,
                   detail="the reputation at settlement (M9 over the task's rounds)")  # fmt: skip
    _registry_reputation(report, ctx, want, threshold=threshold, gamma_max=gamma_max)
    _miners(report, ctx, slash_bps)
    _escrow(report, ctx, outcome, want)


def _registry_reputation(
    report: AuditReport,
    ctx: TaskContext,
    want: dict[str, dict[str, int]],
    *,
    threshold: int,
    gamma_max: int,
) -> None:
    """The registry's scoped reputation moves by the task's net change, clamped to [0, γmax].

    With the previous value strictly inside the bounds it is ``h + Σ deltas`` exactly, so the
    new value is ``clamp(previous + delta)``; at a bound the score may lie beyond it, and only
    the bound-respecting direction is certain."""
    for e in ctx.outcomes:
        who = str(e.args["participant"]).lower()
        if who not in want:
            continue
        delta = want[who]["reputation"] - want[who]["joined"]
        previous, current = int(e.args["previous"]), int(e.args["current"])
        expected = min(gamma_max, max(0, previous + delta))
        if 0 < previous < gamma_max or delta == 0:
            status = "ok" if current == expected else "mismatch"
        else:  # a saturated score: moving away from the bound may take more than delta
            toward = (previous == 0 and delta < 0) or (previous == gamma_max and delta > 0)
            status = (
                "ok"
                if (current == previous if toward else 0 <= current <= gamma_max)
                else ("mismatch")
            )
        report.add("money.reputation", status, str(e.args["participant"]), tx_hash=e.tx_hash,
                   expected=expected, found=current,
                   detail=f"registry scope of requester {e.args['requester']}: "
                   f"{previous} -> {current}")  # fmt: skip


def _miners(report: AuditReport, ctx: TaskContext, slash_bps: int | None) -> None:
    log = ctx.log
    stakes = {str(e.args["miner"]).lower(): int(e.args["stake"]) for e in log.events("MinerJoined")}
    offenses: dict[str, int] = {}
    for e in log.events("StakeSlashed"):
        who = str(e.args["miner"]).lower()
        offenses[who] = offenses.get(who, 0) + 1
    burned = {
        str(e.args["miner"]).lower(): int(e.args["amount"]) for e in log.events("StakeBurned")
    }
    settled = {str(e.args["miner"]).lower(): e for e in log.events("MinerSettled")}
    for miner in log.miners():
        key = miner.lower()
        settlement = settled.get(key)
        if settlement is None:
            report.add("money.miner", "unchecked", miner, detail="not settled yet")
            continue
        if slash_bps is None:
            report.add("money.miner", "unchecked", miner, tx_hash=settlement.tx_hash,
                       detail="the deployment file does not record slash_bps")  # fmt: skip
            continue
        slashed = slashed_stake(stake=stakes[key], offenses=offenses.get(key, 0),
                                slash_bps=slash_bps)  # fmt: skip
        expected = {"slashed": slashed, "payout": stakes[key] - slashed, "burned": slashed}
        args = settlement.args
        found = {"slashed": int(args["slashed"]), "payout": int(args["payout"]),
                 "burned": burned.get(key, 0)}  # fmt: skip
        report.add("money.miner", "ok" if found == expected else "mismatch", miner,
                   tx_hash=settlement.tx_hash, expected=expected, found=found,
                   detail=f"{offenses.get(key, 0)} offense(s)")  # fmt: skip


def _escrow(
    report: AuditReport, ctx: TaskContext, outcome: TaskOutcome, want: dict[str, dict[str, int]]
) -> None:
    log = ctx.log
    leader_paid = sum(int(e.args["amount"]) for e in log.events("LeaderRewarded"))
    paid = sum(w["reward"] for w in want.values()) + leader_paid
    dust = sum(w["penalty"] - w["penaltyShare"] for w in want.values())
    refunds = log.events("RequesterRefunded")
    refunded = sum(int(e.args["amount"]) for e in refunds)
    expected = {"deposited": ctx.escrow, "paid + refunded": paid + (ctx.escrow - paid),
                "refund": ctx.escrow - paid + dust}  # fmt: skip
    found = {"deposited": ctx.escrow, "paid + refunded": paid + refunded - dust,
             "refund": refunded}  # fmt: skip
    report.add("money.escrow", "ok" if found == expected else "mismatch", "escrow",
               tx_hash=refunds[-1].tx_hash if refunds else None, expected=expected, found=found,
               detail=f"paid {paid} wei (leaders {leader_paid}), refunded {refunded} wei "
               f"(penalty rounding {dust})")  # fmt: skip


def audit_privacy(
    report: AuditReport, ctx: TaskContext, manifest: TaskManifest, store: BlobStore
) -> dict[str, float]:
    """``privacy.budget``: each update's declared mechanism and ε against the manifest, and each
    client's budget composed over the rounds it released an update in (basic composition:
    the ε add up). Returns the composed ε per client."""
    from fedchain.roles.blobs import PRIVACY_KEY

    configured = manifest.privacy.to_dict() if manifest.privacy is not None else None
    per_release = (configured or {}).get("params", {}).get("epsilon")
    composed: dict[str, float] = {}
    for row in report.rounds:
        for sub in row["submissions"]:
            client = sub["client"]
            try:
                _, meta = decode_model(store.get(sub["cid"]))
            except StorageError:
                continue  # the blob check already said why
            text = meta.extra.get(PRIVACY_KEY)
            declared = _declared(text)
            if declared is None:
                report.add(
                    "privacy.budget",
                    "unchecked",
                    client,
                    round=row["round"],
                    tx_hash=sub["tx_hash"],
                    detail="the update declares no privacy",
                )
                continue
            eps = declared.get("epsilon")
            expected = _expected_spend(manifest, configured)
            same = (declared.get("mechanism"), declared.get("params")) == (
                (configured or {}).get("mechanism", "none"),
                (configured or {}).get("params", {}),
            )
            within = (
                eps is None
                or expected is None
                or abs(float(eps) - expected) <= 1e-6 * max(1.0, expected)
            )
            if eps is not None and expected is None and per_release is not None:
                within = float(eps) <= float(per_release) + 1e-9  # a target the run must meet
            composed[client] = composed.get(client, 0.0) + float(eps or 0.0)
            report.add("privacy.budget", "ok" if same and within else "mismatch", client,
                       round=row["round"], tx_hash=sub["tx_hash"],
                       expected={**(configured or {"mechanism": "none"}),
                                 "epsilon": expected if expected is not None else per_release},
                       found=declared,
                       detail=f"epsilon {eps} this round, {composed[client]:g} composed over "
                       "the rounds so far")  # fmt: skip
    return composed


def _expected_spend(manifest: TaskManifest, configured: dict[str, Any] | None) -> float | None:
    """The ε one round's training spends under the manifest, when it is fixed in advance:
    feature-level DP perturbs the features once per local epoch, each release costing its ε
    (``docs/learning.md``). None for accountant-based mechanisms (their ε is a target)."""
    if not configured or configured.get("mechanism") != "feature_dp":
        return None
    return float(configured["params"]["epsilon"]) * manifest.training.epochs


def _declared(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def audit_release(
    report: AuditReport,
    final: Mapping[str, np.ndarray],
    released: Mapping[str, np.ndarray],
    release: Mapping[str, Any] | None,
    *,
    tx_hash: str | None,
) -> None:
    """``privacy.release``: the published perturbed model is the final model plus Laplace noise
    of the scale the manifest's release declares.

    The noise n = released − final of a Laplace(b) release has E|n| = b = sensitivity/ε, and
    |n| is exponential, so the mean over N weights estimates b within 6·b/√N (six standard
    errors) plus 1 % for float32 rounding. A requester that declares ε but adds less noise (or
    none), or more, is a mismatch; a release with no declaration in the manifest is one too.
    """
    subject = "perturbed final model"
    if release is None:
        report.add("privacy.release", "mismatch", subject, tx_hash=tx_hash,
                   expected="a release declared in the manifest", found="none declared",
                   detail="a perturbed model was published, but the manifest declares no "
                   "release")  # fmt: skip
        return
    scale = float(release["sensitivity"]) / float(release["epsilon"])
    noise = [
        np.abs(np.asarray(released[k], np.float64) - np.asarray(final[k], np.float64)).ravel()
        for k in sorted(final)
        if not k.endswith(UNPERTURBED_SUFFIXES)
        and np.issubdtype(np.asarray(final[k]).dtype, np.floating)
    ]
    flat = np.concatenate(noise) if noise else np.zeros(0)
    if flat.size == 0:
        report.add("privacy.release", "unchecked", subject, tx_hash=tx_hash,
                   detail="the model has no weights to measure the noise on")  # fmt: skip
        return
    measured = float(flat.mean())
    tolerance = scale * (6.0 / math.sqrt(flat.size) + 0.01)
    ok = abs(measured - scale) <= tolerance
    report.add("privacy.release", "ok" if ok else "mismatch", subject, tx_hash=tx_hash,
               expected={"mean_abs_noise": scale, "tolerance": tolerance},
               found={"mean_abs_noise": measured, "weights": int(flat.size)},
               detail=f"Laplace release at epsilon {float(release['epsilon']):g}: mean |noise| "
               f"{measured:.3g} against sensitivity/epsilon = {scale:.3g}")  # fmt: skip
