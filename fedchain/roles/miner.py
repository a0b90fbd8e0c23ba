"""The miner role: stake, verify every update, lead or attest, replace a silent leader.

Per round, when this miner is on the round's committee (the contract draws it, weighted by
stake, when the round opens) and the submissions are in (everyone submitted, or the deadline
passed), :meth:`Miner.step`:

1. downloads every member client's first submission and checks it: the blob must match the
   on-chain digest (the store verifies the CID), decode as the task's model spec (names, shapes,
   float32, finite, size limit) and name the right task, round, author and sample count. The
   author binding is the M6 signature check: the contract recorded the submission under the
   transaction sender or the EIP-712 signer, and the blob must say the same;
2. judges the round (:func:`~fedchain.roles.judging.judge_round`: stale/copy screening, the
   task's rule and its outlier rule, FedAvg of the aggregated updates, reward weights) and logs
   every rejected or left-out client with the reason;
3. as the current leader, uploads its aggregate (carrying the verdict notes: accepted and
   aggregated sets, reasons) and posts the verdict;
   as another member, attests the posted verdict only after checking that its submitted,
   accepted and aggregated sets equal its own and that the leader's model equals its own
   aggregate within the task's tolerance. It dissents (attests its own verdict's hash) when they
   differ, and abstains when it cannot check (a blob it cannot fetch now);
4. after the verdict deadline, the next miner in line replaces a leader that did not reach
   quorum (the contract slashes one that never posted); with no leader left, it cancels the task.

At the end it settles its stake (less any slash) and withdraws. Every decision is re-derived from
the chain and the store, so a restarted miner carries on mid-round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fedchain.chain.contract_errors import lookup as lookup_error
from fedchain.chain.verdicts import indices, make_verdict, verdict_hash
from fedchain.report.labels import format_wei, short_address
from fedchain.roles.base import Activity, MemberRole, Participant
from fedchain.roles.blobs import (
    VERDICT_KEY,
    fetch_model,
    publish_model,
    read_verdict_notes,
    verdict_notes_text,
)
from fedchain.roles.chainview import (
    TaskLog,
    TaskState,
    TaskStatus,
    chain_now,
    draw_round_committee,
    error_name,
)
from fedchain.roles.errors import RoleError
from fedchain.roles.judging import (
    NOT_SELECTED,
    POLICY_NAMES,
    CheckedUpdate,
    JudgementSummary,
    RoundJudgement,
    judge_round,
    models_agree,
)
from fedchain.storage import (
    BlobNotFoundError,
    ModelMetadata,
    StorageError,
    cid_to_digest,
    compute_cid,
    encode_model,
)
from fedchain.storage.errors import KuboError

__all__ = ["FAULTS", "Miner", "RoundCheck", "register_miner"]

#: Faults a miner can simulate (for tests and experiments): a leader that never posts, a leader
#: that accepts every update whatever the rule says, and one that aggregates every accepted
#: update (what Multi-KRUM's cut left out included) while it posts the honest accepted set.
FAULTS = ("silent_leader", "accept_all", "aggregate_all")


@dataclass(frozen=True)
class RoundCheck:
    """A member's check of a posted verdict."""

    round: int
    attempt: int
    agreed: bool
    max_difference: float
    reason: str = ""


def register_miner(who: Participant) -> bool:
    """Register ``who`` as a miner unless it is one; returns whether a transaction was sent."""
    if who.registered_roles() & 2:
        return False
    who.deployment.registry.registerMiner(sender=who.account)
    return True


class Miner(MemberRole):
    """A verifier taking part in one task.

    Args:
        who: the participant.
        task_id: the task.
        stake: the stake to lock (default: the task's minimum).
        faults: simulated faults, a subset of :data:`FAULTS`.
        replace_grace: seconds after the verdict deadline before a miner that is not next in
            line replaces the leader itself (liveness when the next one is down too).
        log: a shared :class:`TaskLog`.
    """

    ROLE = 2
    KIND = "miner"

    def __init__(
        self,
        who: Participant,
        task_id: int,
        *,
        stake: int | None = None,
        faults: frozenset[str] | set[str] = frozenset(),
        replace_grace: int | None = None,
        log: TaskLog | None = None,
    ) -> None:
        super().__init__(who, task_id, log=log)
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise RoleError(f"unknown miner faults {sorted(unknown)}; known: {list(FAULTS)}")
        self.stake = stake
        self.faults = frozenset(faults)
        self.replace_grace = replace_grace
        self.judgements: dict[int, JudgementSummary] = {}
        self._judged: dict[int, tuple[tuple[tuple[int, bytes], ...], RoundJudgement]] = {}
        self.checks: list[RoundCheck] = []
        self._committees: dict[int, list[str]] = {}
        self._fixed_samples: dict[int, int] = {}
        self._done_attempts: set[tuple[int, int]] = set()

    # -- set-up ---------------------------------------------------------------------------

    def join(self, state: TaskState | None = None) -> bool:
        """Register as a miner and join the task with the stake, unless done."""
        state = state or self.state()
        acted = register_miner(self.who)
        if self.member_role() == 2:
            self._joined = True
            return acted
        if state.status is not TaskStatus.JOINING:
            return acted
        stake = self.stake if self.stake is not None else state.min_miner_stake
        self.send("joinAsMiner", self.task_id, stake, value=stake)
        self._joined = True
        self.who.say(f"joined task {self.task_id} with a stake of {format_wei(stake)}")
        return True

    # -- the state machine ----------------------------------------------------------------

    def step(self) -> Activity:
        """Join, verify and lead or attest the current round, replace a silent leader, claim."""
        # The latest block's time is read before the events: once a block is stamped past the
        # submission deadline, every block with a valid submission is in the log read next.
        # (The wall clock may run ahead of the blocks; it only decides when to try liveness
        # calls, which the contract checks again.)
        block_time = self.who.chain.timestamp()
        now = chain_now(self.who.chain, latest=block_time)
        state = self.state()
        phase = self.lifecycle(state)
        if phase is not None:
            return phase
        r = state.round
        committee = self.committee(r)
        me = self.who.address.lower()
        if me not in committee:
            return Activity.WAITING
        if now > state.verdict_deadline:
            return self._after_deadline(state, committee, now)
        submissions = self._member_submissions(r)
        if len(submissions) < state.client_count and block_time <= state.submit_deadline:
            return Activity.WAITING
        if (r, state.attempt) in self._done_attempts:
            return Activity.WAITING
        judgement = self.judge(state, submissions)
        if judgement is None:
            return Activity.WAITING  # could not fetch what it must check; try again later
        pending = bytes(self.who.tasks.pendingVerdictHash(self.task_id))
        if committee[state.attempt] == me:
            if any(pending) or "silent_leader" in self.faults:
                return Activity.WAITING
            return self._lead(state, judgement)
        if not any(pending):
            return Activity.WAITING
        return self._attest(state, judgement, pending)

    def forget_rolled_back(self) -> None:
        """Also forget attempts done, judgements and committees (a round may reopen)."""
        super().forget_rolled_back()
        self._done_attempts.clear()
        self._judged.clear()
        self._committees.clear()
        self._fixed_samples.clear()

    def committee(self, round: int) -> list[str]:
        """The round's committee seats, leader first (lower-case addresses; a miner may hold
        several seats). In the very block that opened the round the contract cannot read its
        seed block's hash yet; the node can, so the seats are drawn here with the contract's
        own rule (:func:`fedchain.verification.sortition.committee`)."""
        if round not in self._committees:
            try:
                members = [str(a) for a in self.who.tasks.committee(self.task_id, round)]
            except lookup_error("TaskManagerSeedNotReady"):
                members = draw_round_committee(self.who.tasks, self.who.chain, self.task_id, round)
            self._committees[round] = [a.lower() for a in members]
        return self._committees[round]

    # -- verification ---------------------------------------------------------------------

    def _member_submissions(self, round: int) -> list[tuple[int, Any]]:
        """(client index, first UpdateSubmitted event) of member clients, in chain order."""
        index = {a.lower(): i for i, a in enumerate(self.log.clients())}
        subs = [(index[c], e) for c, e in self.log.submissions(round).items() if c in index]
        return sorted(subs, key=lambda item: item[1].sort_key)

    def fixed_samples(self, index: int) -> int:
        """Client ``index``'s sample count fixed at join from its registered data profiles."""
        if index not in self._fixed_samples:
            self._fixed_samples[index] = int(self.who.tasks.clientSamples(self.task_id, index))
        return self._fixed_samples[index]

    def weight_of(self, index: int, event: Any) -> int:
        """FedAvg's (and the data-amount policy's) weight of a submission: the count the client
        claims, at most the count the task fixed at join (a claim inflates nothing, H-3)."""
        return min(int(event.args["numSamples"]), self.fixed_samples(index))

    def _check_update(self, round: int, index: int, event: Any) -> CheckedUpdate:
        args = event.args
        claimed, n = int(args["numSamples"]), self.weight_of(index, event)
        try:  # not cached: a round's updates are read once
            fetched = fetch_model(
                self.who.store, args["digest"], int(args["codec"]), spec=self.spec
            )
        except BlobNotFoundError:
            return CheckedUpdate(index, n, None, "blob not found on the store")
        except KuboError:
            raise  # the store is unreachable: the caller abstains and retries
        except StorageError as exc:
            return CheckedUpdate(index, n, None, f"invalid blob: {exc}")
        meta = fetched.metadata
        expected = {
            "task_id": self.task_id, "round": round, "author": str(args["client"]).lower(),
            "num_samples": claimed, "kind": "local",
            "model_spec_hash": "0x" + self.spec.spec_hash(),
        }  # fmt: skip
        for key, want in expected.items():
            got = getattr(meta, key)
            if (got.lower() if isinstance(got, str) else got) != want:
                return CheckedUpdate(index, n, None, f"blob {key} is {got!r}, not {want!r}")
        return CheckedUpdate(index, n, fetched.state)

    def judge(self, state: TaskState, submissions: list[tuple[int, Any]]) -> RoundJudgement | None:
        """This miner's verdict on the current round (None when it cannot fetch what it must
        check)."""
        round = state.round
        key = tuple((i, bytes(e.args["digest"])) for i, e in submissions)
        cached = self._judged.get(round)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            glob = self.global_model(round).state
            checked = [self._check_update(round, i, e) for i, e in submissions]
        except KuboError as exc:
            self.who.say(f"round {round}: cannot check the updates now ({exc})")
            return None
        manifest = self.manifest
        judgement = judge_round(
            glob, checked, spec=self.spec, n_clients=state.client_count,
            byzantine_f=state.byzantine_f, rule=manifest.verification.rule,
            screen_stale=manifest.verification.screen_stale, policy=POLICY_NAMES[state.policy],
            outlier_factor=manifest.verification.outlier_factor,
        )  # fmt: skip
        if "accept_all" in self.faults:
            judgement.accepted = list(judgement.submitted)
        if "aggregate_all" in self.faults and judgement.left_out:
            everything = judge_round(
                glob, [c for c in checked if c.index in judgement.accepted], spec=self.spec,
                n_clients=state.client_count, byzantine_f=0, rule="none",
                screen_stale=False, policy=POLICY_NAMES[state.policy],
            )  # fmt: skip
            judgement.global_state = everything.global_state
            judgement.aggregated = list(judgement.accepted)
            judgement.reasons = {i: r for i, r in judgement.reasons.items() if r != NOT_SELECTED}
        self._judged = {round: (key, judgement)}  # earlier rounds are final: keep no models
        self.judgements[round] = judgement.summary()
        return judgement

    def _global_metadata(self, round: int, judgement: RoundJudgement) -> ModelMetadata:
        """The global model's metadata: its samples are the aggregated updates', and it carries
        the verdict notes (accepted, aggregated, reasons) for clients and auditors."""
        subs = dict(self._member_submissions(round))
        samples = sum(self.weight_of(i, subs[i]) for i in judgement.aggregated or () if i in subs)
        return ModelMetadata(
            task_id=self.task_id, round=round, author=self.who.address, num_samples=samples,
            model_spec=self.spec.name, model_spec_hash="0x" + self.spec.spec_hash(),
            kind="global", extra={VERDICT_KEY: verdict_notes_text(judgement.notes())},
        )  # fmt: skip

    def _client_label(self, index: int) -> str:
        clients = self.log.clients()
        return short_address(clients[index]) if index < len(clients) else f"client {index}"

    def _report(self, round: int, judgement: RoundJudgement) -> None:
        """One log line per rejected or left-out client, with the reason."""
        for i in judgement.rejected:
            why = judgement.reasons.get(i, "rejected")
            self.who.say(f"round {round}: rejected {self._client_label(i)}: {why}")
        for i in judgement.left_out:
            self.who.say(f"round {round}: {self._client_label(i)} {NOT_SELECTED}")

    def _verdict(
        self, round: int, judgement: RoundJudgement, digest: bytes, codec: int
    ) -> dict[str, Any]:
        return make_verdict(
            submitted=judgement.submitted, accepted=judgement.accepted, global_model=digest,
            codec=codec, weights=judgement.weights_bps,
        )  # fmt: skip

    # -- leading and attesting ------------------------------------------------------------

    def _lead(self, state: TaskState, judgement: RoundJudgement) -> Activity:
        r = state.round
        meta = self._global_metadata(r, judgement)
        published = publish_model(self.who.store, judgement.global_state, meta)
        verdict = self._verdict(r, judgement, published.digest, published.codec)
        try:
            result = self.send("postVerdict", self.task_id, r, verdict, [])
        except Exception as exc:
            if error_name(exc) in (
                "TaskManagerSubmissionsOpen", "TaskManagerVerdictAlreadyPosted",
                "TaskManagerWrongRound", "TaskManagerWrongStatus", "TaskManagerNotLeader",
            ):  # fmt: skip
                return Activity.WAITING  # the chain moved on meanwhile; look again
            raise
        self._done_attempts.add((r, state.attempt))
        aggregated = len(judgement.aggregated or ())
        self.who.say(
            f"round {r}: led; accepted {len(judgement.accepted)}/{len(judgement.submitted)} "
            f"(aggregated {aggregated}), global model {published.cid}"
        )
        self._report(r, judgement)
        if result.events_named("RoundFinalized"):
            self.who.say(f"round {r}: finalized")
        return Activity.ACTED

    def _attest(self, state: TaskState, judgement: RoundJudgement, pending: bytes) -> Activity:
        r, attempt = state.round, state.attempt
        posted = self.log.last("VerdictPosted", round=r, attempt=attempt)
        if posted is None or bytes(posted.args["verdictHash"]) != pending:
            return Activity.WAITING  # the event is not in our log yet
        me = self.who.address.lower()
        if any(
            e.sort_key > posted.sort_key
            for e in self.log.events("VerdictAttested", round=r, member=me)
        ):
            self._done_attempts.add((r, attempt))
            return Activity.WAITING
        verdict: Mapping[str, Any] = posted.args["verdict"]
        try:
            agreed, diff, reason = self._compare(r, judgement, verdict)
        except KuboError as exc:
            self.who.say(f"round {r}: cannot fetch the leader's model now ({exc}); abstaining")
            return Activity.WAITING
        if agreed:
            attested = pending
        else:
            blob = encode_model(
                judgement.global_state, metadata=self._global_metadata(r, judgement)
            )
            digest, codec = cid_to_digest(compute_cid(blob))
            attested = verdict_hash(self.task_id, r, self._verdict(r, judgement, digest, codec))
        try:
            self.send("attestVerdict", self.task_id, r, attested)
        except Exception as exc:
            if error_name(exc) in (
                "TaskManagerAlreadyAttested", "TaskManagerWrongRound", "TaskManagerWrongStatus",
                "TaskManagerNoVerdict",
            ):  # fmt: skip
                self._done_attempts.add((r, attempt))
                return Activity.WAITING
            raise
        self._done_attempts.add((r, attempt))
        self.checks.append(RoundCheck(r, attempt, agreed, diff, reason))
        if agreed:
            self.who.say(f"round {r}: attested the leader's verdict (max |Δ| {diff:.2e})")
            self._report(r, judgement)
        else:
            self.who.say(f"round {r}: dissented: {reason}")
        return Activity.ACTED

    def _compare(
        self, round: int, judgement: RoundJudgement, verdict: Mapping[str, Any]
    ) -> tuple[bool, float, str]:
        submitted, accepted = indices(int(verdict["submitted"])), indices(int(verdict["accepted"]))
        if submitted != judgement.submitted:
            return False, float("inf"), f"submitted set {submitted} != ours {judgement.submitted}"
        if accepted != judgement.accepted:
            return False, float("inf"), f"accepted set {accepted} != ours {judgement.accepted}"
        theirs = [int(w) for w in verdict["weights"]]
        if len(theirs) != len(judgement.weights_bps) or any(
            abs(a - b) > 1 for a, b in zip(theirs, judgement.weights_bps, strict=False)
        ):
            return False, float("inf"), "reward weights differ from ours"
        try:
            leader_model = self.model(verdict["globalModel"], int(verdict["codec"]))
        except KuboError:
            raise
        except StorageError as exc:
            return False, float("inf"), f"the leader's model is unusable: {exc}"
        notes = read_verdict_notes(leader_model)
        theirs_aggregated = notes.get("aggregated") if notes is not None else None
        if theirs_aggregated != judgement.aggregated:
            return (
                False,
                float("inf"),
                f"aggregated set {theirs_aggregated} != ours {judgement.aggregated}",
            )
        tolerance = self.manifest.verification.tolerance
        agree, diff = models_agree(judgement.global_state, leader_model.state, tolerance=tolerance)
        if not agree:
            return False, diff, f"the leader's model differs by {diff:.3g} > {tolerance:g}"
        return True, diff, ""

    # -- liveness -------------------------------------------------------------------------

    def _after_deadline(self, state: TaskState, committee: list[str], now: int) -> Activity:
        me = self.who.address.lower()
        if state.attempt + 1 >= state.committee_size:
            try:
                self.send("cancelTask", self.task_id)
            except Exception as exc:
                if error_name(exc) in ("TaskManagerNotCancellable", "TaskManagerWrongStatus"):
                    return Activity.WAITING
                raise
            self.who.say(f"round {state.round}: no leader left; cancelled task {self.task_id}")
            return Activity.ACTED
        grace = self.replace_grace if self.replace_grace is not None else state.verdict_duration
        next_in_line = committee[state.attempt + 1] == me
        if not next_in_line and now <= state.verdict_deadline + grace:
            return Activity.WAITING
        try:
            self.send("replaceLeader", self.task_id)
        except Exception as exc:
            if error_name(exc) in ("TaskManagerVerdictWindowOpen", "TaskManagerWrongStatus"):
                return Activity.WAITING
            raise
        self.who.say(f"round {state.round}: replaced leader {committee[state.attempt]}")
        return Activity.ACTED
