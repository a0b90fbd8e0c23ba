"""Simulated adversarial client behaviours (M15), composable and named in a registry.

A :class:`Behaviour` can act at three points of a client's round:

- :meth:`Behaviour.before_training` — on the local data (label flipping);
- :meth:`Behaviour.after_training` — on the model update Δ = local − global as a flat float32
  vector (sign flip, scaling, Gaussian noise, free-riding, copying, colluding);
- :meth:`Behaviour.submits` — whether the client submits at all this round (dropouts).

:meth:`Behaviour.at_round` resolves a schedule (:class:`Scheduled`: honest until round 4, then
sign-flip) into the behaviour of one round; a client calls it before the hooks. A behaviour with
``copies_peers`` (the copycat) is handed the round's peer updates, fetched from the store.

Every hook takes a seeded ``numpy.random.Generator`` from the caller, so attacks are
reproducible. :func:`compose` chains behaviours; :func:`make_behaviour` builds one by name,
so a task file can say ``{"name": "sign_flip", "params": {"scale": 4}}``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from fedchain.learning.errors import AttackConfigError
from fedchain.registry import Registry

__all__ = [
    "BEHAVIOURS",
    "AttackContext",
    "Behaviour",
    "Collude",
    "Composite",
    "Copycat",
    "DishonestScores",
    "Dropout",
    "FreeRider",
    "GaussianNoise",
    "Honest",
    "LabelFlip",
    "Scale",
    "Scheduled",
    "SignFlip",
    "behaviour_from_dict",
    "behaviour_names",
    "compose",
    "make_behaviour",
    "register_behaviour",
]

B = TypeVar("B", bound="type[Behaviour]")
#: The registered client behaviours (see :func:`register_behaviour`).
BEHAVIOURS: Registry[Any] = Registry("behaviour", error=AttackConfigError)


@dataclass(frozen=True)
class AttackContext:
    """What a client knows when it crafts its update.

    Attributes:
        round: the round number.
        global_vector: the flat global model of this round (float32).
        peer_updates: flat updates of other clients the attacker can see (for copycats), e.g.
            those already published this round or last round.
    """

    round: int
    global_vector: np.ndarray
    peer_updates: Sequence[np.ndarray] = field(default_factory=tuple)


class Behaviour:
    """An honest client; subclasses override the hooks they attack through."""

    name: ClassVar[str] = "honest"
    #: ``False`` when the client need not train at all (free-riders, colluders).
    trains: ClassVar[bool] = True
    #: ``True`` when the behaviour needs ``AttackContext.peer_updates`` (a copycat): the client
    #: waits for a peer's update of the round and hands it over.
    copies_peers: ClassVar[bool] = False

    @property
    def honest(self) -> bool:
        """Whether this behaviour never attacks (in any round)."""
        return self.name == "honest"

    def describe(self) -> str:
        """A short name for reports: ``sign_flip``, ``label_flip+scale``, ``sign_flip@4-``."""
        return self.name

    def at_round(self, round: int) -> Behaviour:
        """The behaviour in force in ``round`` (itself unless scheduled)."""
        return self

    def before_training(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Transform the local data before training (default: unchanged)."""
        return x, y

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        """Transform the flat update Δ before it is submitted (default: unchanged)."""
        return update

    def submits(self, round: int, rng: np.random.Generator) -> bool:
        """Whether the client submits in ``round`` (default: always)."""
        return True

    def report_scores(
        self, scores: np.ndarray, scorable: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """The scores (basis points, one per client; ``scorable`` marks the peers' submitted
        models, the others must stay 0) a validator of mutual supervision posts, from the ones
        it measured (default: as measured)."""
        return scores

    def params(self) -> dict[str, Any]:
        """The behaviour's parameters."""
        if not is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}``, the inverse of :func:`behaviour_from_dict`."""
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params().items()}
        return {"name": self.name, "params": params}


def register_behaviour(name: str) -> Callable[[B], B]:
    """Class decorator: register a :class:`Behaviour` subclass under ``name``."""
    return BEHAVIOURS.register(name)


def behaviour_names() -> list[str]:
    """Names of the registered behaviours."""
    return BEHAVIOURS.names()


def make_behaviour(name: str, **params: Any) -> Behaviour:
    """Build a registered behaviour: ``make_behaviour("sign_flip", scale=2.0)``."""
    behaviour: Behaviour = BEHAVIOURS.build(name, **params)
    return behaviour


def behaviour_from_dict(data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Behaviour:
    """Build from ``{"name": ..., "params": {...}}`` or a list of them (composed in order).

    A dict may also schedule the behaviour with ``from_round``, ``until_round`` or ``rounds``
    (:class:`Scheduled`): ``{"name": "sign_flip", "from_round": 4}``.
    """
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return compose(*(behaviour_from_dict(d) for d in data))
    if not isinstance(data, Mapping) or "name" not in data:
        raise AttackConfigError("a behaviour needs a 'name' (and optional 'params')")
    unknown = set(data) - {"name", "params", *SCHEDULE_KEYS}
    if unknown:
        raise AttackConfigError(
            f"unknown key(s) {sorted(unknown)} in behaviour {data['name']!r}: use name, params, "
            "from_round, until_round, rounds"
        )
    if data["name"] == "composite":
        built = behaviour_from_dict(list((data.get("params") or {}).get("parts", [])))
    else:
        built = make_behaviour(str(data["name"]), **dict(data.get("params") or {}))
    schedule = {k: data[k] for k in SCHEDULE_KEYS if data.get(k) is not None}
    return Scheduled(built, **schedule) if schedule else built


def _finite(name: str, value: Any, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise AttackConfigError(f"{name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise AttackConfigError(f"{name} must be > 0, got {value!r}")
    if nonneg and not value >= 0:
        raise AttackConfigError(f"{name} must be ≥ 0, got {value!r}")
    return float(value)


def _as_f32(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


@register_behaviour("honest")
@dataclass(frozen=True)
class Honest(Behaviour):
    """Follows the protocol."""


@register_behaviour("label_flip")
@dataclass(frozen=True)
class LabelFlip(Behaviour):
    """Data poisoning: relabel y → num_classes − 1 − y (or through ``mapping``).

    Args:
        num_classes: number of classes (default 10).
        fraction: share of the local samples flipped, chosen at random (default 1.0).
        mapping: explicit ``{source: target}`` relabelling instead of the reversal.
    """

    num_classes: int = 10
    fraction: float = 1.0
    mapping: Mapping[int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise AttackConfigError(f"num_classes must be an integer ≥ 2, got {self.num_classes!r}")
        frac = _finite("fraction", self.fraction)
        if not 0 <= frac <= 1:
            raise AttackConfigError(f"fraction must lie in [0, 1], got {self.fraction!r}")
        if self.mapping is not None:
            m = {int(k): int(v) for k, v in dict(self.mapping).items()}
            if any(not 0 <= c < self.num_classes for c in (*m, *m.values())):
                raise AttackConfigError(f"mapping classes must lie in [0, {self.num_classes})")
            object.__setattr__(self, "mapping", m)

    def _relabel(self, y: np.ndarray) -> np.ndarray:
        if self.mapping is None:
            return self.num_classes - 1 - y
        out = y.copy()
        for src, dst in self.mapping.items():
            out[y == src] = dst
        return out

    def before_training(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y)
        chosen = rng.random(len(y)) < self.fraction if self.fraction < 1 else np.ones(len(y), bool)
        out = y.copy()
        out[chosen] = self._relabel(y[chosen])
        return x, out

    def params(self) -> dict[str, Any]:
        p = super().params()
        if p["mapping"] is not None:
            p["mapping"] = {str(k): v for k, v in p["mapping"].items()}
        return p


@register_behaviour("sign_flip")
@dataclass(frozen=True)
class SignFlip(Behaviour):
    """Model poisoning: submit −scale · Δ."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        _finite("scale", self.scale, positive=True)

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        return _as_f32(-self.scale * _as_f32(update))


@register_behaviour("scale")
@dataclass(frozen=True)
class Scale(Behaviour):
    """Boosted update: submit scale · Δ (e.g. 10 to dominate the average)."""

    scale: float = 10.0

    def __post_init__(self) -> None:
        _finite("scale", self.scale)

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        return _as_f32(self.scale * _as_f32(update))


@register_behaviour("dishonest_scores")
@dataclass(frozen=True)
class DishonestScores(Behaviour):
    """A validator of mutual supervision (003) that trains honestly but posts inverted scores
    (10,000 − what it measured, for every model it scores): it praises poor models and runs
    down good ones. The audit flags it (its scores sit far from the other validators'
    median); the sum over all validators still ranks a poisoned model last."""

    def report_scores(
        self, scores: np.ndarray, scorable: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        out = np.asarray(scores, dtype=np.int64).copy()
        out[scorable] = 10_000 - out[scorable]
        return out


@register_behaviour("gaussian_noise")
@dataclass(frozen=True)
class GaussianNoise(Behaviour):
    """Noise attack: Δ + N(0, std²) (``replace=True``: N(0, std²) alone, no training)."""

    std: float = 1.0
    replace: bool = False

    def __post_init__(self) -> None:
        _finite("std", self.std, nonneg=True)

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        u = _as_f32(update)
        noise = rng.normal(0.0, self.std, size=u.shape).astype(np.float32)
        return noise if self.replace else u + noise


@register_behaviour("free_rider")
@dataclass(frozen=True)
class FreeRider(Behaviour):
    """Lazy node: resubmits the global model (Δ = 0), optionally with tiny noise to disguise it."""

    trains: ClassVar[bool] = False
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        _finite("noise_std", self.noise_std, nonneg=True)

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        zero = np.zeros(np.shape(update), dtype=np.float32)
        if self.noise_std == 0:
            return zero
        return zero + rng.normal(0.0, self.noise_std, size=zero.shape).astype(np.float32)


@register_behaviour("copycat")
@dataclass(frozen=True)
class Copycat(Behaviour):
    """Lazy node: submits a copy of another client's update from ``context.peer_updates``.

    A client with this behaviour waits until a peer has submitted in the round, fetches the
    peers' updates from the store (in submission order) and copies one; an exact copy publishes
    the peer's tensors themselves.

    Args:
        index: which peer update to copy (``None``: one at random).
        noise_std: Gaussian noise added to the copy to disguise it (default 0: exact copy).

    With no peer update visible it behaves like a free-rider (Δ = 0).
    """

    trains: ClassVar[bool] = False
    copies_peers: ClassVar[bool] = True
    index: int | None = None
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        _finite("noise_std", self.noise_std, nonneg=True)
        if self.index is not None and (not isinstance(self.index, int) or self.index < 0):
            raise AttackConfigError(f"index must be a non-negative integer, got {self.index!r}")

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        peers = list(context.peer_updates)
        if not peers:
            copied = np.zeros(np.shape(update), dtype=np.float32)
        else:
            i = self.index if self.index is not None else int(rng.integers(len(peers)))
            if i >= len(peers):
                raise AttackConfigError(f"copycat index {i} but only {len(peers)} peer updates")
            copied = _as_f32(peers[i]).copy()
        if self.noise_std:
            copied = copied + rng.normal(0.0, self.noise_std, size=copied.shape).astype(np.float32)
        return copied


@register_behaviour("dropout")
@dataclass(frozen=True)
class Dropout(Behaviour):
    """Temporary exits: skips the listed ``rounds``, and any round with ``probability``."""

    rounds: tuple[int, ...] = ()
    probability: float = 0.0

    def __post_init__(self) -> None:
        p = _finite("probability", self.probability)
        if not 0 <= p <= 1:
            raise AttackConfigError(f"probability must lie in [0, 1], got {self.probability!r}")
        try:
            object.__setattr__(self, "rounds", tuple(sorted({int(r) for r in self.rounds})))
        except (TypeError, ValueError) as exc:
            raise AttackConfigError(f"rounds must be a list of integers: {exc}") from exc

    def submits(self, round: int, rng: np.random.Generator) -> bool:
        draw = rng.random()  # always drawn, so the stream does not depend on ``rounds``
        return round not in self.rounds and not draw < self.probability


@register_behaviour("collude")
@dataclass(frozen=True)
class Collude(Behaviour):
    """A colluding group submits one identical crafted update, with no communication needed.

    Every member derives the same vector from public information (the round's global model) and
    the group's shared secret ``group``:

    - ``mode="shrink"``: Δ = −scale · global (drags the model towards zero);
    - ``mode="noise"``: Δ = N(0, std²) drawn from a generator seeded by sha256(group, round).

    Identical updates are at distance 0 from each other, which is what lets a large enough group
    pass distance-based filters such as Multi-KRUM.
    """

    trains: ClassVar[bool] = False
    group: str = "colluders"
    mode: str = "shrink"
    scale: float = 1.0
    std: float = 0.01

    def __post_init__(self) -> None:
        if self.mode not in ("shrink", "noise"):
            raise AttackConfigError(f"mode must be 'shrink' or 'noise', got {self.mode!r}")
        _finite("scale", self.scale)
        _finite("std", self.std, nonneg=True)

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        g = _as_f32(context.global_vector)
        if g.shape != np.shape(update):
            raise AttackConfigError("context.global_vector and the update differ in shape")
        if self.mode == "shrink":
            return _as_f32(-self.scale * g)
        digest = hashlib.sha256(f"{self.group}\x00{context.round}".encode()).digest()
        shared = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        return shared.normal(0.0, self.std, size=g.shape).astype(np.float32)


@dataclass(frozen=True, init=False)
class Composite(Behaviour):
    """Behaviours applied in order (data hooks and update hooks chained, submits = all)."""

    name: ClassVar[str] = "composite"
    parts: tuple[Behaviour, ...]

    def __init__(self, *parts: Behaviour) -> None:
        for p in parts:
            if not isinstance(p, Behaviour):
                raise AttackConfigError(f"compose() takes behaviours, got {type(p).__name__}")
        object.__setattr__(self, "parts", tuple(parts))

    @property
    def trains(self) -> bool:  # type: ignore[override]
        return all(p.trains for p in self.parts)

    @property
    def copies_peers(self) -> bool:  # type: ignore[override]
        return any(p.copies_peers for p in self.parts)

    @property
    def honest(self) -> bool:
        return all(p.honest for p in self.parts)

    def describe(self) -> str:
        return "+".join(p.describe() for p in self.parts if not p.honest) or "honest"

    def at_round(self, round: int) -> Behaviour:
        active = [b for b in (p.at_round(round) for p in self.parts) if not b.honest]
        return compose(*active) if active else Honest()

    def before_training(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        for p in self.parts:
            x, y = p.before_training(x, y, rng)
        return x, y

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        for p in self.parts:
            update = p.after_training(update, context, rng)
        return update

    def submits(self, round: int, rng: np.random.Generator) -> bool:
        results = [p.submits(round, rng) for p in self.parts]  # every part draws
        return all(results)

    def report_scores(
        self, scores: np.ndarray, scorable: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        for p in self.parts:
            scores = p.report_scores(scores, scorable, rng)
        return scores

    def to_dict(self) -> dict[str, Any]:
        return {"name": "composite", "params": {"parts": [p.to_dict() for p in self.parts]}}


@dataclass(frozen=True)
class Scheduled(Behaviour):
    """``inner`` in the rounds of a schedule, honest in the others (004 Fig. 11-12: honest until
    round 4, then poisoning).

    Args:
        inner: the behaviour while the schedule is active.
        from_round: the first active round (default 0).
        until_round: the last active round, inclusive (default: no end).
        rounds: an explicit list of active rounds instead of the range.

    A client resolves the round with :meth:`at_round` before it calls the hooks; the hooks
    themselves follow the schedule where they know the round (``after_training`` and
    ``submits``).
    """

    name: ClassVar[str] = "scheduled"
    inner: Behaviour
    from_round: int = 0
    until_round: int | None = None
    rounds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.inner, Behaviour):
            raise AttackConfigError("a schedule needs a behaviour to schedule")
        for label, value in (("from_round", self.from_round), ("until_round", self.until_round)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):  # fmt: skip
                raise AttackConfigError(f"{label} must be a non-negative integer, got {value!r}")
        if self.until_round is not None and self.until_round < self.from_round:
            raise AttackConfigError(
                f"until_round {self.until_round} comes before from_round {self.from_round}"
            )
        if self.rounds is not None:
            try:
                chosen = tuple(sorted({int(r) for r in self.rounds}))
            except (TypeError, ValueError) as exc:
                raise AttackConfigError(f"rounds must be a list of integers: {exc}") from exc
            if any(r < 0 for r in chosen):
                raise AttackConfigError(f"rounds must be non-negative, got {list(chosen)}")
            object.__setattr__(self, "rounds", chosen)

    def active(self, round: int) -> bool:
        """Whether ``inner`` acts in ``round``."""
        if self.rounds is not None:
            return round in self.rounds
        return round >= self.from_round and (self.until_round is None or round <= self.until_round)

    @property
    def honest(self) -> bool:
        return self.inner.honest

    @property
    def copies_peers(self) -> bool:  # type: ignore[override]
        return self.inner.copies_peers

    def describe(self) -> str:
        if self.rounds is not None:
            when = ",".join(str(r) for r in self.rounds)
        else:
            end = "" if self.until_round is None else str(self.until_round)
            when = f"{self.from_round}-{end}"
        return f"{self.inner.describe()}@{when}"

    def at_round(self, round: int) -> Behaviour:
        return self.inner.at_round(round) if self.active(round) else Honest()

    def before_training(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.before_training(x, y, rng)

    def after_training(
        self, update: np.ndarray, context: AttackContext, rng: np.random.Generator
    ) -> np.ndarray:
        return self.at_round(context.round).after_training(update, context, rng)

    def submits(self, round: int, rng: np.random.Generator) -> bool:
        return self.at_round(round).submits(round, rng)

    def to_dict(self) -> dict[str, Any]:
        out = self.inner.to_dict()
        if self.rounds is not None:
            out["rounds"] = list(self.rounds)
        else:
            out["from_round"] = self.from_round
            if self.until_round is not None:
                out["until_round"] = self.until_round
        return out


#: The keys of a behaviour's dict that schedule it (see :class:`Scheduled`).
SCHEDULE_KEYS = ("from_round", "until_round", "rounds")


def compose(*behaviours: Behaviour) -> Behaviour:
    """Chain behaviours: ``compose(make_behaviour("label_flip"), make_behaviour("scale"))``."""
    if len(behaviours) == 1:
        return behaviours[0]
    return Composite(*behaviours)
