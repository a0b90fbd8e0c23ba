"""Each finalized round re-derived: its committee, who posted and attested, who wrote each
update, and the verdict itself re-run from the blobs with the committee's own code
(:func:`fedchain.roles.blobs.check_submission`, :func:`fedchain.roles.judging.judge_round`)."""

from __future__ import annotations

import time
from typing import Any

from fedchain.audit.findings import AuditReport
from fedchain.audit.rebuild import TaskContext
from fedchain.audit.scores import audit_scores
from fedchain.chain import eip712
from fedchain.chain.events import DecodedEvent
from fedchain.chain.policies import POLICY_NAMES
from fedchain.chain.verdicts import indices
from fedchain.learning import ModelSpec
from fedchain.roles.blobs import (
    FetchedModel,
    check_submission,
    fetch_model,
    read_verdict_notes,
)
from fedchain.roles.judging import CheckedUpdate, judge_round, models_agree
from fedchain.roles.taskfile import TaskManifest
from fedchain.storage import (
    BlobNotFoundError,
    BlobStore,
    StorageError,
    digest_to_cid,
)
from fedchain.storage.errors import IntegrityError, KuboError
from fedchain.verification.sortition import committee as draw_seats
from fedchain.verification.sortition import round_seed

__all__ = ["audit_round", "fetch_checked"]


def fetch_checked(
    report: AuditReport,
    store: BlobStore,
    check: str,
    digest: bytes,
    codec: int,
    *,
    spec: ModelSpec | None,
    round: int | None,
    tx_hash: str | None,
) -> FetchedModel | None:
    """Fetch a model blob the chain names and record the ``check`` finding; None on failure.

    A blob the store does not have (or cannot serve now) is ``unchecked``; bytes that do not
    hash to the on-chain digest, or that do not decode under the spec, are a ``mismatch``.
    """
    cid = digest_to_cid(bytes(digest), int(codec))
    try:
        model = fetch_model(store, digest, codec, spec=spec)
    except (BlobNotFoundError, KuboError) as exc:
        report.add(check, "unchecked", cid, round=round, tx_hash=tx_hash,
                   detail=f"blob unavailable: {exc}")  # fmt: skip
        return None
    except StorageError as exc:
        report.add(check, "mismatch", cid, round=round, tx_hash=tx_hash,
                   expected="a blob whose CID is the on-chain digest, valid under the spec",
                   found=str(exc), detail=f"invalid blob: {exc}")  # fmt: skip
        return None
    report.add(check, "ok", cid, round=round, tx_hash=tx_hash)
    return model


def _committee_checks(
    report: AuditReport, ctx: TaskContext, chain: Any, r: int, posted: list[DecodedEvent]
) -> list[str]:
    """Recompute the seats from the seed; returns the seats (lower-case) as the chain drew them."""
    log = ctx.log
    drawn = log.last("CommitteeDrawn", round=r)
    if drawn is None:
        report.add("committee.seats", "mismatch", f"round {r}", round=r,
                   detail="a finalized round without a CommitteeDrawn event")  # fmt: skip
        return []
    seats = [str(a).lower() for a in drawn.args["committee"]]
    renewed = [e for e in log.events("SeedRenewed", round=r) if e.sort_key < drawn.sort_key]
    opened = log.last("RoundOpened", round=r)
    seed_block = int((renewed[-1] if renewed else opened).args["seedBlock"]) if opened else -1
    block_hash = chain.block_hash(seed_block) if seed_block >= 0 else None
    if block_hash is None:
        report.add(
            "committee.seats",
            "unchecked",
            f"round {r}",
            round=r,
            tx_hash=drawn.tx_hash,
            detail=f"seed block {seed_block} unknown to the node",
        )
        return seats
    seed = round_seed(block_hash, ctx.state.task_id, r)
    miners = log.miners()
    stakes = {str(e.args["miner"]).lower(): int(e.args["stake"]) for e in log.events("MinerJoined")}
    expected = [
        a.lower()
        for a in draw_seats(
            seed, miners, [stakes[m.lower()] for m in miners], ctx.state.committee_size
        )
    ]
    if bytes(drawn.args["seed"]) != seed or expected != seats:
        report.add(
            "committee.seats",
            "mismatch",
            f"round {r}",
            round=r,
            tx_hash=drawn.tx_hash,
            expected={"seed": seed, "committee": expected},
            found={"seed": bytes(drawn.args["seed"]), "committee": seats},
            detail="the drawn committee is not the sortition of the on-chain seed",
        )
    else:
        report.add("committee.seats", "ok", f"round {r}", round=r, tx_hash=drawn.tx_hash)
    for e in posted:
        attempt, leader = int(e.args["attempt"]), str(e.args["leader"]).lower()
        in_line = seats[attempt] if attempt < len(seats) else None
        status = "ok" if in_line == leader else "mismatch"
        report.add("committee.leader", status, leader, round=r, tx_hash=e.tx_hash,
                   expected=in_line, found=leader,
                   detail=f"attempt {attempt}")  # fmt: skip
    return seats


def _attestation_checks(
    report: AuditReport,
    ctx: TaskContext,
    r: int,
    seats: list[str],
    final: DecodedEvent,
    posted: DecodedEvent,
) -> list[dict[str, Any]]:
    approvals = {str(posted.args["leader"]).lower()}
    out = []
    for e in ctx.log.events("VerdictAttested", round=r):
        member = str(e.args["member"]).lower()
        out.append({"member": str(e.args["member"]), "agreed": bool(e.args["agreed"]),
                    "tx_hash": e.tx_hash})  # fmt: skip
        if member not in seats:
            report.add("committee.attestations", "mismatch", member, round=r, tx_hash=e.tx_hash,
                       detail="an attestation from a miner without a seat")  # fmt: skip
        if e.sort_key > posted.sort_key and bytes(e.args["verdictHash"]) == bytes(
            final.args["verdictHash"]
        ):
            approvals.add(member)
    votes = sum(1 for s in seats if s in approvals)
    quorum = (2 * len(seats) + 2) // 3
    status = "ok" if seats and votes >= quorum else "mismatch"
    report.add("committee.attestations", status, f"round {r}", round=r, tx_hash=final.tx_hash,
               expected=f">= {quorum} seats", found=f"{votes} seats",
               detail=f"{votes} of {len(seats)} seats approved the finalized verdict")  # fmt: skip
    return out


def _author(chain: Any, tasks: Any, ctx: TaskContext, r: int, e: DecodedEvent) -> dict[str, Any]:
    """Who sent or signed submission ``e``: ``{"relayed", "signer"}``."""
    name, args, sender = ctx.call_of(chain, tasks, e.tx_hash)
    if name == "submitUpdate":
        return {"relayed": False, "signer": sender}
    if name == "submitUpdatesBySig":
        for signed in args["updates"]:
            s = dict(signed)
            if bytes(s["digest"]) == bytes(e.args["digest"]):
                signer = eip712.recover_update_signer(
                    signed=s, chain_id=chain.chain_id, verifying_contract=tasks.address,
                    task_id=ctx.state.task_id, round=r,
                )  # fmt: skip
                if signer.lower() == str(e.args["client"]).lower():
                    return {"relayed": True, "signer": signer, "relayer": sender}
        return {"relayed": True, "signer": None, "relayer": sender}
    return {"relayed": False, "signer": None, "call": name}


def audit_round(
    report: AuditReport,
    ctx: TaskContext,
    source: Any,
    manifest: TaskManifest,
    final: DecodedEvent,
    start_model: FetchedModel | None,
) -> FetchedModel | None:
    """Every check of one finalized round; returns its global model (None when unusable)."""
    log, chain, tasks = ctx.log, source.chain, source.deployment.tasks
    r = int(final.args["round"])
    posted_all = sorted(log.events("VerdictPosted", round=r), key=lambda e: e.sort_key)
    posted = next(
        e for e in reversed(posted_all)
        if bytes(e.args["verdictHash"]) == bytes(final.args["verdictHash"])
    )  # fmt: skip
    seats = _committee_checks(report, ctx, chain, r, posted_all)
    attestations = _attestation_checks(report, ctx, r, seats, final, posted)
    clients = log.clients()
    index = {a.lower(): i for i, a in enumerate(clients)}
    fixed = log.client_samples()
    subs = sorted(log.submissions(r).values(), key=lambda e: e.sort_key)
    rows: list[dict[str, Any]] = []
    checked: list[CheckedUpdate] = []
    unusable = False
    for e in subs:
        client = str(e.args["client"])
        who = _author(chain, tasks, ctx, r, e)
        member = client.lower() in index
        ok = member and who.get("signer") is not None and who["signer"].lower() == client.lower()
        report.add(
            "authorship.update",
            "ok" if ok else "mismatch",
            client,
            round=r,
            tx_hash=e.tx_hash,
            expected=client,
            found=who.get("signer"),
            detail=""
            if ok
            else (
                "not a member of the task"
                if not member
                else "the sender or signer is not the client"
            ),
        )
        cid = digest_to_cid(bytes(e.args["digest"]), int(e.args["codec"]))
        rows.append(
            {
                "index": index.get(client.lower()),
                "client": client,
                "cid": cid,
                "tx_hash": e.tx_hash,
                "num_samples": int(e.args["numSamples"]),
                **who,
            }
        )
        if not member:
            continue
        weight = min(int(e.args["numSamples"]), fixed.get(client.lower(), 0))
        i = index[client.lower()]
        try:
            upd = check_submission(
                source.store, manifest.model, task_id=ctx.state.task_id, round=r, index=i,
                event=e, weight=weight, reraise=(BlobNotFoundError, IntegrityError),
            )  # fmt: skip
        except (BlobNotFoundError, KuboError) as exc:
            report.add("blob.update", "unchecked", cid, round=r, tx_hash=e.tx_hash,
                       detail=f"blob unavailable: {exc}")  # fmt: skip
            unusable = True
            continue
        except IntegrityError as exc:
            report.add("blob.update", "mismatch", cid, round=r, tx_hash=e.tx_hash,
                       expected="bytes hashing to the on-chain digest", found=str(exc),
                       detail=f"the store's bytes do not match the chain: {exc}")  # fmt: skip
            unusable = True
            continue
        problem = upd.problem or ""
        report.add("blob.update", "ok", cid, round=r, tx_hash=e.tx_hash,
                   detail=problem and f"the client's blob fails its checks: {problem}")  # fmt: skip
        checked.append(upd)
    verdict = posted.args["verdict"]
    posted_submitted = indices(int(verdict["submitted"]))
    posted_accepted = indices(int(verdict["accepted"]))
    members_submitted = sorted(index[e.args["client"].lower()] for e in subs
                               if e.args["client"].lower() in index)  # fmt: skip
    report.add("judgement.submitted",
               "ok" if members_submitted == posted_submitted else "mismatch", f"round {r}",
               round=r, tx_hash=posted.tx_hash, expected=members_submitted,
               found=posted_submitted)  # fmt: skip
    global_model = fetch_checked(
        report, source.store, "blob.global", verdict["globalModel"], int(verdict["codec"]),
        spec=manifest.model, round=r, tx_hash=posted.tx_hash,
    )  # fmt: skip
    drawn = log.last("CommitteeDrawn", round=r)
    row: dict[str, Any] = {
        "round": r, "seed": drawn.args["seed"] if drawn is not None else None,
        "committee": seats, "leader": str(posted.args["leader"]),
        "attempts": int(posted.args["attempt"]) + 1, "attestations": attestations,
        "submissions": rows, "accepted": posted_accepted,
        "rejected": [i for i in posted_submitted if i not in posted_accepted],
        "global_model": digest_to_cid(bytes(final.args["globalModel"]), int(final.args["codec"])),
        "verdict_tx": posted.tx_hash, "finalized_tx": final.tx_hash,
        "scores": {}, "reasons": {}, "aggregated": None, "max_difference": None,
    }  # fmt: skip
    report.rounds.append(row)
    score_rows: dict[int, tuple[int, ...]] = {}
    if manifest.verification.rule == "mutual":
        opened = log.last("RoundOpened", round=r)
        closes_at = (int(opened.args["submitDeadline"]) if opened is not None else 0) + (
            ctx.state.verdict_duration // 2
        )
        score_rows, shown = audit_scores(
            report, log, chain, round=r, posted=posted, submitted=posted_submitted,
            closes_at=closes_at, clients=clients,
        )  # fmt: skip
        row.update(shown)
    if start_model is None or unusable:
        for check in ("judgement.accepted", "judgement.aggregate", "judgement.weights"):
            report.add(check, "unchecked", f"round {r}", round=r, tx_hash=posted.tx_hash,
                       detail="a blob it needs is unavailable or invalid")  # fmt: skip
        return global_model
    started = time.perf_counter()
    judgement = judge_round(
        start_model.state, checked, spec=manifest.model, n_clients=len(clients),
        byzantine_f=ctx.state.byzantine_f, rule=manifest.verification.rule,
        screen_stale=manifest.verification.screen_stale, policy=POLICY_NAMES[ctx.state.policy],
        outlier_factor=manifest.verification.outlier_factor, score_rows=score_rows,
        drop=manifest.verification.drop,
    )  # fmt: skip
    report.judging_seconds += time.perf_counter() - started
    row.update(scores=judgement.scores, reasons=judgement.reasons,
               aggregated=judgement.aggregated)  # fmt: skip
    names = {i: clients[i] for i in range(len(clients))}
    status = "ok" if judgement.accepted == posted_accepted else "mismatch"
    report.add("judgement.accepted", status, f"round {r}", round=r, tx_hash=posted.tx_hash,
               expected=[names[i] for i in judgement.accepted],
               found=[names[i] for i in posted_accepted],
               detail="" if status == "ok" else "; ".join(
                   f"{names[i]}: {judgement.reasons.get(i, 'accepted by the rule')}"
                   for i in sorted(set(judgement.accepted) ^ set(posted_accepted))))  # fmt: skip
    theirs = [int(w) for w in verdict["weights"]]
    ours = judgement.weights_bps
    close = len(theirs) == len(ours) and all(
        abs(a - b) <= 1 for a, b in zip(theirs, ours, strict=False)
    )
    report.add("judgement.weights", "ok" if close else "mismatch", f"round {r}", round=r,
               tx_hash=posted.tx_hash, expected=ours, found=theirs)  # fmt: skip
    if global_model is None:
        report.add("judgement.aggregate", "unchecked", f"round {r}", round=r,
                   tx_hash=posted.tx_hash, detail="the global model blob is unusable")  # fmt: skip
        return None
    tolerance = manifest.verification.tolerance
    agree, diff = models_agree(judgement.global_state, global_model.state, tolerance=tolerance)
    notes = read_verdict_notes(global_model)
    aggregated = notes.get("aggregated") if notes is not None else None
    if aggregated != judgement.aggregated:
        agree = False
    row["max_difference"] = diff if diff != float("inf") else None
    report.add("judgement.aggregate", "ok" if agree else "mismatch", global_model.cid, round=r,
               tx_hash=posted.tx_hash,
               expected=f"FedAvg of clients {judgement.aggregated} within {tolerance:g}",
               found=f"aggregated {aggregated}, max |difference| {diff:.3g}",
               detail="" if agree else "the posted global model is not the FedAvg of the "
               "aggregated updates")  # fmt: skip
    return global_model
