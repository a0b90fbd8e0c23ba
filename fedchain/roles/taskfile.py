"""The TOML task file a requester writes, and the manifest that tells participants the rest.

A task file (``task.toml``, see ``docs/taskfile.md``) describes one training task: its shape on
chain (rounds, clients, committee, deadlines), its money (reward policy, escrow, mortgage,
stake) and what the clients train (model, data set, hyper-parameters, privacy) and how the
committee judges (verification rule, tolerance)::

    tf = load_task_file("task.toml")             # TaskFileError names file, section and key
    spec = tf.onchain_spec(initial_model=digest, initial_codec=0x55,
                           join_deadline=chain.timestamp() + tf.join_window)
    deployment.tasks.createTask(spec, sender=requester, value=tf.escrow)
    manifest_json = tf.manifest().to_json()      # travels inside the initial model blob

Everything is checked when the file is read, against the same bounds the contracts enforce
(field widths of ``ITaskTypes.TaskSpec``, ``TaskManager._validateSpec``), the registered models,
DP mechanisms and verification rules: a task file that loads is one ``createTask`` accepts on a
deployment with the default parameters (γmax = 100, h = 5).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any, Final

from eth_utils import keccak

from fedchain.errors import ConfigError
from fedchain.learning import (
    ModelSpec,
    ModelSpecError,
    PrivacyConfig,
    PrivacyConfigError,
    make_spec,
    model_names,
    privacy_mechanisms,
)
from fedchain.learning.data import DATASETS
from fedchain.verification import available_rules

__all__ = [
    "DEFAULT_TASK_TOML",
    "MANIFEST_FORMAT",
    "POLICIES",
    "TaskFile",
    "TaskFileError",
    "TaskManifest",
    "TrainingConfig",
    "VerificationConfig",
    "category_id",
    "format_wei",
    "load_task_file",
    "parse_wei",
]

#: Reward policy names -> the contract's ``RewardPolicy`` enum.
POLICIES: Final = {"reputation": 0, "contribution": 1, "data_amount": 2, "fixed": 3}
#: Version tag of :meth:`TaskManifest.to_json`.
MANIFEST_FORMAT: Final = "fedchain-task/1"

# Reputation points one accepted update earns at most (deploy_fedchain's γmax and h): the
# contract refuses a per-round reward below rewardUnit × points × maxClients for these policies.
_POLICY_POINTS: Final = {"reputation": 100, "fixed": 5}
_AUTO_POINTS: Final = 100  # "auto" per-round reward: rewardUnit × γmax × maxClients
_UINT16: Final = 2**16 - 1
_UINT32: Final = 2**32 - 1
_UINT88: Final = 2**88 - 1
_UINT128: Final = 2**128 - 1
_MAX_SEED: Final = 2**63 - 1
_CODECS: Final = (0x55, 0x70)  # raw, dag-pb: the CID codecs the contract accepts
_WEI_UNITS: Final = {"wei": 0, "gwei": 9, "ether": 18}
_AMOUNT = re.compile(r"[0-9]{1,80}(\.[0-9]{1,80})?")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SECTIONS: Final = ("task", "rewards", "model", "data", "training", "privacy", "verification")
_MISSING: Final[Any] = object()


class TaskFileError(ConfigError):
    """A task file or manifest that cannot be used; the message names the file, section and key,
    e.g. ``task.toml: [rewards] client_mortgage: ...``."""


def _error(source: str | None, section: str | None, key: str | None, problem: str) -> TaskFileError:
    where = " ".join(p for p in (f"[{section}]" if section else None, key) if p)
    parts = [p for p in (source, where) if p]
    return TaskFileError(": ".join([*parts, problem]))


def category_id(name: str) -> bytes:
    """The on-chain id of a data category: keccak256 of its UTF-8 name (32 bytes)."""
    return bytes(keccak(text=name))


# -- wei amounts ------------------------------------------------------------------------------


def _wei(value: Any) -> int:
    """``value`` in wei, or ValueError saying what is wrong (without any prefix)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f'must be an integer number of wei or a string like "0.01 ether", got {_kind(value)}'
        )
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be >= 0, got {value}")
        return value
    parts = value.split()
    if len(parts) not in (1, 2) or not _AMOUNT.fullmatch(parts[0]):
        raise ValueError(
            f'{value!r} is not an amount; write e.g. 12, "12 wei", "1 gwei", "0.01 ether"'
        )
    unit = parts[1].lower() if len(parts) == 2 else "wei"
    if unit not in _WEI_UNITS:
        raise ValueError(f"unknown unit {parts[1]!r} in {value!r}; use wei, gwei or ether")
    with localcontext(Context(prec=200)):
        amount = Decimal(parts[0]).scaleb(_WEI_UNITS[unit])
    if amount != amount.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of wei")
    return int(amount)


def parse_wei(value: int | str, *, what: str) -> int:
    """An amount in wei from ``12``, ``"12"``, ``"12 wei"``, ``"1 gwei"`` or ``"0.01 ether"``.

    Decimals are exact (no float rounding); the result must be a whole, non-negative number of
    wei. ``what`` names the value in the error message.

    Raises:
        TaskFileError: anything else.
    """
    try:
        return _wei(value)
    except ValueError as exc:
        raise TaskFileError(f"{what}: {exc}") from None


def format_wei(value: int) -> str:
    """``value`` wei in the largest readable unit that keeps it exact: ``"0.01 ether"``,
    ``"1 gwei"``, ``"12 wei"`` (what :meth:`TaskFile.to_toml` writes, :func:`parse_wei` reads)."""
    if value == 0 or value % 10**9:
        return f"{value} wei"
    if value < 10**15:
        return f"{value // 10**9} gwei"
    with localcontext(Context(prec=200)):
        ether = Decimal(value).scaleb(-18).normalize()
    return f"{ether:f} ether"


# -- reading tables ---------------------------------------------------------------------------


def _kind(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    if isinstance(value, Mapping):
        return "table"
    return names.get(type(value), type(value).__name__)


class _Table:
    """One section's keys: checks types and ranges, and that no unknown key is present."""

    def __init__(
        self, source: str, section: str | None, data: Any, allowed: tuple[str, ...] | None
    ) -> None:
        self.source, self.section = source, section
        if not isinstance(data, Mapping):
            raise _error(source, section, None, f"must be a table, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        unknown = sorted(set(data) - set(allowed)) if allowed is not None else []
        if unknown:
            allowed_keys = ", ".join(sorted(allowed or ()))
            raise self.error(unknown[0], f"unknown key; allowed: {allowed_keys}")

    def error(self, key: str | None, problem: str) -> TaskFileError:
        return _error(self.source, self.section, key, problem)

    def get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "missing")
        return default

    def integer(self, key: str, default: Any, *, lo: int, hi: int | None = None) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {_kind(value)}")
        if value < lo or (hi is not None and value > hi):
            bound = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise self.error(key, f"must be {bound}, got {value}")
        return value

    def number(
        self,
        key: str,
        default: Any,
        *,
        lo: float,
        lo_open: bool = False,
        below: float | None = None,
    ) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {_kind(value)}")
        v = float(value)
        ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and (below is None or v < below)
        if not ok:
            low = f"> {lo}" if lo_open else f">= {lo}"
            bound = f"finite and {low}" if below is None else f"in [{lo}, {below})"
            raise self.error(key, f"must be {bound}, got {value}")
        return v

    def text(self, key: str, default: Any, *, choices: list[str] | None = None) -> str:
        value = self.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {_kind(value)}")
        if choices is not None and value not in choices:
            raise self.error(key, f"unknown value {value!r}; choose from {', '.join(choices)}")
        if not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def flag(self, key: str, default: Any) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {_kind(value)}")
        return value

    def wei(self, key: str, default: Any, *, lo: int = 0, hi: int) -> int:
        try:
            value = _wei(self.get(key, default))
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        if value < lo:
            raise self.error(key, f"must be at least {format_wei(lo)}, got {format_wei(value)}")
        if value > hi:
            raise self.error(key, f"must be at most {hi} wei (the contract's field width)")
        return value


# -- the parts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingConfig:
    """Local training hyper-parameters every client uses (see ``train_local``)."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float

    @classmethod
    def _read(cls, t: _Table, *, required: bool) -> TrainingConfig:
        def default(value: Any) -> Any:
            return _MISSING if required else value

        return cls(
            epochs=t.integer("epochs", default(5), lo=1),
            batch_size=t.integer("batch_size", default(16), lo=1),
            lr=t.number("lr", default(0.05), lo=0.0, lo_open=True),
            momentum=t.number("momentum", default(0.5), lo=0.0, below=1.0),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "momentum": self.momentum,
        }


@dataclass(frozen=True)
class VerificationConfig:
    """How committee members judge a round.

    Attributes:
        rule: a registered verification rule (``fedchain.verification.available_rules()``).
        tolerance: largest absolute difference allowed between the leader's global model and a
            member's own aggregate before it refuses to attest.
        screen_stale: reject updates equal to the global model (an all-zero delta) and exact
            duplicates before the rule runs.
    """

    rule: str
    tolerance: float
    screen_stale: bool

    @classmethod
    def _read(cls, t: _Table, *, required: bool) -> VerificationConfig:
        def default(value: Any) -> Any:
            return _MISSING if required else value

        return cls(
            rule=t.text("rule", default("multikrum"), choices=available_rules()),
            tolerance=t.number("tolerance", default(1e-4), lo=0.0),
            screen_stale=t.flag("screen_stale", default(True)),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"rule": self.rule, "tolerance": self.tolerance, "screen_stale": self.screen_stale}


_TRAINING_KEYS: Final = ("epochs", "batch_size", "lr", "momentum")
_VERIFICATION_KEYS: Final = ("rule", "tolerance", "screen_stale")
_DEFAULT_PRIVACY_PARAMS: Final = {"feature_dp": {"epsilon": 2.0}}


def _model_spec(t: _Table, name: str, params: Any) -> ModelSpec:
    if name not in model_names():
        raise t.error("name", f"unknown model {name!r}; known: {', '.join(model_names())}")
    if not isinstance(params, Mapping):
        raise t.error("params", f"must be a table, got {_kind(params)}")
    try:
        return make_spec(name, **params)
    except ModelSpecError as exc:
        raise t.error("params", str(exc)) from None


def _privacy(t: _Table, mechanism: str, params: Mapping[str, Any]) -> PrivacyConfig | None:
    known = privacy_mechanisms()
    if mechanism == "none":
        if params:
            raise t.error("mechanism", f'"none" takes no parameters, got {", ".join(params)}')
        return None
    if mechanism not in known:
        raise t.error(
            "mechanism", f"unknown mechanism {mechanism!r}; known: {', '.join(known)}, none"
        )
    try:
        return PrivacyConfig.create(mechanism, **params)
    except PrivacyConfigError as exc:
        raise t.error(None, f"{mechanism} parameters: {exc}") from None


# -- the manifest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskManifest:
    """What participants need besides the chain: model, data set, training, privacy, verification.

    It travels as JSON (:meth:`to_json`) in the initial model blob's metadata; the hash of
    ``model`` is on chain as the task's ``modelSpecHash``.
    """

    name: str
    category: str
    dataset: str
    model: ModelSpec
    training: TrainingConfig
    privacy: PrivacyConfig | None
    verification: VerificationConfig

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces."""
        data = {
            "format": MANIFEST_FORMAT,
            "name": self.name,
            "category": self.category,
            "dataset": self.dataset,
            "model": self.model.to_dict(),
            "training": self.training.to_dict(),
            "privacy": None if self.privacy is None else self.privacy.to_dict(),
            "verification": self.verification.to_dict(),
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> TaskManifest:
        """Parse and validate :meth:`to_json`'s output.

        Raises:
            TaskFileError: not JSON, another format, missing or unknown fields, bad values.
        """
        source = "task manifest"
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise _error(source, None, None, f"not valid JSON: {exc}") from None
        keys = ("format", "name", "category", "dataset", "model", "training", "privacy",
                "verification")  # fmt: skip
        top = _Table(source, None, data, keys)
        found = top.get("format", _MISSING)
        if found != MANIFEST_FORMAT:
            raise top.error("format", f"expected {MANIFEST_FORMAT!r}, got {found!r}")
        model = _Table(source, "model", top.get("model", _MISSING), ("name", "params"))
        params = model.get("params", _MISSING)
        _model_spec(model, model.text("name", _MISSING), params)  # resolvable here
        spec = ModelSpec(model.data["name"], params)  # as published: its hash is on chain
        privacy = top.get("privacy", _MISSING)
        if privacy is not None:
            p = _Table(source, "privacy", privacy, ("mechanism", "params"))
            mechanism = p.text("mechanism", _MISSING)
            if mechanism == "none":
                raise p.error("mechanism", 'no privacy is written as null, not "none"')
            dp_params = p.get("params", _MISSING)
            if not isinstance(dp_params, Mapping):
                raise p.error("params", f"must be an object, got {_kind(dp_params)}")
            privacy = _privacy(p, mechanism, dp_params)
        return cls(
            name=top.text("name", _MISSING),
            category=top.text("category", _MISSING),
            dataset=top.text("dataset", _MISSING, choices=sorted(DATASETS)),
            model=spec,
            training=TrainingConfig._read(
                _Table(source, "training", top.get("training", _MISSING), _TRAINING_KEYS),
                required=True,
            ),
            privacy=privacy,
            verification=VerificationConfig._read(
                _Table(
                    source, "verification", top.get("verification", _MISSING), _VERIFICATION_KEYS
                ),
                required=True,
            ),
        )


# -- the task file ----------------------------------------------------------------------------

_TASK_KEYS: Final = (
    "name", "category", "rounds", "max_clients", "committee_size", "byzantine_f",
    "min_reputation", "join_window", "submit_window", "verdict_window",
)  # fmt: skip
_REWARD_KEYS: Final = (
    "policy", "reward_unit", "per_round_reward", "client_mortgage", "min_miner_stake"
)  # fmt: skip


@dataclass(frozen=True)
class TaskFile:
    """A validated task file. Build it with :func:`load_task_file` or :meth:`from_dict`.

    Amounts are in wei; windows in seconds. See ``docs/taskfile.md`` for every key.
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
    model: ModelSpec
    model_seed: int
    dataset: str
    training: TrainingConfig
    privacy: PrivacyConfig | None
    verification: VerificationConfig

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "task file") -> TaskFile:
        """Validate a parsed task file (``tomllib`` output); ``source`` prefixes error messages.

        Raises:
            TaskFileError: a missing ``[task]``, unknown sections or keys, wrong types, values out
                of range, amounts the contract would refuse, unknown models, DP mechanisms or
                verification rules.
        """
        if not isinstance(data, Mapping):
            raise _error(source, None, None, f"must be a table, got {_kind(data)}")
        for name in sorted(set(data) - set(_SECTIONS)):
            allowed = ", ".join(f"[{s}]" for s in _SECTIONS)
            raise _error(source, name, None, f"unknown section; allowed: {allowed}")
        if "task" not in data:
            raise _error(source, "task", None, "missing (every task file needs a [task] section)")
        t = _Table(source, "task", data["task"], _TASK_KEYS)
        ds = _Table(source, "data", data.get("data", {}), ("dataset",))
        dataset = ds.text("dataset", "digits", choices=sorted(DATASETS))
        task = _read_task(t, dataset=dataset)
        v = _Table(source, "verification", data.get("verification", {}), _VERIFICATION_KEYS)
        verification = VerificationConfig._read(v, required=False)
        f, n = task["byzantine_f"], task["max_clients"]
        if verification.rule == "multikrum" and n < f + 3:
            raise t.error(
                "byzantine_f",
                f"{f} leaves Multi-KRUM no majority: it needs max_clients >= byzantine_f + 3 = "
                f"{f + 3}, got {n}",
            )
        m = _Table(source, "model", data.get("model", {}), ("name", "seed", "params"))
        r = _Table(source, "rewards", data.get("rewards", {}), _REWARD_KEYS)
        tr = _Table(source, "training", data.get("training", {}), _TRAINING_KEYS)
        return cls(
            **task,
            **_read_rewards(r, rounds=task["rounds"], max_clients=n),
            model=_model_spec(m, m.text("name", "cnn_digits"), m.get("params", {})),
            model_seed=m.integer("seed", 0, lo=0, hi=_MAX_SEED),
            dataset=dataset,
            training=TrainingConfig._read(tr, required=False),
            privacy=_read_privacy(_Table(source, "privacy", data.get("privacy", {}), None)),
            verification=verification,
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
        lines = ["# FedChain task file (docs/taskfile.md)"]
        for section, values in sections.items():
            lines += ["", f"[{section}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"


def _read_task(t: _Table, *, dataset: str) -> dict[str, Any]:
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


def _read_privacy(p: _Table) -> PrivacyConfig | None:
    mechanism = p.text("mechanism", "feature_dp")
    given = {k: v for k, v in p.data.items() if k != "mechanism"}
    return _privacy(p, mechanism, {**_DEFAULT_PRIVACY_PARAMS.get(mechanism, {}), **given})


def _read_rewards(r: _Table, *, rounds: int, max_clients: int) -> dict[str, Any]:
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
    mortgage = r.wei("client_mortgage", "0.01 ether", lo=1, hi=_UINT88)
    if mortgage % rounds:
        below = mortgage - mortgage % rounds
        closest = below if below and 2 * (mortgage % rounds) < rounds else below + rounds
        raise r.error(
            "client_mortgage",
            f"{mortgage} wei is not divisible by rounds = {rounds} (the contract returns it in "
            f"equal parts per round); the closest multiple is {closest} wei",
        )
    return {
        "policy": policy,
        "reward_unit": unit,
        "per_round_reward": per_round,
        "client_mortgage": mortgage,
        "min_miner_stake": r.wei("min_miner_stake", "0.01 ether", lo=1, hi=_UINT88),
    }


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
    raise TaskFileError(f"cannot write {value!r} ({_kind(value)}) to TOML")


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
        raise _error(source, None, None, "no such file") from None
    except OSError as exc:
        raise _error(source, None, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _error(source, None, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise _error(source, None, None, f"invalid TOML: {exc}") from None
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
join_window = 600             # seconds from creation until joining closes
submit_window = 120           # seconds clients have per round
verdict_window = 120          # seconds the committee has after submissions close

[rewards]
policy = "reputation"         # reputation | contribution | data_amount | fixed
reward_unit = "1 gwei"        # wei per reputation point: 12, "12 wei", "1 gwei", "0.01 ether"
per_round_reward = "auto"     # "auto" = reward_unit × 100 × max_clients
client_mortgage = "0.01 ether"  # every client locks this; divisible by rounds
min_miner_stake = "0.01 ether"

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
rule = "multikrum"            # fedavg | multikrum | mutual_validation | none
tolerance = 1e-4              # largest |leader's global model - own aggregate| accepted
screen_stale = true           # reject all-zero deltas and exact duplicates before the rule
"""
