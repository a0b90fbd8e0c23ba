"""The task file itself: :class:`TaskFile`, reading it (:func:`load_task_file`), writing it
(:meth:`TaskFile.to_toml`) and turning it into the contract's ``TaskSpec``."""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from eth_utils import keccak

from fedchain.chain.policies import REWARD_POLICIES
from fedchain.learning import ModelSpec, PrivacyConfig
from fedchain.learning.data import DATASETS
from fedchain.roles.taskfile.amounts import format_wei
from fedchain.roles.taskfile.configs import (
    TRAINING_KEYS,
    VERIFICATION_KEYS,
    TaskManifest,
    TrainingConfig,
    VerificationConfig,
    model_spec,
    read_privacy,
)
from fedchain.roles.taskfile.errors import TaskFileError, kind_of, located_error
from fedchain.roles.taskfile.reader import Table
from fedchain.roles.taskfile.request import REQUEST_KEYS, RequestConfig

__all__ = ["DEFAULT_TASK_TOML", "POLICIES", "TaskFile", "category_id", "load_task_file"]

#: Reward policy names -> the contract's ``RewardPolicy`` enum.
POLICIES: Final = REWARD_POLICIES

# Reputation points one accepted update earns at most (deploy_fedchain's γmax and h): the
# contract refuses a per-round reward below rewardUnit × points × maxClients for these policies.
_POLICY_POINTS: Final = {"reputation": 100, "fixed": 5}
_AUTO_POINTS: Final = 100  # "auto" per-round reward: rewardUnit × γmax × maxClients
_UINT16: Final = 2**16 - 1
_UINT32: Final = 2**32 - 1
_UINT88: Final = 2**88 - 1
_UINT96: Final = 2**96 - 1
_UINT128: Final = 2**128 - 1
_MAX_SEED: Final = 2**63 - 1
_CODECS: Final = (0x55, 0x70)  # raw, dag-pb: the CID codecs the contract accepts
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SECTIONS: Final = (
    "task", "rewards", "model", "data", "training", "privacy", "verification", "request",
)  # fmt: skip


def category_id(name: str) -> bytes:
    """The on-chain id of a data category: keccak256 of its UTF-8 name (32 bytes)."""
    return bytes(keccak(text=name))


_TASK_KEYS: Final = (
    "name", "category", "rounds", "max_clients", "committee_size", "byzantine_f",
    "min_reputation", "join_window", "submit_window", "verdict_window",
)  # fmt: skip
_REWARD_KEYS: Final = (
    "policy", "reward_unit", "per_round_reward", "client_mortgage", "min_miner_stake",
    "min_total_stake",
)  # fmt: skip


@dataclass(frozen=True)
class TaskFile:
    """A validated task file. Build it with :func:`load_task_file` or :meth:`from_dict`.

    Amounts are in wei; windows in seconds. See ``docs/taskfile.md`` for every key.

    ``notes`` are the one-line remarks reading the file produced, about values it adjusted
    (a client mortgage rounded to a multiple of ``rounds``); they take no part in equality.
    """

    name: str
    category: str
    rounds: int
    max_clients: int
    committee_size: int
    byzantine_f: int
    min_reputation: int
    join_window: int
    submit_window: int
    verdict_window: int
    policy: str
    reward_unit: int
    per_round_reward: int
    client_mortgage: int
    min_miner_stake: int
    min_total_stake: int
    model: ModelSpec
    model_seed: int
    dataset: str
    training: TrainingConfig
    privacy: PrivacyConfig | None
    verification: VerificationConfig
    request: RequestConfig | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "task file") -> TaskFile:
        """Validate a parsed task file (``tomllib`` output); ``source`` prefixes error messages.

        Raises:
            TaskFileError: a missing ``[task]``, unknown sections or keys, wrong types, values out
                of range, amounts the contract would refuse, unknown models, DP mechanisms or
                verification rules.
        """
        if not isinstance(data, Mapping):
            raise located_error(source, None, None, f"must be a table, got {kind_of(data)}")
        for name in sorted(set(data) - set(_SECTIONS)):
            allowed = ", ".join(f"[{s}]" for s in _SECTIONS)
            raise located_error(source, name, None, f"unknown section; allowed: {allowed}")
        if "task" not in data:
            raise located_error(
                source, "task", None, "missing (every task file needs a [task] section)"
            )
        t = Table(source, "task", data["task"], _TASK_KEYS)
        ds = Table(source, "data", data.get("data", {}), ("dataset",))
        dataset = ds.text("dataset", "digits", choices=sorted(DATASETS))
        task = _read_task(t, dataset=dataset)
        v = Table(source, "verification", data.get("verification", {}), VERIFICATION_KEYS)
        verification = VerificationConfig._read(v, required=False)
        f, n = task["byzantine_f"], task["max_clients"]
        if verification.rule == "mutual" and not verification.drop < n:
            raise v.error("drop", f"must be below max_clients ({n}), got {verification.drop}")
        if verification.rule == "multikrum" and n < f + 3:
            raise t.error(
                "byzantine_f",
                f"{f} leaves Multi-KRUM no majority: it needs max_clients >= byzantine_f + 3 = "
                f"{f + 3}, got {n}",
            )
        m = Table(source, "model", data.get("model", {}), ("name", "seed", "params"))
        r = Table(source, "rewards", data.get("rewards", {}), _REWARD_KEYS)
        tr = Table(source, "training", data.get("training", {}), TRAINING_KEYS)
        notes: list[str] = []
        return cls(
            **task,
            **_read_rewards(r, rounds=task["rounds"], max_clients=n, notes=notes),
            model=model_spec(m, m.text("name", "cnn_digits"), m.get("params", {})),
            model_seed=m.integer("seed", 0, lo=0, hi=_MAX_SEED),
            dataset=dataset,
            training=TrainingConfig._read(tr, required=False),
            privacy=read_privacy(Table(source, "privacy", data.get("privacy", {}), None)),
            verification=verification,
            request=(
                RequestConfig._read(Table(source, "request", data["request"], REQUEST_KEYS))
                if "request" in data
                else None
            ),
            notes=tuple(notes),
        )

    def request_key(self) -> bytes:
        """The canonical M3 request key of this task file's ``[request]`` (zero without one):
        see :mod:`fedchain.roles.taskfile.request`."""
        if self.request is None:
            return bytes(32)
        return self.request.key(
            category=self.category,
            model_spec_hash="0x" + self.model.spec_hash(),
            privacy=self.privacy.to_dict() if self.privacy is not None else None,
            verification=self.verification.to_dict(),
        )

    @property
    def escrow(self) -> int:
        """Wei the requester deposits with ``createTask``: rounds × per-round reward."""
        return self.rounds * self.per_round_reward

    @property
    def policy_id(self) -> int:
        """The contract's ``RewardPolicy`` value of :attr:`policy`."""
        return POLICIES[self.policy]

    def manifest(self) -> TaskManifest:
        """The part participants learn from the initial model blob."""
        return TaskManifest(
            name=self.name,
            category=self.category,
            dataset=self.dataset,
            model=self.model,
            training=self.training,
            privacy=self.privacy,
            verification=self.verification,
            release=self.request.release if self.request is not None else None,
        )

    def onchain_spec(
        self,
        *,
        initial_model: bytes,
        initial_codec: int,
        join_deadline: int,
        request_key: bytes = b"\0" * 32,
    ) -> dict[str, Any]:
        """The ``TaskSpec`` struct for ``TaskManager.createTask`` (send :attr:`escrow` with it).

        Args:
            initial_model: the initial model blob's 32-byte CID digest.
            initial_codec: its CID codec (0x55 raw, 0x70 dag-pb).
            join_deadline: unix time joining closes (e.g. ``chain.timestamp() + join_window``).
            request_key: the M3 request key this task answers (zero for none).
        """
        for what, value in (("initial_model", initial_model), ("request_key", request_key)):
            if not isinstance(value, bytes) or len(value) != 32:
                raise TaskFileError(f"onchain_spec: {what} must be 32 bytes")
        if initial_codec not in _CODECS:
            raise TaskFileError(
                f"onchain_spec: initial_codec must be 0x55 or 0x70, got {initial_codec}"
            )
        if type(join_deadline) is not int or not 0 < join_deadline < 2**40:
            raise TaskFileError(
                f"onchain_spec: join_deadline must be in 1..2**40-1, got {join_deadline}"
            )
        return {
            "category": category_id(self.category),
            "initialModel": initial_model,
            "initialCodec": initial_codec,
            "modelSpecHash": bytes.fromhex(self.model.spec_hash()),
            "requestKey": request_key,
            "rounds": self.rounds,
            "joinDeadline": join_deadline,
            "submitDuration": self.submit_window,
            "verdictDuration": self.verdict_window,
            "perRoundReward": self.per_round_reward,
            "rewardUnit": self.reward_unit,
            "minReputation": self.min_reputation,
            "clientMortgage": self.client_mortgage,
            "minMinerStake": self.min_miner_stake,
            "minTotalStake": self.min_total_stake,
            "maxClients": self.max_clients,
            "committeeSize": self.committee_size,
            "byzantineF": self.byzantine_f,
            "policy": self.policy_id,
        }

    def to_toml(self) -> str:
        """A task file that :func:`load_task_file` reads back to an equal :class:`TaskFile`."""
        privacy: dict[str, Any] = {"mechanism": "none"}
        if self.privacy is not None:
            privacy = {"mechanism": self.privacy.mechanism, **self.privacy.params}
        sections: dict[str, dict[str, Any]] = {
            "task": {k: getattr(self, k) for k in _TASK_KEYS},
            "rewards": {"policy": self.policy}
            | {k: format_wei(getattr(self, k)) for k in _REWARD_KEYS[1:]},
            "model": {
                "name": self.model.name,
                "seed": self.model_seed,
                "params": dict(self.model.params),
            },
            "data": {"dataset": self.dataset},
            "training": self.training.to_dict(),
            "privacy": privacy,
            "verification": self.verification.to_dict(),
        }
        if self.request is not None:
            sections["request"] = {"terms": list(self.request.terms)}
            if self.request.release_epsilon is not None:
                sections["request"] |= {
                    "release_epsilon": self.request.release_epsilon,
                    "release_sensitivity": self.request.release_sensitivity,
                }
        lines = ["# FedChain task file (docs/taskfile.md)"]
        for section, values in sections.items():
            lines += ["", f"[{section}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def _read_task(t: Table, *, dataset: str) -> dict[str, Any]:
    max_clients = t.integer("max_clients", 10, lo=1, hi=256)
    return {
        "name": t.text("name", "fedchain-task"),
        "category": t.text("category", dataset),
        "rounds": t.integer("rounds", 5, lo=1, hi=250),
        "max_clients": max_clients,
        "committee_size": t.integer("committee_size", 3, lo=1, hi=16),
        "byzantine_f": t.integer("byzantine_f", 2, lo=0, hi=max_clients - 1),
        "min_reputation": t.integer("min_reputation", 0, lo=0, hi=_UINT16),
        "join_window": t.integer("join_window", 600, lo=1, hi=_UINT32),
        "submit_window": t.integer("submit_window", 120, lo=1, hi=_UINT32),
        "verdict_window": t.integer("verdict_window", 120, lo=1, hi=_UINT32),
    }


def _read_rewards(r: Table, *, rounds: int, max_clients: int, notes: list[str]) -> dict[str, Any]:
    policy = r.text("policy", "reputation", choices=list(POLICIES))
    unit = r.wei("reward_unit", "1 gwei", hi=_UINT128)
    if r.get("per_round_reward", "auto") == "auto":
        per_round = unit * _AUTO_POINTS * max_clients
        if per_round > _UINT128:
            raise r.error(
                "per_round_reward",
                f'"auto" = reward_unit × 100 × {max_clients} does not fit the contract\'s '
                "uint128; lower reward_unit",
            )
    else:
        per_round = r.wei("per_round_reward", None, hi=_UINT128)
    if rounds * per_round > _UINT128:
        raise r.error(
            "per_round_reward", f"the escrow rounds × per_round_reward exceeds {_UINT128} wei"
        )
    points = _POLICY_POINTS.get(policy)
    if points is not None and per_round < unit * points * max_clients:
        least = unit * points * max_clients
        raise r.error(
            "per_round_reward",
            f"{format_wei(per_round)} cannot pay the {policy} policy's maximum of reward_unit × "
            f"{points} × max_clients = {format_wei(least)} per round",
        )
    written = r.wei("client_mortgage", "0.01 ether", lo=1, hi=_UINT88)
    mortgage = _divisible_mortgage(written, rounds)
    if mortgage != written:
        way = "down" if mortgage < written else "up"
        notes.append(
            r.note(
                "client_mortgage",
                f"{format_wei(written)} is not divisible by rounds = {rounds}; rounded {way} to "
                f"{mortgage} wei ({mortgage // rounds} wei per round)",
            )
        )
    return {
        "policy": policy,
        "reward_unit": unit,
        "per_round_reward": per_round,
        "client_mortgage": mortgage,
        "min_miner_stake": r.wei("min_miner_stake", "0.01 ether", lo=1, hi=_UINT88),
        "min_total_stake": r.wei("min_total_stake", "0 wei", hi=_UINT96),
    }


def _divisible_mortgage(mortgage: int, rounds: int) -> int:
    """``mortgage`` rounded down to a multiple of ``rounds`` (up to ``rounds`` when that is 0).

    The contract takes the mortgage only in multiples of ``rounds``: a client forfeits
    ``mortgage / rounds`` per round it missed and gets the rest back, so every locked wei is
    either returned or paid out. Rounding down keeps what a client locks at most what the task
    file says; the difference is under ``rounds`` wei and is never locked, so none is lost.
    """
    below = mortgage - mortgage % rounds
    return below or rounds


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII with \uXXXX escapes: a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TaskFileError(f"cannot write {value!r} ({kind_of(value)}) to TOML")


def load_task_file(path: str | os.PathLike[str]) -> TaskFile:
    """Read and validate a TOML task file.

    Raises:
        TaskFileError: the file is missing or unreadable, not TOML (with tomllib's line and
            column), or its values are invalid (naming the section and key).
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise located_error(source, None, None, "no such file") from None
    except OSError as exc:
        raise located_error(source, None, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise located_error(source, None, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise located_error(source, None, None, f"invalid TOML: {exc}") from None
    return TaskFile.from_dict(data, source=source)


DEFAULT_TASK_TOML: Final = """\
# FedChain task file: the digits demo's recommended settings (docs/taskfile.md).

[task]
name = "digits-demo"          # free text
category = "digits"           # data category; on chain keccak256 of the name
rounds = 5                    # 1..250
max_clients = 10              # 1..256
committee_size = 3            # 1..16 miners per round, leader included
byzantine_f = 2               # 0 <= f < max_clients (Multi-KRUM needs max_clients >= f + 3)
min_reputation = 0            # 0..65535
join_window = 600             # seconds until joining closes and the task starts; a devnet
                              # takes any (20-60 s for local processes), a production
                              # deployment at least 3600
submit_window = 120           # seconds clients have per round
verdict_window = 120          # seconds the committee has after submissions close

[rewards]
policy = "reputation"         # reputation | contribution | data_amount | fixed
reward_unit = "1 gwei"        # wei per reputation point: 12, "12 wei", "1 gwei", "0.01 ether"
per_round_reward = "auto"     # "auto" = reward_unit × 100 × max_clients
client_mortgage = "0.01 ether"  # every client locks this (rounded down to a multiple of rounds)
min_miner_stake = "0.01 ether"
min_total_stake = "0 wei"     # the task starts only once its miners stake this much in all

[model]
name = "cnn_digits"           # a fedchain.learning model
seed = 0                      # seeds the initial weights
params = { norm = "bounded", norm_batch = 16 }

[data]
dataset = "digits"            # digits | mnist: what the clients train on

[training]
epochs = 5
batch_size = 16
lr = 0.05
momentum = 0.5

[privacy]
mechanism = "feature_dp"      # dp_sgd | dp_sgd_laplace | feature_dp | model_laplace | none
epsilon = 2.0                 # every other key is a parameter of the mechanism

[verification]
rule = "multikrum"            # multikrum | fedavg | none (what a committee member can run)
tolerance = 1e-4              # largest |leader's global model - own aggregate| accepted
screen_stale = true           # reject all-zero deltas and exact duplicates before the rule
"""
