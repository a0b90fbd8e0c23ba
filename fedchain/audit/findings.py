"""What an audit found: one :class:`Finding` per check of one item, gathered in an
:class:`AuditReport`.

A finding's status is ``ok`` (the chain's record holds), ``mismatch`` (the record differs from
what the auditor re-derived; ``expected`` is the auditor's value, ``found`` the record's) or
``unchecked`` (the auditor could not check it: a blob the store does not have, a node that did
not answer, a state read a recording cannot make).

Exit codes of ``fedchain audit`` (:meth:`AuditReport.exit_code`): :data:`EXIT_OK` when every
check holds, :data:`EXIT_MISMATCH` when at least one mismatch was found (whatever else),
:data:`EXIT_UNCHECKED` when nothing mismatched but something could not be checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "CHECKS",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "EXIT_UNCHECKED",
    "OPTIONAL_CHECKS",
    "AuditReport",
    "Finding",
]

#: Every check has passed.
EXIT_OK = 0
#: The chain's record differs from what the auditor re-derived.
EXIT_MISMATCH = 4
#: Nothing mismatched, but some check could not be made (a blob or a node unavailable).
EXIT_UNCHECKED = 5

#: The named checks, in report order, with what each one re-derives.
CHECKS: dict[str, str] = {
    "blob.initial": "the initial model's blob: fetched, CID = on-chain digest + codec, decodes "
    "under the task's model spec, carries the task manifest",
    "blob.update": "each update's blob: fetched, CID = on-chain digest + codec, decodes under the "
    "spec, names its task, round, author and sample count",
    "blob.global": "each round's global model blob: fetched, CID = on-chain digest, decodes "
    "under the spec, carries the verdict notes",
    "blob.final": "the final (and DP-perturbed) model: CID = on-chain digest, decodes",
    "authorship.update": "each submission's author: the transaction sender (direct) or the "
    "recovered EIP-712 signer (relayed) equals the recorded client, a member of the task",
    "committee.seats": "the round's committee recomputed from the on-chain seed and the "
    "miners' stakes by the sortition rule",
    "committee.leader": "each verdict was posted by the seat in line for its attempt",
    "committee.attestations": "every attestation comes from a seat; the finalized verdict had "
    "a quorum of seats",
    "judgement.submitted": "the submitted bitmap equals the members' first submissions",
    "judgement.accepted": "the accepted bitmap equals the task's rule re-run on the blobs",
    "judgement.aggregate": "the posted global model equals the FedAvg of the aggregated set "
    "within the task's tolerance",
    "judgement.weights": "contribution / data-amount weights within 1 bp of the re-derived ones",
    "money.reputation": "each client's reputation (settlement and registry) equals the M9 mirror",
    "money.client": "each client's reward, penalty, penalty share and payout equal the mirror "
    "to the wei",
    "money.miner": "each miner's slash and payout equal its stake and offenses",
    "money.escrow": "escrow deposited = paid + refunded; everything locked is returned or burned",
    "privacy.budget": "the manifest's DP mechanism and epsilon per release, and the budget "
    "composed over the rounds each client submitted in",
    "privacy.release": "the DP-perturbed final model is the final model plus Laplace noise of "
    "the scale (sensitivity / epsilon) the manifest's release declares",
    "mutual.timing": "under mutual supervision, each verdict came once every submitter had "
    "posted its score row or the scoring window had closed",
    "mutual.scores": "under mutual supervision, each validator's row against all "
    "validators' median score of the same models (a row far from it is flagged dishonest)",
}

#: Checks only some tasks have: a DP release with a ``[request]``, mutual supervision's rows.
OPTIONAL_CHECKS: frozenset[str] = frozenset({"privacy.release", "mutual.timing", "mutual.scores"})


@dataclass(frozen=True)
class Finding:
    """One check of one item.

    Attributes:
        check: a name of :data:`CHECKS`.
        status: ``ok``, ``mismatch`` or ``unchecked``.
        subject: what was checked (a CID, an address, ``escrow``...).
        round: the round (on-chain index, from 0), or None for task-wide checks.
        tx_hash: the transaction that recorded the item, when one did.
        expected: what the auditor re-derived (mismatches).
        found: what the chain or the store holds (mismatches).
        detail: one line in words.
    """

    check: str
    status: str
    subject: str
    round: int | None = None
    tx_hash: str | None = None
    expected: Any = None
    found: Any = None
    detail: str = ""

    @property
    def label(self) -> str:
        """The subject for people: empty for a round-wide finding (whose subject is the
        round's on-chain index, which people read counted from 1 in front of it)."""
        return (
            ""
            if self.round is not None and self.subject == f"round {self.round}"
            else (self.subject)
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form (values stringified where JSON has no type for them)."""
        out = asdict(self)
        for key in ("expected", "found"):
            out[key] = _jsonable(out[key])
        out["label"] = self.label
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return str(value)


_RANK = {"ok": 0, "unchecked": 1, "mismatch": 2}


@dataclass
class AuditReport:
    """An audit of one task.

    Attributes:
        task_id: the task.
        findings: every check of every item, in the order made.
        rounds: per finalized round what the audit rebuilt and re-derived (committee, seed,
            submissions with their authors, Multi-KRUM scores, reasons...): what the explorer
            shows beside each finding.
        task: the task's outcome as events tell it (:meth:`~fedchain.roles.outcome.TaskOutcome.
            to_json`) plus its on-chain ``spec``.
        seconds: how long the audit took (wall time).
        judging_seconds: of which re-running the rounds' judgements took.
    """

    task_id: int
    findings: list[Finding] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    task: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    judging_seconds: float = 0.0

    def add(self, check: str, status: str, subject: str, **fields: Any) -> Finding:
        """Record one finding."""
        if check not in CHECKS or status not in _RANK:
            raise ValueError(f"unknown check {check!r} or status {status!r}")
        finding = Finding(check=check, status=status, subject=subject, **fields)
        self.findings.append(finding)
        return finding

    def extend(self, findings: Iterable[Finding]) -> None:
        """Record several findings."""
        self.findings.extend(findings)

    @property
    def mismatches(self) -> list[Finding]:
        """The findings that mismatch."""
        return [f for f in self.findings if f.status == "mismatch"]

    @property
    def unchecked(self) -> list[Finding]:
        """The findings that could not be checked."""
        return [f for f in self.findings if f.status == "unchecked"]

    @property
    def ok(self) -> bool:
        """Every check was made and holds."""
        return all(f.status == "ok" for f in self.findings)

    def exit_code(self) -> int:
        """:data:`EXIT_OK`, :data:`EXIT_MISMATCH` or :data:`EXIT_UNCHECKED`."""
        if self.mismatches:
            return EXIT_MISMATCH
        return EXIT_UNCHECKED if self.unchecked else EXIT_OK

    def status_of(
        self,
        *,
        round: int | None = None,
        subject: str | None = None,
        check_prefix: str | None = None,
    ) -> str | None:
        """The worst status among the findings matching every given filter (a subject matches
        case-insensitively), or None when no finding matches."""
        worst: str | None = None
        for f in self.findings:
            if round is not None and f.round != round:
                continue
            if subject is not None and f.subject.lower() != subject.lower():
                continue
            if check_prefix is not None and not f.check.startswith(check_prefix):
                continue
            if worst is None or _RANK[f.status] > _RANK[worst]:
                worst = f.status
        return worst

    def check_table(self) -> dict[str, dict[str, Any]]:
        """Per check: its overall status and how many items were ok, mismatched, unchecked."""
        table: dict[str, dict[str, Any]] = {}
        for name in CHECKS:
            mine = [f for f in self.findings if f.check == name]
            if not mine:
                continue
            counts = {s: sum(1 for f in mine if f.status == s) for s in _RANK}
            status = max((f.status for f in mine), key=_RANK.__getitem__)
            table[name] = {"status": status, **counts}
        return table

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: ``ok``, ``checks`` (status per check), ``mismatches`` and
        ``unchecked`` with their evidence, ``exit_code``, ``rounds``, ``task``."""
        return {
            "ok": self.ok,
            "task_id": self.task_id,
            "exit_code": self.exit_code(),
            "checks": self.check_table(),
            "findings": len(self.findings),
            "mismatches": [f.to_json() for f in self.mismatches],
            "unchecked": [f.to_json() for f in self.unchecked],
            "seconds": round(self.seconds, 3),
            "judging_seconds": round(self.judging_seconds, 3),
            "rounds": _jsonable(self.rounds),
            "task": _jsonable(self.task),
        }
