"""One whole task on chain with scripted outcomes: the flow the scenario tests and
``benchmarks/gas.py`` share.

No learning happens here: each client's "update" is a small deterministic blob whose raw-leaf
CIDv1 digest is its sha2-256 (a single-chunk file, codec 0x55), and the committee's verdict is
scripted by :class:`ScenarioConfig` (``rejected`` / ``missing``). Every transaction is real:
registration, deposits, task creation, joins (EIP-712 permits relayed in one transaction, or
direct), submissions (one relayed EIP-712 batch per round, or direct), the leader's verdict,
attestations up to the quorum, settlement and withdrawals.

Gas is split into *lifetime* operations (funding, registration, profiles, deposits, withdrawals:
once per participant, not per task) and *task* operations (everything from ``createTask`` to the
last settlement), the latter also per round.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from fedchain.chain import eip712
from fedchain.chain.connection import Chain
from fedchain.chain.deploy import Deployment, deploy_fedchain
from fedchain.chain.policies import REWARD_POLICIES
from fedchain.chain.transact import TxResult
from fedchain.chain.verdicts import BPS, make_verdict, verdict_hash
from fedchain.errors import ConfigError
from fedchain.incentives import data_amount_bps, next_reputation

__all__ = [
    "POLICIES",
    "RAW_CODEC",
    "RoundOutcome",
    "ScenarioConfig",
    "ScenarioResult",
    "run_scenario",
]

#: CID codec of a single-chunk raw-leaf file.
RAW_CODEC = 0x55
#: Reward policy names -> the contract's RewardPolicy enum (re-exported).
POLICIES = REWARD_POLICIES
_CATEGORY = keccak(b"fedchain/scenario/digits")


@dataclass(frozen=True)
class ScenarioConfig:
    """What the scripted task looks like.

    Attributes:
        clients, miners, rounds, committee_size, byzantine_f: the task's shape.
        policy: ``reputation`` | ``contribution`` | ``data_amount`` | ``fixed``.
        reward_unit: wei per reputation point (reputation and fixed policies).
        per_round_reward: wei per round (default: what the reputation policy can pay at most).
        mortgage_per_round: the client mortgage is ``rounds ×`` this.
        miner_stake: each miner's stake.
        rejected: ``(round, client)`` pairs the verdict rejects.
        missing: ``(round, client)`` pairs that do not submit (temporary exits).
        batch_joins / batch_submissions / settle_many: use the relayed batch paths.
        relay_attestations: the leader relays the members' EIP-712 attestations with its
            verdict (else each member sends ``attestVerdict`` itself).
        samples: base sample count; client i reports ``samples + i``.
        score_rows: mutual supervision: every submitter posts its row of scores to the
            ScoreBoard (one transaction each) before the verdict.
        seed: derives the participants' keys and the blobs.
    """

    clients: int = 4
    miners: int = 3
    rounds: int = 2
    committee_size: int = 3
    byzantine_f: int = 1
    policy: str = "reputation"
    reward_unit: int = 10**12
    per_round_reward: int | None = None
    mortgage_per_round: int = 10**15
    miner_stake: int = 10**16
    rejected: frozenset[tuple[int, int]] = frozenset()
    missing: frozenset[tuple[int, int]] = frozenset()
    batch_joins: bool = True
    batch_submissions: bool = True
    settle_many: bool = True
    relay_attestations: bool = True
    samples: int = 100
    score_rows: bool = False
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a shape the contracts would refuse."""
        if not 1 <= self.clients <= 256 or self.miners < 1 or not 1 <= self.rounds <= 250:
            raise ConfigError("need 1..256 clients, at least one miner and 1..250 rounds")
        if self.policy not in POLICIES:
            raise ConfigError(f"unknown policy {self.policy!r}; choose from {sorted(POLICIES)}")
        for r, i in self.rejected | self.missing:
            if not (0 <= r < self.rounds and 0 <= i < self.clients):
                raise ConfigError(f"(round, client) = ({r}, {i}) is outside the task")

    @property
    def reward_per_round(self) -> int:
        """perRoundReward: given, or the most the reputation policy can pay (γmax = 100)."""
        return self.per_round_reward or self.reward_unit * 100 * self.clients


@dataclass
class RoundOutcome:
    """One round as it happened on chain."""

    round: int
    committee: list[str]
    submitted: list[int]
    accepted: list[int]
    rejected: list[int]
    missing: list[int]
    reputations: list[int]  # every client's γ after the round (M9, from its γ at join)
    gas: int


@dataclass
class ScenarioResult:
    """What the scenario did and what it cost."""

    deployment: Deployment
    task_id: int
    rounds: list[RoundOutcome]
    escrow: int
    rewards_paid: int  # clients' rewards + leaders' rewards: what the escrow paid out
    penalties: int
    refunded: int  # what the requester got back in all: unearned escrow + dust + slashed stakes
    slashed: int
    final_reputations: list[int]
    task_gas: int
    lifetime_gas: int
    gas_by_label: dict[str, list[int]]
    clients: list[str] = field(default_factory=list)
    miners: list[str] = field(default_factory=list)

    @property
    def unearned(self) -> int:
        """The part of the escrow nobody earned (``escrow == rewards_paid + unearned``)."""
        return self.escrow - self.rewards_paid

    @property
    def penalty_dust(self) -> int:
        """Wei the M11 sharing could not split evenly; it goes to the requester with the refund."""
        return self.refunded - self.unearned - self.slashed

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary (what ``fedchain demo --json`` prints)."""
        return {
            "task_id": self.task_id,
            "rounds": [
                {
                    "round": o.round,
                    "accepted": o.accepted,
                    "rejected": o.rejected,
                    "missing": o.missing,
                    "reputations": o.reputations,
                    "gas": o.gas,
                }
                for o in self.rounds
            ],
            "escrow_deposited": self.escrow,
            "escrow_paid": self.rewards_paid,
            "escrow_refunded": self.unearned,
            "penalties": self.penalties,
            "slashed": self.slashed,
            "penalty_dust": self.penalty_dust,
            "requester_refund_total": self.refunded,
            "final_reputations": self.final_reputations,
            "gas_total": self.task_gas,
            "gas_lifetime_ops": self.lifetime_gas,
        }


def _account(seed: int, role: str, i: int) -> LocalAccount:
    return Account.from_key(keccak(f"fedchain/scenario/{seed}/{role}/{i}".encode()))


def _blob_digest(*parts: object) -> bytes:
    """sha2-256 of a small blob: the digest of its raw-leaf CIDv1 (codec 0x55)."""
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()


class _Run:
    def __init__(self, chain: Chain, cfg: ScenarioConfig, deployment: Deployment) -> None:
        self.chain, self.cfg, self.d = chain, cfg, deployment
        self.tasks = deployment.tasks
        self.requester = chain.dev_accounts(1)[0]
        self.clients = [_account(cfg.seed, "client", i) for i in range(cfg.clients)]
        self.miners = [_account(cfg.seed, "miner", j) for j in range(cfg.miners)]
        self.mortgage = cfg.mortgage_per_round * cfg.rounds
        self.join_window = 3600
        self.task_records: list[Any] = []
        self.lifetime_gas = 0

    def _gas_since(self, start: int) -> list[Any]:
        return list(self.chain.gas.records[start:])

    def lifetime_setup(self) -> None:
        start = len(self.chain.gas.records)
        reg = self.d.registry
        for i, c in enumerate(self.clients):
            self.chain.fund(c.address, self.mortgage + 10**17)
            reg.registerClient(sender=c)
            profile = {
                "category": _CATEGORY, "dataType": keccak(b"image/8x8-gray"),
                "size": self.cfg.samples + i, "nameHash": keccak(f"client-{i}".encode()),
                "contentHash": _blob_digest("data", self.cfg.seed, i),
                "timestamp": self.chain.timestamp(), "location": keccak(b"u4pruyd"),
            }  # fmt: skip
            reg.addDataProfile(profile, sender=c)
            self.tasks.deposit(sender=c, value=self.mortgage)
        for m in self.miners:
            self.chain.fund(m.address, self.cfg.miner_stake + 10**17)
            reg.registerMiner(sender=m)
            self.tasks.deposit(sender=m, value=self.cfg.miner_stake)
        self.lifetime_gas += sum(r.gas_used for r in self._gas_since(start))

    def create_and_join(self) -> int:
        cfg = self.cfg
        spec = {
            "category": _CATEGORY, "initialModel": _blob_digest("initial", cfg.seed),
            "initialCodec": RAW_CODEC, "modelSpecHash": keccak(b"mlp-64-32-10"),
            "requestKey": keccak(f"request/{cfg.seed}".encode()), "rounds": cfg.rounds,
            "joinDeadline": self.chain.timestamp() + self.join_window, "submitDuration": 600,
            "verdictDuration": 600, "perRoundReward": cfg.reward_per_round,
            "rewardUnit": cfg.reward_unit, "minReputation": 0, "clientMortgage": self.mortgage,
            "minMinerStake": cfg.miner_stake, "minTotalStake": 0, "maxClients": cfg.clients,
            "committeeSize": cfg.committee_size, "byzantineF": cfg.byzantine_f,
            "policy": POLICIES[cfg.policy],
        }  # fmt: skip
        escrow = cfg.rounds * cfg.reward_per_round
        result = self.tasks.createTask(spec, sender=self.requester, value=escrow)
        task_id = int(result.event("TaskCreated").args["taskId"])
        for m in self.miners:
            self.tasks.joinAsMiner(task_id, cfg.miner_stake, sender=m)
        if cfg.batch_joins:
            permits = [
                eip712.sign_join(
                    account=c,
                    chain_id=self.chain.chain_id,
                    verifying_contract=self.tasks.address,
                    task_id=task_id,
                    mortgage=self.mortgage,
                    deadline=self.chain.timestamp() + 3600,
                    nonce=int(self.tasks.joinNonce(c.address)),
                )
                for c in self.clients
            ]
            self.tasks.joinClientsBySig(task_id, permits, sender=self.requester)
        else:
            for c in self.clients:
                self.tasks.joinAsClient(task_id, sender=c)
        return task_id

    def _num_samples(self, i: int) -> int:
        return self.cfg.samples + i

    def play_round(self, task_id: int, r: int, opened: TxResult, gammas: list[int]) -> RoundOutcome:
        cfg, chain = self.cfg, self.chain
        start = len(chain.gas.records)
        committee = self._committee(task_id, r)
        missing = sorted(i for i in range(cfg.clients) if (r, i) in cfg.missing)
        submitted = [i for i in range(cfg.clients) if i not in missing]
        rejected = sorted(i for i in submitted if (r, i) in cfg.rejected)
        accepted = [i for i in submitted if i not in rejected]
        digests = {i: _blob_digest("update", cfg.seed, task_id, r, i) for i in submitted}
        if cfg.batch_submissions and submitted:
            batch = [
                eip712.sign_update(
                    account=self.clients[i],
                    chain_id=chain.chain_id,
                    verifying_contract=self.tasks.address,
                    task_id=task_id,
                    round=r,
                    digest=digests[i],
                    num_samples=self._num_samples(i),
                    codec=RAW_CODEC,
                )
                for i in submitted
            ]
            self.tasks.submitUpdatesBySig(task_id, r, batch, sender=self.requester)
        else:
            for i in submitted:
                self.tasks.submitUpdate(
                    task_id, r, digests[i], self._num_samples(i), RAW_CODEC, sender=self.clients[i]
                )
        if missing:  # not everyone submitted: the leader waits for the deadline
            chain.increase_time(_submit_wait(self.tasks, task_id))
        if cfg.score_rows:
            board = self.d.require_scores()
            bitmap = sum(1 << i for i in submitted)
            for v in submitted:
                row = [9_000 if i in submitted and i != v else 0 for i in range(cfg.clients)]
                board.postScores(task_id, r, bitmap, row, sender=self.clients[v])
        verdict = make_verdict(
            submitted=submitted,
            accepted=accepted,
            global_model=_blob_digest("global", cfg.seed, task_id, r),
            codec=RAW_CODEC,
            weights=self._weights(accepted),
        )
        by_address: dict[str, LocalAccount] = {str(a.address): a for a in self.miners}
        vhash = verdict_hash(task_id, r, verdict)
        quorum = (2 * len(committee) + 2) // 3
        # A miner may hold several seats: it signs once and approves for all of them.
        approvers = [m for m in dict.fromkeys(committee) if m != committee[0]]
        needed, relayed_by = quorum - committee.count(committee[0]), []
        for member in approvers:
            if needed <= 0:
                break
            relayed_by.append(member)
            needed -= committee.count(member)
        relayed = []
        if cfg.relay_attestations:
            relayed = [
                eip712.sign_attestation(
                    account=by_address[member],
                    chain_id=chain.chain_id,
                    verifying_contract=self.tasks.address,
                    task_id=task_id,
                    round=r,
                    verdict_hash=vhash,
                )
                for member in relayed_by
            ]
        leader = by_address[committee[0]]
        result = self.tasks.postVerdict(task_id, r, verdict, relayed, sender=leader)
        for member in approvers:
            if result.events_named("RoundFinalized"):
                break
            result = self.tasks.attestVerdict(task_id, r, vhash, sender=by_address[member])
        if not result.events_named("RoundFinalized"):
            raise ConfigError(f"round {r} did not reach quorum")
        gas = sum(rec.gas_used for rec in self._gas_since(start))
        self.last_result = result
        h, gmax = self.d.params["threshold"], self.d.params["gamma_max"]
        for i in range(cfg.clients):
            gammas[i] = next_reputation(gammas[i], i in accepted, h=h, gamma_max=gmax)
        return RoundOutcome(
            round=r,
            committee=committee,
            submitted=submitted,
            accepted=accepted,
            rejected=rejected,
            missing=missing,
            reputations=list(gammas),
            gas=gas,
        )

    def _committee(self, task_id: int, r: int) -> list[str]:
        """The round's seats; its seed block's hash is readable from the next block on."""
        if self.chain.block_number() <= int(self.tasks.seedBlockOf(task_id, r)):
            self.chain.mine(1)
        return [str(a) for a in self.tasks.committee(task_id, r)]

    def _weights(self, accepted: list[int]) -> list[int]:
        if self.cfg.policy == "contribution":
            share = BPS // max(1, len(accepted))
            return [share if i in accepted else 0 for i in range(self.cfg.clients)]
        if self.cfg.policy == "data_amount":
            counts = [self._num_samples(i) for i in range(self.cfg.clients)]
            flags = [i in accepted for i in range(self.cfg.clients)]
            return data_amount_bps(counts, accepted=flags)
        return []


def _submit_wait(tasks: Any, task_id: int) -> int:
    """Seconds until the current round's submit deadline has passed."""
    info = tasks.taskInfo(task_id)
    deadline = info["submitDeadline"] if isinstance(info, dict) else info.submitDeadline
    return max(1, int(deadline) - tasks.chain.timestamp() + 1)


def run_scenario(
    chain: Chain, config: ScenarioConfig, *, deployment: Deployment | None = None
) -> ScenarioResult:
    """Deploy (unless ``deployment`` is given) and play one whole task; see the module doc."""
    config.validate()
    if deployment is None:
        deployment = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
    run = _Run(chain, config, deployment)
    run.lifetime_setup()
    start = len(chain.gas.records)
    task_id = run.create_and_join()
    chain.increase_time(run.join_window + 1)  # only a full task may start before its deadline
    opened = run.tasks.startTask(task_id, sender=run.requester)
    requester = run.requester.address
    gammas = [deployment.registry.reputationOf(c.address, requester) for c in run.clients]
    outcomes: list[RoundOutcome] = []
    for r in range(config.rounds):
        outcomes.append(run.play_round(task_id, r, opened, gammas))
        opened = run.last_result
    participants = [c.address for c in run.clients] + [m.address for m in run.miners]
    settled: list[TxResult] = []
    if config.settle_many:
        settled.append(run.tasks.settleMany(task_id, participants, sender=run.requester))
    else:
        settled += [run.tasks.settle(task_id, p, sender=run.requester) for p in participants]
    task_records = chain.gas.records[start:]
    task_gas = sum(r.gas_used for r in task_records)
    by_label: dict[str, list[int]] = defaultdict(list)
    for rec in task_records:
        by_label[rec.label].append(rec.gas_used)
    events = [e for res in settled for e in res.events]
    rewards = sum(int(e.args["reward"]) for e in events if e.name == "ClientSettled")
    rewards += sum(
        int(e.args["amount"])
        for e in run.tasks.events("LeaderRewarded", filters={"taskId": task_id})
    )
    slashed = sum(int(e.args["slashed"]) for e in events if e.name == "MinerSettled")
    penalties = sum(int(e.args["penalty"]) for e in events if e.name == "ClientSettled")
    refunded = sum(int(e.args["amount"]) for e in events if e.name == "RequesterRefunded")
    final = [deployment.registry.reputationOf(c.address, requester) for c in run.clients]
    # Pull payments (lifetime operations): everyone withdraws what it is owed.
    start = len(chain.gas.records)
    for acct in [*run.clients, *run.miners, run.requester]:
        owed = run.tasks.balanceOf(acct.address)
        if owed:
            run.tasks.withdraw(owed, sender=acct)
    run.lifetime_gas += sum(r.gas_used for r in chain.gas.records[start:])
    return ScenarioResult(
        deployment=deployment,
        task_id=task_id,
        rounds=outcomes,
        escrow=config.rounds * config.reward_per_round,
        rewards_paid=rewards,
        penalties=penalties,
        refunded=refunded,
        slashed=slashed,
        final_reputations=final,
        task_gas=task_gas,
        lifetime_gas=run.lifetime_gas,
        gas_by_label=dict(by_label),
        clients=[c.address for c in run.clients],
        miners=[m.address for m in run.miners],
    )
