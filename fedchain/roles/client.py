"""The client role: register a data profile, join with the mortgage, train every round, claim.

Per round (driven by :meth:`Client.step`): download the round's global model (the initial
model, or the previous round's result, checked against its on-chain digest and the task's model
spec), train locally with the task's DP mechanism, upload the local model, and submit its digest
— directly (``submitUpdate``), or signed (EIP-712) for a relayer to batch
(``submitUpdatesBySig``). At the end it settles its membership and withdraws (pull payment).

Training is seeded by (seed, task, round), so a client restarted mid-round uploads the very same
blob: it has the same CID and nothing is submitted twice (the chain records the first
submission; the client checks for its own before submitting).

Before any transaction (registering, joining), the client checks that its data fits the task's
model (:func:`~fedchain.learning.check_data_fits`: image shape, label range, one forward pass)
and, where chain time follows a clock, that its local training fits the round's submission
window (:func:`~fedchain.learning.estimate_training_time`, a timed slice of one epoch): a client
that cannot serve the task locks no mortgage (:class:`WindowTooShortError`; ``join_anyway``
overrides). In a round whose remaining window is shorter than its training, it skips the round
with one loud line instead of training into a closed window.

Once a round is finalized it reports whether its update was accepted, aggregated or rejected,
and why: accepted or not from the chain's verdict, the reason (and whether the update was
aggregated) from the verdict notes the leader writes into the round's global model blob
(:func:`~fedchain.roles.blobs.read_verdict_notes`; absent or malformed notes read as "the
leader published no reason").

A :class:`~fedchain.learning.Behaviour` other than honest turns the client into a simulated
adversary (M15): label flipping, sign flipping, free-riding, dropping out... A scheduled
behaviour acts only in its rounds (:meth:`~fedchain.learning.Behaviour.at_round`). A copycat
waits until a peer has submitted in the round, fetches the peers' updates from the store and
copies one (an exact copy publishes the peer's tensors).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_utils import keccak

from fedchain.chain import eip712
from fedchain.chain.verdicts import indices
from fedchain.learning import (
    AttackContext,
    Behaviour,
    apply_update,
    check_data_fits,
    estimate_training_time,
    flatten_state,
    make_behaviour,
    model_update,
    train_local,
)
from fedchain.report.labels import format_wei
from fedchain.roles.base import Activity, MemberRole, Participant
from fedchain.roles.blobs import (
    PRIVACY_KEY,
    privacy_declaration,
    publish_model,
    read_verdict_notes,
)
from fedchain.roles.chainview import TaskLog, TaskState, TaskStatus, chain_now, error_name
from fedchain.roles.errors import RoleError
from fedchain.roles.scoring import MAX_SCORE, measure_scores, round_rows, scoring_closes_at
from fedchain.roles.taskfile import category_id
from fedchain.storage import ModelMetadata
from fedchain.storage.errors import KuboError, StorageError

__all__ = [
    "NO_REASON",
    "Client",
    "ClientRound",
    "LocalData",
    "Relay",
    "RoundVerdict",
    "WindowTooShortError",
    "register_client",
]

#: What a client says of a rejection the leader gave no reason for.
NO_REASON = "the leader published no reason"

#: Receives a signed update (the ``SignedUpdate`` struct) for round ``round`` to relay.
Relay = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class LocalData:
    """A client's private training data (never leaves the client).

    Attributes:
        x: float32 images ``(N, C, H, W)``; y: integer labels ``(N,)``.
        name: a label for the data profile (its hash goes on chain, not the text).
        location: a coarse location label (hashed on chain, e.g. a geohash).
    """

    x: np.ndarray
    y: np.ndarray
    name: str = "local-data"
    location: str = ""

    @property
    def size(self) -> int:
        """Number of samples."""
        return len(self.y)

    def content_hash(self) -> bytes:
        """sha2-256 of the data: the profile's content label (M2)."""
        h = hashlib.sha256(np.ascontiguousarray(self.x).tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
        return h.digest()


@dataclass(frozen=True)
class ClientRound:
    """What the client did in one round (kept for reports, not needed to carry on)."""

    round: int
    cid: str
    num_samples: int
    loss: float
    epsilon: float | None
    submitted: bool


class WindowTooShortError(RoleError):
    """Local training takes longer than the task's submission window: the client would miss
    every round, so it does not join (and locks no mortgage)."""


@dataclass(frozen=True)
class RoundVerdict:
    """What a finalized round decided about this client's update.

    Attributes:
        round: the round (from 0).
        submitted: whether the verdict counts an update from this client.
        accepted: whether the verdict accepted it (the on-chain bitmap).
        aggregated: whether the leader averaged it into the global model (None: not said).
        reason: the leader's reason (from the global model blob), or None.
    """

    round: int
    submitted: bool
    accepted: bool
    aggregated: bool | None
    reason: str | None

    def describe(self) -> str:
        """One line for a person: ``accepted and aggregated``, ``rejected: ...``."""
        if not self.submitted:
            return "no update from this client counted (a missed round)"
        if self.accepted:
            if self.aggregated is None:
                return "update accepted"
            if self.aggregated:
                return "update accepted and aggregated"
            return f"update accepted, not aggregated: {self.reason or NO_REASON}"
        if not self.reason:
            return f"update rejected ({NO_REASON})"
        reason = self.reason
        if reason.lower().startswith("rejected"):
            reason = reason[len("rejected") :].lstrip(" :-—")
        return f"update rejected: {reason or NO_REASON}"


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def register_client(who: Participant, data: LocalData, category: str) -> bool:
    """Register ``who`` as a client with a data profile in ``category``, unless already done.

    Returns whether a transaction was sent.
    """
    registry = who.deployment.registry
    acted = False
    if not who.registered_roles() & 1:
        registry.registerClient(sender=who.account)
        acted = True
    cat = category_id(category)
    if int(registry.profileCount(who.address, cat)) == 0:
        shape = "x".join(str(d) for d in data.x.shape[1:])
        profile = {
            "category": cat,
            "dataType": keccak(text=f"image/{data.x.dtype}/{shape}"),
            "size": data.size,
            "nameHash": keccak(text=data.name),
            "contentHash": data.content_hash(),
            "timestamp": chain_now(who.chain),
            "location": keccak(text=data.location),
        }
        registry.addDataProfile(profile, sender=who.account)
        who.say(f"registered a data profile: {data.size} samples in category {category!r}")
        acted = True
    return acted


class Client(MemberRole):
    """A data owner taking part in one task.

    Args:
        who: the participant.
        task_id: the task to join.
        data: its private training data.
        behaviour: honest by default; an attack for simulations.
        seed: seeds training, DP noise and attacks.
        relay: hand signed updates to this relayer instead of submitting them directly.
        log: a shared :class:`TaskLog`.
        clock: a clock in seconds to time local training with. Training is timed against the
            submission window when a clock is given, or when chain time follows the wall clock
            (any chain but the embedded one, whose time stands still while a client trains);
            then ``time.perf_counter``.
        join_anyway: join even when local training looks longer than the submission window.
    """

    ROLE = 1
    KIND = "client"

    def __init__(
        self,
        who: Participant,
        task_id: int,
        data: LocalData,
        *,
        behaviour: Behaviour | None = None,
        seed: int = 0,
        relay: Relay | None = None,
        log: TaskLog | None = None,
        clock: Callable[[], float] | None = None,
        join_anyway: bool = False,
    ) -> None:
        super().__init__(who, task_id, log=log)
        self.data = data
        self.behaviour = behaviour or make_behaviour("honest")
        self.seed = seed
        self.relay = relay
        self.join_anyway = join_anyway
        self.rounds: dict[int, ClientRound] = {}
        self.verdicts: dict[int, RoundVerdict] = {}
        self._skipped: set[int] = set()
        self._handed: set[int] = set()
        self._timed = clock is not None or who.chain.kind != "embedded"
        self._clock: Callable[[], float] = clock or time.perf_counter
        self._estimate: float | None = None
        self._data_checked = False
        self._announced = False
        self._index: int | None = None
        self._waiting_for_peers: set[int] = set()
        self._scored: set[int] = set()

    def forget_rolled_back(self) -> None:
        """Also forget the index, hand-overs, skips and verdicts: training is deterministic,
        so an update the chain lost is made again with the same CID."""
        super().forget_rolled_back()
        self._index = None
        self._announced = False
        self._handed.clear()
        self._skipped.clear()
        self._scored.clear()
        self.verdicts.clear()

    # -- who and what -----------------------------------------------------------------------

    @property
    def index(self) -> int | None:
        """This client's index in the task (its bit in the verdicts), once joined (from its
        join, or the ``ClientJoined`` events read so far)."""
        if self._index is None:
            me = self.who.address.lower()
            self._index = next(
                (i for i, a in enumerate(self.log.clients()) if a.lower() == me), None
            )
        return self._index

    def check_data(self) -> None:
        """Check (once) that the local data fits the task's model.

        Raises:
            DataMismatchError: it does not (image shape, label range, a forward pass).
        """
        if not self._data_checked:
            check_data_fits(
                self.spec, self.data.x, self.data.y, batch_size=self.manifest.training.batch_size
            )
            self._data_checked = True

    @property
    def times_training(self) -> bool:
        """Whether training is timed against the submission window (see ``clock``)."""
        return self._timed and self.behaviour.trains

    def behaviour_in(self, round: int) -> Behaviour:
        """The behaviour in force in ``round`` (a schedule resolved)."""
        return self.behaviour.at_round(round)

    def training_estimate(self) -> float:
        """Seconds one round of local training takes here: the last round's measured training,
        else a timed slice of one epoch (:func:`~fedchain.learning.estimate_training_time`)."""
        if self._estimate is None:
            t = self.manifest.training
            self._estimate = estimate_training_time(
                self.spec, self.global_model(0).state, self.data.x, self.data.y,
                epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, momentum=t.momentum,
                privacy=self.manifest.privacy, clock=self._clock,
            ).seconds  # fmt: skip
        return self._estimate

    # -- set-up ---------------------------------------------------------------------------

    def join(self, state: TaskState | None = None) -> bool:
        """Register (with a data profile) and join the task with its mortgage, unless done.

        First, before any transaction: the data must fit the task's model, and (when training
        is timed) one round of training must fit the submission window unless ``join_anyway``.

        Returns whether a transaction was sent.

        Raises:
            DataMismatchError: the data does not fit the task's model.
            WindowTooShortError: training takes longer than the submission window.
        """
        state = state or self.state()
        self.check_data()
        member = self.member_role() == 1
        if not member and state.status is TaskStatus.JOINING and self.times_training:
            self._check_window(state)
        acted = register_client(self.who, self.data, self.manifest.category)
        if member:
            self._joined = True
            self._announce()
            return acted
        if state.status is not TaskStatus.JOINING:
            return acted
        result = self.send("joinAsClient", self.task_id, value=state.client_mortgage)
        self._joined = True
        self._index = next(
            (int(e.args["index"]) for e in result.events if e.name == "ClientJoined"), None
        )
        as_what = f" as client {self._index}" if self._index is not None else ""
        self.who.say(
            f"joined task {self.task_id}{as_what} with a mortgage of "
            f"{format_wei(state.client_mortgage)}"
        )
        self._announced = True
        return True

    def _check_window(self, state: TaskState) -> None:
        estimate, window = self.training_estimate(), state.submit_duration
        if estimate <= window:
            self.who.say(
                f"local training takes about {estimate:.1f} s per round here; the submission "
                f"window is {window} s"
            )
            return
        text = (
            f"local training takes about {estimate:.0f} s per round on this machine (a timed "
            f"slice of one epoch), longer than task {self.task_id}'s {window} s submission window"
        )
        if not self.join_anyway:
            raise WindowTooShortError(
                f"{text}: not joining, so no mortgage is locked (--join-anyway joins regardless)"
            )
        self.who.say(f"WARNING: {text}; joining anyway")

    def _announce(self) -> None:
        if not self._announced:
            index = self.index
            if index is not None:
                self.who.say(f"taking part in task {self.task_id} as client {index}")
                self._announced = True

    # -- verdicts ---------------------------------------------------------------------------

    def _report_verdicts(self) -> None:
        """Say, once per finalized round, what its verdict did with this client's update."""
        index = self.index
        if index is None:
            return
        for final in sorted(self.log.events("RoundFinalized"), key=lambda e: e.sort_key):
            r = int(final.args["round"])
            if r in self.verdicts:
                continue
            verdict = self.round_verdict(r, final_hash=bytes(final.args["verdictHash"]))
            if verdict is None:
                continue
            self.verdicts[r] = verdict
            self.who.say(f"round {r}: {verdict.describe()}")

    def round_verdict(self, round: int, *, final_hash: bytes | None = None) -> RoundVerdict | None:
        """What finalized round ``round`` decided about this client (None: not final, or this
        participant is no client of the task). Accepted or not comes from the chain; the reason
        and whether it was aggregated from the leader's note in the round's global model."""
        index = self.index
        if index is None:
            return None
        if final_hash is None:
            final = self.log.last("RoundFinalized", round=round)
            if final is None:
                return None
            final_hash = bytes(final.args["verdictHash"])
        posted = next(
            (
                e
                for e in reversed(self.log.events("VerdictPosted", round=round))
                if bytes(e.args["verdictHash"]) == final_hash
            ),
            None,
        )
        if posted is None:
            return None
        verdict = posted.args["verdict"]
        submitted = index in indices(int(verdict["submitted"]))
        accepted = index in indices(int(verdict["accepted"]))
        note: dict[str, Any] | None = None
        if submitted:
            try:
                note = read_verdict_notes(self.global_model(round + 1))
            except (StorageError, RoleError):
                note = None
        aggregated: bool | None = None
        reason: str | None = None
        if note is not None:
            if accepted and "aggregated" in note:
                aggregated = index in note["aggregated"]
            why = note.get("reasons", {}).get(str(index))
            reason = why.strip() or None if isinstance(why, str) else None
        return RoundVerdict(round, submitted, accepted, aggregated, reason)

    # -- the state machine ----------------------------------------------------------------

    def step(self) -> Activity:
        """Join, train and submit the current round, or claim at the end."""
        state = self.state()
        if state.status is not TaskStatus.JOINING:
            self._report_verdicts()
        phase = self.lifecycle(state)
        if phase is not None:
            return phase
        self._announce()
        r = state.round
        if r in self._handed or self._submitted(r):
            if self.manifest.verification.rule == "mutual" and r not in self._scored:
                return self._score_round(state)
            return Activity.WAITING
        if r in self._skipped:
            return Activity.WAITING
        remaining = state.submit_deadline - chain_now(self.who.chain)
        if remaining < 0:
            return Activity.WAITING  # too late for this round; the next one opens later
        behaviour = self.behaviour_in(r)
        if not behaviour.submits(r, np.random.default_rng(_seed(self.seed, "submit", r))):
            self._skipped.add(r)
            self.who.say(f"round {r}: not submitting ({behaviour.describe()})")
            return Activity.ACTED
        if behaviour.copies_peers and not self._peer_submissions(r):
            if r not in self._waiting_for_peers:
                self._waiting_for_peers.add(r)
                self.who.say(f"round {r}: waiting for a peer's update to copy")
            return Activity.WAITING
        self.check_data()
        if self.times_training and behaviour.trains:
            estimate = self.training_estimate()
            if estimate > remaining:
                self._skipped.add(r)
                self.who.say(
                    f"round {r}: SKIPPED: local training takes about {estimate:.0f} s but only "
                    f"{remaining} s remain before the submit deadline; not training into a "
                    "closed window (a missed round forfeits part of the mortgage)"
                )
                return Activity.ACTED
        self.play_round(r)
        return Activity.ACTED

    def _score_round(self, state: TaskState) -> Activity:
        """Mutual supervision (M13): once the round's submissions are closed, score every peer's
        update on the local data and post the row to the ScoreBoard."""
        r = state.round
        block_time = self.who.chain.timestamp()  # before the log: see scoring_done
        self.log.refresh()
        me = self.index
        submissions = self._member_submissions(r)
        closed = len(submissions) >= state.client_count or block_time > state.submit_deadline
        if me is None or me not in submissions or not closed:
            return Activity.WAITING
        if any(row.validator == me for row in round_rows(self.log, r)):
            self._scored.add(r)  # posted before a restart: one row per round
            return Activity.WAITING
        if block_time > scoring_closes_at(state):
            self._scored.add(r)
            self.who.say(f"round {r}: too late to post scores (the scoring window closed)")
            return Activity.ACTED
        models: dict[int, dict[str, np.ndarray] | None] = {}
        for index, event in submissions.items():
            if index == me:
                continue
            try:
                models[index] = dict(
                    self.model(bytes(event.args["digest"]), int(event.args["codec"])).state
                )
            except KuboError as exc:
                self.who.say(f"round {r}: cannot fetch the peers' updates now ({exc})")
                return Activity.WAITING
            except (StorageError, RoleError):
                models[index] = None  # unusable: scored 0
        measured = measure_scores(
            self.spec, models, self.data.x, self.data.y, client_count=state.client_count,
            seed=_seed(self.seed, "score", self.task_id, r),
        )  # fmt: skip
        scorable = np.zeros(state.client_count, dtype=bool)
        scorable[list(models)] = True
        rng = np.random.default_rng(_seed(self.seed, "scores", self.task_id, r))
        row = np.clip(self.behaviour_in(r).report_scores(measured, scorable, rng), 0, MAX_SCORE)
        row[~scorable] = 0
        bitmap = sum(1 << i for i in submissions)
        board = self.who.deployment.require_scores()
        try:
            board.postScores(
                self.task_id, r, bitmap, [int(v) for v in row], sender=self.who.account
            )
        except Exception as exc:
            name = error_name(exc)
            if not name.startswith("ScoreBoard"):
                raise
            self.who.say(f"round {r}: scores not posted ({name})")
        else:
            shown = ", ".join(f"{i}:{int(row[i]) / 100:.0f}%" for i in sorted(models))
            self.who.say(f"round {r}: posted scores of {len(models)} peers ({shown})")
        self._scored.add(r)
        return Activity.ACTED

    def _member_submissions(self, round: int) -> dict[int, Any]:
        """Client index → first ``UpdateSubmitted`` of ``round``, for the task's clients."""
        index = {a.lower(): i for i, a in enumerate(self.log.clients())}
        subs = self.log.submissions(round)
        return {index[a]: e for a, e in subs.items() if a in index}

    def _submitted(self, round: int) -> bool:
        return self.who.address.lower() in self.log.submissions(round)

    def _peer_submissions(self, round: int) -> list[Any]:
        """Other clients' first submissions of ``round``, in chain order."""
        me = self.who.address.lower()
        subs = [e for a, e in self.log.submissions(round).items() if a != me]
        return sorted(subs, key=lambda e: e.sort_key)

    def _peer_models(self, round: int) -> list[dict[str, np.ndarray]]:
        """The peers' update models of ``round`` that the store serves and that check out
        against the task's model spec (what a copycat can copy), in chain order."""
        models = []
        for event in self._peer_submissions(round):
            try:
                fetched = self.model(bytes(event.args["digest"]), int(event.args["codec"]))
            except (StorageError, RoleError):
                continue
            models.append(dict(fetched.state))
        return models

    def play_round(self, round: int) -> ClientRound:
        """Train on round ``round``'s global model, upload and submit (or hand to the relay)."""
        spec, manifest = self.spec, self.manifest
        behaviour = self.behaviour_in(round)
        glob = self.global_model(round).state
        rng = np.random.default_rng(_seed(self.seed, "attack", self.task_id, round))
        x, y = behaviour.before_training(self.data.x, self.data.y, rng)
        loss, epsilon = float("nan"), None
        if behaviour.trains:
            t = manifest.training
            started = self._clock()
            result = train_local(
                spec, glob, x, y, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                momentum=t.momentum, privacy=manifest.privacy,
                seed=_seed(self.seed, "train", self.task_id, round),
            )  # fmt: skip
            self._estimate = max(0.0, float(self._clock() - started))
            local, loss, epsilon = result.state, result.loss, result.epsilon
        else:
            local = glob
        update = model_update(local, glob)
        honest = behaviour.honest
        if not honest:
            peers = self._peer_models(round) if behaviour.copies_peers else []
            peer_updates = [model_update(p, glob) for p in peers]
            context = AttackContext(
                round=round, global_vector=flatten_state(glob), peer_updates=peer_updates
            )
            update = behaviour.after_training(update, context, rng)
            local = apply_update(glob, update, spec)
            # An exact copy publishes the peer's tensors: re-adding Δ to the global model
            # could round differently from the peer's own model.
            local = next(
                (p for p, d in zip(peers, peer_updates, strict=True) if np.array_equal(d, update)),
                local,
            )
        metadata = ModelMetadata(
            task_id=self.task_id, round=round, author=self.who.address,
            num_samples=self.data.size, model_spec=spec.name,
            model_spec_hash="0x" + spec.spec_hash(), kind="local",
            extra={PRIVACY_KEY: privacy_declaration(manifest.privacy, epsilon)},
        )  # fmt: skip
        published = publish_model(self.who.store, local, metadata, check_finite=honest)
        record = ClientRound(round, published.cid, self.data.size, loss, epsilon, False)
        if self.relay is not None:
            signed = eip712.sign_update(
                account=self.who.account, chain_id=self.who.chain.chain_id,
                verifying_contract=self.who.tasks.address, task_id=self.task_id, round=round,
                digest=published.digest, num_samples=self.data.size, codec=published.codec,
            )  # fmt: skip
            self.relay(round, signed)
            self._handed.add(round)
            self.who.say(f"round {round}: signed update {published.cid} handed to the relayer")
        else:
            try:
                self.send("submitUpdate", self.task_id, round, published.digest,
                          self.data.size, published.codec)  # fmt: skip
            except Exception as exc:
                if error_name(exc) not in (
                    "TaskManagerRoundClosed", "TaskManagerWrongRound", "TaskManagerWrongStatus",
                ):  # fmt: skip
                    raise
                self.who.say(f"round {round}: too late to submit ({error_name(exc)})")
                self._skipped.add(round)
                return record
            self.who.say(f"round {round}: submitted {published.cid} (loss {loss:.3f})")
        record = ClientRound(round, published.cid, self.data.size, loss, epsilon, True)
        self.rounds[round] = record
        return record
