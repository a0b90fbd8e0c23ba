"""The client role: register a data profile, join with the mortgage, train every round, claim.

Per round (driven by :meth:`Client.step`): download the round's global model (the initial
model, or the previous round's result, checked against its on-chain digest and the task's model
spec), train locally with the task's DP mechanism, upload the local model, and submit its digest
— directly (``submitUpdate``), or signed (EIP-712) for a relayer to batch
(``submitUpdatesBySig``). At the end it settles its membership and withdraws (pull payment).

Training is seeded by (seed, task, round), so a client restarted mid-round uploads the very same
blob: it has the same CID and nothing is submitted twice (the chain records the first
submission; the client checks for its own before submitting).

A :class:`~fedchain.learning.Behaviour` other than honest turns the client into a simulated
adversary (M15): label flipping, sign flipping, free-riding, dropping out...
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_utils import keccak

from fedchain.chain import eip712
from fedchain.learning import (
    AttackContext,
    Behaviour,
    apply_update,
    flatten_state,
    make_behaviour,
    model_update,
    train_local,
)
from fedchain.roles.base import Activity, MemberRole, Participant
from fedchain.roles.blobs import publish_model
from fedchain.roles.chainview import TaskLog, TaskState, TaskStatus, chain_now, error_name
from fedchain.roles.taskfile import category_id
from fedchain.storage import ModelMetadata

__all__ = ["Client", "ClientRound", "LocalData", "Relay", "register_client"]

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
    ) -> None:
        super().__init__(who, task_id, log=log)
        self.data = data
        self.behaviour = behaviour or make_behaviour("honest")
        self.seed = seed
        self.relay = relay
        self.rounds: dict[int, ClientRound] = {}
        self._skipped: set[int] = set()
        self._handed: set[int] = set()

    # -- set-up ---------------------------------------------------------------------------

    def join(self, state: TaskState | None = None) -> bool:
        """Register (with a data profile) and join the task with its mortgage, unless done.

        Returns whether a transaction was sent.
        """
        state = state or self.state()
        acted = register_client(self.who, self.data, self.manifest.category)
        if self.member_role() == 1:
            self._joined = True
            return acted
        if state.status is not TaskStatus.JOINING:
            return acted
        self.send("joinAsClient", self.task_id, value=state.client_mortgage)
        self._joined = True
        self.who.say(f"joined task {self.task_id} with a mortgage of {state.client_mortgage} wei")
        return True

    # -- the state machine ----------------------------------------------------------------

    def step(self) -> Activity:
        """Join, train and submit the current round, or claim at the end."""
        state = self.state()
        phase = self.lifecycle(state)
        if phase is not None:
            return phase
        r = state.round
        if r in self._skipped or r in self._handed or self._submitted(r):
            return Activity.WAITING
        if chain_now(self.who.chain) > state.submit_deadline:
            return Activity.WAITING  # too late for this round; the next one opens later
        if not self.behaviour.submits(r, np.random.default_rng(_seed(self.seed, "submit", r))):
            self._skipped.add(r)
            self.who.say(f"round {r}: not submitting ({self.behaviour.name})")
            return Activity.ACTED
        self.play_round(r)
        return Activity.ACTED

    def _submitted(self, round: int) -> bool:
        return self.who.address.lower() in self.log.submissions(round)

    def play_round(self, round: int) -> ClientRound:
        """Train on round ``round``'s global model, upload and submit (or hand to the relay)."""
        spec, manifest = self.spec, self.manifest
        glob = self.global_model(round).state
        rng = np.random.default_rng(_seed(self.seed, "attack", self.task_id, round))
        x, y = self.behaviour.before_training(self.data.x, self.data.y, rng)
        loss, epsilon = float("nan"), None
        if self.behaviour.trains:
            t = manifest.training
            result = train_local(
                spec, glob, x, y, epochs=t.epochs, batch_size=t.batch_size, lr=t.lr,
                momentum=t.momentum, privacy=manifest.privacy,
                seed=_seed(self.seed, "train", self.task_id, round),
            )  # fmt: skip
            local, loss, epsilon = result.state, result.loss, result.epsilon
        else:
            local = glob
        update = model_update(local, glob)
        honest = self.behaviour.name == "honest"
        if not honest:
            context = AttackContext(round=round, global_vector=flatten_state(glob))
            update = self.behaviour.after_training(update, context, rng)
            local = apply_update(glob, update, spec)
        metadata = ModelMetadata(
            task_id=self.task_id, round=round, author=self.who.address,
            num_samples=self.data.size, model_spec=spec.name,
            model_spec_hash="0x" + spec.spec_hash(), kind="local",
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
