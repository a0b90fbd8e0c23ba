"""The miner role: stake, verify every update, lead or attest, replace a silent leader.

Per round, when this miner holds a seat on the round's committee (drawn by stake, with
replacement, from the hash of the block that opened the round: a miner may hold several seats,
and its one answer counts for all of them) and the submissions are in (everyone submitted, or
the deadline passed), :meth:`Miner.step`:

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
   differ, and only waits while it cannot check (a store it cannot reach now): a seat that
   answers neither way is slashed when the verdict fails;
4. the next miner in line (``committee[attempt + 1]``) replaces a leader whose attempt is over:
   the verdict deadline passed (a posted verdict extends it to a full window), or every seat
   answered and the dissents leave the verdict short of quorum. The contract always slashes
   the replaced leader. With no leader left, it cancels the task. Another member does the same
   ``replace_grace`` seconds after the deadline, in case the next in line is down too.

A round's committee is read from the chain (``committee(taskId, round)``, or the
``CommitteeDrawn`` event once a transaction drew it); in the opening block, whose hash no
contract can read yet, the miner computes it from the node's block hash. When nobody drew it
within 256 blocks the seed is gone (``TaskManagerSeedExpired``): the miner calls
``drawCommittee``, which gives the round a new seed block and a new verdict window.

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
    check_submission,
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
from fedchain.roles.scoring import (
    counted_rows,
    premature_verdict,
    round_rows,
    scoring_closes_at,
    scoring_done,
)
from fedchain.storage import (
    ModelMetadata,
    StorageError,
    cid_to_digest,
    compute_cid,
    encode_model,
)
from fedchain.storage.errors import KuboError

#: Blocks after its seed block at which a member stores a round's committee that no verdict
#: has drawn yet (``blockhash`` forgets a block after 256).
PIN_AFTER_BLOCKS = 128

__all__ = ["FAULTS", "PIN_AFTER_BLOCKS", "Answers", "Miner", "RoundCheck", "register_miner"]

#: Faults a miner can simulate (for tests and experiments): a leader that never posts, a leader
#: that accepts every update whatever the rule says, and one that aggregates every accepted
#: update (what Multi-KRUM's cut left out included) while it posts the honest accepted set, and
#: one that posts a mutual-supervision verdict without waiting for the clients' score rows.
FAULTS = ("silent_leader", "accept_all", "aggregate_all", "eager_leader")


@dataclass(frozen=True)
class RoundCheck:
    """A member's check of a posted verdict."""

    round: int
    attempt: int
    agreed: bool
    max_difference: float
    reason: str = ""


@dataclass(frozen=True)
class Answers:
    """The seats' answers to a posted verdict: ``approvals`` (the leader's seats included) and
    ``dissents`` of ``size`` seats."""

    size: int
    approvals: int
    dissents: int

    @property
    def quorum(self) -> int:
        """Seats a verdict needs: ceil(2 × size / 3)."""
        return (2 * self.size + 2) // 3

    @property
    def hopeless(self) -> bool:
        """The dissents leave too few seats for a quorum (the contract lets the leader go)."""
        return self.dissents + self.quorum > self.size

    @property
    def complete(self) -> bool:
        """Every seat answered one way or the other."""
        return self.approvals + self.dissents >= self.size


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
        self._judged: dict[int, tuple[Any, RoundJudgement]] = {}
        self.checks: list[RoundCheck] = []
        self._committees: dict[tuple[int, int], list[str]] = {}
        self._done_attempts: set[tuple[int, int]] = set()

    # -- set-up ---------------------------------------------------------------------------

    def join(self, state: TaskState | None = None) -> bool:
        """Register as a miner and join the task with the stake, unless done. The stake is
        checked against the task's minimum and the key's balance first: nothing is sent for a
        stake the contract would refuse."""
        state = state or self.state()
        if self.member_role() == 2:
            self._joined = True
            return register_miner(self.who)
        if state.status is not TaskStatus.JOINING:
            return register_miner(self.who)
        stake = self.stake if self.stake is not None else state.min_miner_stake
        self._check_stake(state, stake)
        register_miner(self.who)
        self.send("joinAsMiner", self.task_id, stake, value=stake)
        self._joined = True
        self.who.say(f"joined task {self.task_id} with a stake of {format_wei(stake)}")
        return True

    def _check_stake(self, state: TaskState, stake: int) -> None:
        if stake < state.min_miner_stake:
            raise RoleError(
                f"a stake of {format_wei(stake)} is below task {self.task_id}'s minimum of "
                f"{format_wei(state.min_miner_stake)}; nothing was staked"
            )
        if stake >= 2**88:
            raise RoleError(f"a stake of {format_wei(stake)} does not fit the contract (2^88 wei)")
        balance = self.who.chain.balance(self.who.address)
        if balance < stake:
            raise RoleError(
                f"{self.who.address} holds {format_wei(balance)}, less than the stake of "
                f"{format_wei(stake)} (plus gas); fund it first (on a devnet: fedchain devnet "
                f"fund {self.who.address})"
            )

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
        try:
            committee = self.committee(r)
        except lookup_error("TaskManagerSeedExpired"):
            return self._renew_seed(state)
        me = self.who.address.lower()
        if me not in committee:
            return Activity.WAITING
        if self._should_pin(r):
            return self._pin_committee(state)
        if now > state.verdict_deadline:
            return self._attempt_over(state, committee, now)
        answers = self._answers(state, committee)
        if answers is not None and answers.hopeless and answers.complete:
            return self._attempt_over(state, committee, now, early=True)
        submissions = self._member_submissions(r)
        if len(submissions) < state.client_count and block_time <= state.submit_deadline:
            return Activity.WAITING
        if (r, state.attempt) in self._done_attempts:
            return Activity.WAITING
        if self._awaiting_scores(state, submissions, block_time):
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

    def committee(self, round: int) -> list[str]:
        """The round's committee seats, leader first (lower-case addresses; a miner may hold
        several seats). In the very block that opened the round the contract cannot read its
        seed block's hash yet; the node can, so the seats are drawn here with the contract's
        own rule (:func:`fedchain.verification.sortition.committee`).

        Raises:
            ContractError: ``TaskManagerSeedExpired``: nobody drew the committee within 256
                blocks of its seed block (see :meth:`_renew_seed`).
        """
        drawn = self.log.last("CommitteeDrawn", round=round)
        if drawn is not None:  # stored on chain: final
            return [str(a).lower() for a in drawn.args["committee"]]
        key = (round, self._seed_block(round))  # a renewed seed draws another committee
        if key not in self._committees:
            try:
                members = [str(a) for a in self.who.tasks.committee(self.task_id, round)]
            except lookup_error("TaskManagerSeedNotReady"):
                members = draw_round_committee(self.who.tasks, self.who.chain, self.task_id, round)
            self._committees[key] = [a.lower() for a in members]
        return self._committees[key]

    def _seed_block(self, round: int) -> int:
        """The block whose hash seeds ``round``'s committee (``SeedRenewed`` moves it)."""
        renewed = self.log.last("SeedRenewed", round=round)
        if renewed is not None:
            return int(renewed.args["seedBlock"])
        opened = self.log.last("RoundOpened", round=round)
        if opened is not None:
            return int(opened.args["seedBlock"])
        return int(self.who.tasks.seedBlockOf(self.task_id, round))

    def _should_pin(self, round: int) -> bool:
        """Whether the round's committee, still only computable, should be stored now: its seed
        block is :data:`PIN_AFTER_BLOCKS` old. Left undrawn past 256 blocks the seed would be
        renewed and the seats drawn again, a re-roll an attacker who dislikes these seats would
        wait for (the adversarial tests found it); a member stores them first."""
        if self.log.last("CommitteeDrawn", round=round) is not None:
            return False
        return self.who.chain.block_number() - self._seed_block(round) >= PIN_AFTER_BLOCKS

    def _pin_committee(self, state: TaskState) -> Activity:
        return self.draw_committee(
            f"round {state.round}: stored the committee before its seed could expire"
        )

    def _renew_seed(self, state: TaskState) -> Activity:
        """The round's seed block is over 256 blocks old and its committee was never drawn:
        ``drawCommittee`` makes this block the new seed block (the verdict window restarts)."""
        return self.draw_committee(
            f"round {state.round}: the committee's seed expired undrawn; renewed it"
        )

    # -- verification ---------------------------------------------------------------------

    def _member_submissions(self, round: int) -> list[tuple[int, Any]]:
        """(client index, first UpdateSubmitted event) of member clients, in chain order."""
        index = {a.lower(): i for i, a in enumerate(self.log.clients())}
        subs = [(index[c], e) for c, e in self.log.submissions(round).items() if c in index]
        return sorted(subs, key=lambda item: item[1].sort_key)

    def fixed_samples(self, client: str) -> int:
        """``client``'s sample count fixed at join from its registered data profiles (in its
        ``ClientJoined``)."""
        return self.log.client_samples().get(client.lower(), 0)

    def weight_of(self, index: int, event: Any) -> int:
        """FedAvg's (and the data-amount policy's) weight of a submission: the count the client
        claims, at most the count the task fixed at join (a claim inflates nothing, H-3)."""
        return min(int(event.args["numSamples"]), self.fixed_samples(str(event.args["client"])))

    def _check_update(self, round: int, index: int, event: Any) -> CheckedUpdate:
        return check_submission(
            self.who.store, self.spec, task_id=self.task_id, round=round, index=index,
            event=event, weight=self.weight_of(index, event),
        )  # fmt: skip

    def _awaiting_scores(
        self, state: TaskState, submissions: list[tuple[int, Any]], block_time: int
    ) -> bool:
        """Under mutual supervision, whether a row that could count may still come (so the
        leader must not post yet). Members judge once a verdict is posted, from the rows
        before it."""
        if self.manifest.verification.rule != "mutual" or "eager_leader" in self.faults:
            return False
        if self.log.last("VerdictPosted", round=state.round, attempt=state.attempt) is not None:
            return False
        rows = round_rows(self.log, state.round)
        return not scoring_done(
            rows, [i for i, _ in submissions], block_time=block_time,
            closes_at=scoring_closes_at(state),
        )  # fmt: skip

    def _score_rows(self, state: TaskState, submitted: list[int]) -> dict[int, tuple[int, ...]]:
        """The score rows that count for the current attempt (mutual supervision)."""
        posted = self.log.last("VerdictPosted", round=state.round, attempt=state.attempt)
        return counted_rows(
            round_rows(self.log, state.round), submitted,
            before=posted.sort_key if posted is not None else None,
        )  # fmt: skip

    def judge(self, state: TaskState, submissions: list[tuple[int, Any]]) -> RoundJudgement | None:
        """This miner's verdict on the current round (None when it cannot fetch what it must
        check)."""
        round = state.round
        manifest = self.manifest
        rows: dict[int, tuple[int, ...]] = {}
        if manifest.verification.rule == "mutual":
            rows = self._score_rows(state, [i for i, _ in submissions])
        key = (
            tuple((i, bytes(e.args["digest"])) for i, e in submissions),
            tuple(sorted(rows.items())),
        )
        cached = self._judged.get(round)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            glob = self.global_model(round).state
            checked = [self._check_update(round, i, e) for i, e in submissions]
        except KuboError as exc:
            self.who.say(f"round {round}: cannot check the updates now ({exc})")
            return None
        judgement = judge_round(
            glob, checked, spec=self.spec, n_clients=state.client_count,
            byzantine_f=state.byzantine_f, rule=manifest.verification.rule,
            screen_stale=manifest.verification.screen_stale, policy=POLICY_NAMES[state.policy],
            outlier_factor=manifest.verification.outlier_factor, score_rows=rows,
            drop=manifest.verification.drop,
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
            why = judgement.reasons.get(i, NOT_SELECTED)
            self.who.say(f"round {round}: {self._client_label(i)} {why}")

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
            if error_name(exc) == "TaskManagerSeedExpired":
                return self._renew_seed(state)
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
            agreed, diff, reason = self._premature(state, posted) or self._compare(
                r, judgement, verdict
            )
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

    def _premature(self, state: TaskState, posted: Any) -> tuple[bool, float, str] | None:
        """A dissent when a mutual-supervision verdict came while rows could still count."""
        if self.manifest.verification.rule != "mutual":
            return None
        submitted = indices(int(posted.args["verdict"]["submitted"]))
        block: Any = self.who.chain.w3.eth.get_block(posted.block_number)
        if premature_verdict(
            round_rows(self.log, state.round), submitted, verdict_key=posted.sort_key,
            verdict_time=int(block["timestamp"]), closes_at=scoring_closes_at(state),
        ):  # fmt: skip
            return False, float("inf"), "posted before every score row could arrive"
        return None

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

    def _answers(self, state: TaskState, committee: list[str]) -> Answers | None:
        """How the seats answered the current attempt's posted verdict (None before a post)."""
        r, attempt = state.round, state.attempt
        posted = self.log.last("VerdictPosted", round=r, attempt=attempt)
        if posted is None:
            return None
        agreed = {str(posted.args["leader"]).lower()}  # the post approves all the leader's seats
        dissented: set[str] = set()
        for e in self.log.events("VerdictAttested", round=r):
            if e.sort_key > posted.sort_key:
                member = str(e.args["member"]).lower()
                (agreed if e.args["agreed"] else dissented).add(member)
        return Answers(
            size=len(committee),
            approvals=sum(1 for m in committee if m in agreed),
            dissents=sum(1 for m in committee if m in dissented),
        )

    def _attempt_over(
        self, state: TaskState, committee: list[str], now: int, *, early: bool = False
    ) -> Activity:
        """The current attempt failed (its verdict deadline passed, or, ``early``, every seat
        answered and the dissents keep the verdict short of quorum): the next miner in line
        replaces the leader, or, with no leader left, any member cancels the task. Another
        member replaces it ``replace_grace`` seconds after the deadline (the next one may be
        down too). Early, only the next in line acts: no seat is left silent to be slashed."""
        me = self.who.address.lower()
        last = state.attempt + 1 >= state.committee_size
        next_in_line = not last and committee[state.attempt + 1] == me
        if early and not (last or next_in_line):
            return Activity.WAITING
        if last:
            try:
                self.send("cancelTask", self.task_id)
            except Exception as exc:
                if error_name(exc) in ("TaskManagerNotCancellable", "TaskManagerWrongStatus"):
                    return Activity.WAITING
                if error_name(exc) == "TaskManagerSeedExpired":
                    return self._renew_seed(state)
                raise
            self.who.say(f"round {state.round}: no leader left; cancelled task {self.task_id}")
            return Activity.ACTED
        grace = self.replace_grace if self.replace_grace is not None else state.verdict_duration
        if not next_in_line and now <= state.verdict_deadline + grace:
            return Activity.WAITING
        try:
            self.send("replaceLeader", self.task_id)
        except Exception as exc:
            if error_name(exc) in (
                "TaskManagerVerdictWindowOpen", "TaskManagerWrongStatus",
                "TaskManagerNoLeaderLeft",
            ):  # fmt: skip
                return Activity.WAITING
            if error_name(exc) == "TaskManagerSeedExpired":
                return self._renew_seed(state)
            raise
        why = "its verdict cannot reach quorum" if early else "its verdict window is over"
        self.who.say(f"round {state.round}: replaced leader {committee[state.attempt]} ({why})")
        return Activity.ACTED
