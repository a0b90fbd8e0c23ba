"""Python mirror of the on-chain reputation, reward and penalty rules (M9, M10, M11).

The contracts are the source of truth for money; these pure functions let the simulator and the
auditor recompute every number, and tests hold both to the same values. Amounts are integers
(wei); every money-related argument is keyword-only. Exact rational versions (``*_exact``)
state the papers' formulas without rounding. ``docs/incentives.md`` explains each reading.

- M9 reputation (004 eq. 2): :func:`next_reputation`, :func:`reputation_trajectory`; the
  registry's per-requester score: :func:`reputation_delta`, :func:`scoped_reputation`.
- M10 rewards: a registry of per-round policies (:func:`round_payout`): ``"reputation"`` (004),
  ``"fixed"`` (004's "no incentive" baseline), ``"contribution"`` (002 eq. 10-11),
  ``"data_amount"`` (000); credits accumulate as ``C = C_base + C_obtain`` (002 eq. 12).
- M11 mortgage-penalty (002 eq. 1-3): :func:`punishment`, :func:`settle_penalties`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from fedchain.errors import ConfigError

__all__ = [
    "BPS",
    "CreditSplit",
    "IncentiveError",
    "PenaltySettlement",
    "RoundPayout",
    "available_reward_policies",
    "credit_split",
    "credit_split_exact",
    "data_amount_bps",
    "fixed_rewards",
    "get_reward_policy",
    "next_reputation",
    "penalty_coefficient",
    "punishment",
    "punishment_exact",
    "register_reward_policy",
    "reputation_delta",
    "reputation_rewards",
    "reputation_trajectory",
    "round_payout",
    "scoped_reputation",
    "settle_penalties",
    "settle_penalties_exact",
    "slashed_stake",
    "update_credits",
]

#: Basis points in one whole.
BPS = 10_000


class IncentiveError(ConfigError):
    """Invalid inputs to a reputation, reward or penalty rule."""


def _int(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise IncentiveError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise IncentiveError(f"{name} must be >= {minimum}, got {value}")
    return value


# --- M9: reputation ---------------------------------------------------------------------------


def next_reputation(gamma: int, accepted: bool, *, h: int, gamma_max: int) -> int:
    """Reputation after one evaluation (004 eq. 2, MISSION M9).

    ``γ < h → γ + 1`` whatever the evaluation (the paper prints the last case as ``γ < h + 1``,
    which would overlap the ``a = L, γ = h → 0`` case; we read it as ``γ < h``, so a client
    below the threshold climbs back by one per round even when rejected);
    ``a = H, γ ≥ h → min(γmax, γ + 1)``; ``a = L, γ = h → 0``; ``a = L, γ ≥ h + 1 → γ − 1``.
    """
    gamma_max = _int("gamma_max", gamma_max)
    h = _int("h", h)
    gamma = _int("gamma", gamma)
    if h > gamma_max or gamma > gamma_max:
        raise IncentiveError(f"need h <= gamma_max and gamma <= gamma_max ({h}, {gamma})")
    if gamma < h:
        return gamma + 1
    if accepted:
        return min(gamma_max, gamma + 1)
    if gamma == h:
        return 0
    return gamma - 1


def reputation_trajectory(
    initial: int, verdicts: Sequence[bool], *, h: int, gamma_max: int
) -> list[int]:
    """Reputations ``[γ_0, γ_1, …]``: ``γ_0 = initial``, then one step per verdict (True = H)."""
    out = [_int("initial", initial)]
    for accepted in verdicts:
        out.append(next_reputation(out[-1], bool(accepted), h=h, gamma_max=gamma_max))
    return out


def reputation_delta(initial: int, verdicts: Sequence[bool], *, h: int, gamma_max: int) -> int:
    """A settled task's net reputation change: the end of its M9 trajectory from the reputation
    at join, minus that reputation (what the registry adds to the requester-scoped score)."""
    return reputation_trajectory(initial, verdicts, h=h, gamma_max=gamma_max)[-1] - initial


def scoped_reputation(deltas: Sequence[int], *, h: int, gamma_max: int) -> int:
    """A participant's reputation with one requester, as the registry's ``reputationOf``:
    ``clamp(h + Σ deltas, 0, γmax)`` over the :func:`reputation_delta` of every task of that
    requester settled so far (``[]``: ``h``, a newcomer's reputation).

    The sum is clamped only when read, so the order in which tasks settle does not change the
    result (L-1), and one requester's tasks never move the reputation another requester sees
    (H-2: reputation farmed in self-made tasks buys nothing elsewhere).
    """
    gamma_max = _int("gamma_max", gamma_max)
    h = _int("h", h)
    if h > gamma_max:
        raise IncentiveError(f"need h <= gamma_max ({h}, {gamma_max})")
    total = h
    for d in deltas:
        if isinstance(d, bool) or not isinstance(d, int):
            raise IncentiveError(f"a reputation delta must be an integer, got {d!r}")
        total += d
    return min(gamma_max, max(0, total))


def reputation_rewards(
    initial: int, verdicts: Sequence[bool], *, h: int, gamma_max: int, unit: int = 1
) -> list[int]:
    """Per-round rewards of the reputation policy: ``γ_before × unit`` if accepted, else 0."""
    gammas = reputation_trajectory(initial, verdicts, h=h, gamma_max=gamma_max)
    unit = _int("unit", unit)
    return [g * unit if ok else 0 for g, ok in zip(gammas, verdicts, strict=False)]


def fixed_rewards(
    verdicts: Sequence[bool], *, amount: int, pay_rejected: bool = False
) -> list[int]:
    """The "no incentive" baseline: ``amount`` per round.

    004 Fig. 11 pays it "regardless of poisoning updates" (``pay_rejected=True``); the contract's
    ``Fixed`` policy pays accepted updates only (the default here).
    """
    amount = _int("amount", amount)
    return [amount if (ok or pay_rejected) else 0 for ok in verdicts]


# --- M10: rewards -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundPayout:
    """One round's rewards: ``clients[i]`` wei to client i, ``leader`` wei to the round leader."""

    clients: list[int]
    leader: int = 0

    @property
    def total(self) -> int:
        """Everything paid out this round."""
        return sum(self.clients) + self.leader


RewardPolicyFn = Callable[..., RoundPayout]
_POLICIES: dict[str, RewardPolicyFn] = {}


def register_reward_policy(name: str) -> Callable[[RewardPolicyFn], RewardPolicyFn]:
    """Decorator registering a per-round reward policy under ``name``."""

    def deco(fn: RewardPolicyFn) -> RewardPolicyFn:
        _POLICIES[name] = fn
        return fn

    return deco


def get_reward_policy(name: str) -> RewardPolicyFn:
    """The reward policy registered under ``name``."""
    try:
        return _POLICIES[name]
    except KeyError:
        known = ", ".join(sorted(_POLICIES))
        raise IncentiveError(f"unknown reward policy {name!r}; known: {known}") from None


def available_reward_policies() -> list[str]:
    """Names of the registered reward policies, sorted."""
    return sorted(_POLICIES)


def round_payout(policy: str, *, accepted: Sequence[bool], **params: Any) -> RoundPayout:
    """Rewards of one round under the named policy (see each policy for its parameters)."""
    return get_reward_policy(policy)(accepted=list(accepted), **params)


def _check_bps(weights_bps: Sequence[int], accepted: Sequence[bool]) -> list[int]:
    if len(weights_bps) != len(accepted):
        raise IncentiveError(f"{len(weights_bps)} weights for {len(accepted)} clients")
    w = [_int("weight", x) for x in weights_bps]
    if sum(w) > BPS:
        raise IncentiveError(f"weights sum to {sum(w)} > {BPS} basis points")
    if any(x and not ok for x, ok in zip(w, accepted, strict=True)):
        raise IncentiveError("a rejected update cannot carry a weight")
    return w


@register_reward_policy("reputation")
def _reputation_policy(
    *, accepted: Sequence[bool], reputations: Sequence[int], reward_unit: int, **_: Any
) -> RoundPayout:
    """004: an accepted update earns its owner's reputation *before* this round × unit."""
    unit = _int("reward_unit", reward_unit)
    if len(reputations) != len(accepted):
        raise IncentiveError("one reputation per client")
    return RoundPayout([_int("reputation", g) * unit if ok else 0 for g, ok in
                        zip(reputations, accepted, strict=True)])  # fmt: skip


@register_reward_policy("fixed")
def _fixed_policy(
    *,
    accepted: Sequence[bool],
    threshold: int,
    reward_unit: int,
    pay_rejected: bool = False,
    **_: Any,
) -> RoundPayout:
    """The baseline: ``h × unit`` per accepted update (per update with ``pay_rejected``)."""
    amount = _int("threshold", threshold) * _int("reward_unit", reward_unit)
    return RoundPayout(fixed_rewards(accepted, amount=amount, pay_rejected=pay_rejected))


@register_reward_policy("contribution")
def _contribution_policy(
    *, accepted: Sequence[bool], weights_bps: Sequence[int], per_round_reward: int, **_: Any
) -> RoundPayout:
    """002 eq. 10-11 with N = clients + 1 (the contract's reading), see :func:`credit_split`."""
    split = credit_split(
        reward=per_round_reward,
        weights_bps=_check_bps(weights_bps, accepted),
        team_size=len(accepted) + 1,
    )
    return RoundPayout(split.members, split.leader)


@register_reward_policy("data_amount")
def _data_amount_policy(
    *,
    accepted: Sequence[bool],
    per_round_reward: int,
    num_samples: Sequence[int] | None = None,
    weights_bps: Sequence[int] | None = None,
    **_: Any,
) -> RoundPayout:
    """000: the round reward split in proportion to accepted samples (basis-point weights)."""
    reward = _int("per_round_reward", per_round_reward)
    if weights_bps is None:
        if num_samples is None:
            raise IncentiveError("data_amount needs num_samples= or weights_bps=")
        weights_bps = data_amount_bps(num_samples, accepted=accepted)
    w = _check_bps(weights_bps, accepted)
    return RoundPayout([reward * x // BPS for x in w])


def data_share_cap(accepted_count: int) -> int:
    """Most basis points one client may take of a data-amount round: twice an equal share of
    the ``accepted_count`` accepted clients, rounded up, at most 10,000 (the contract's
    ``Payouts.dataShareCap``). With sample counts fixed at join from registered profiles, this
    bounds what a client that declared inflated profiles can take (H-3)."""
    if accepted_count <= 0:
        return BPS
    return min(BPS, -(-2 * BPS // accepted_count))


def data_amount_bps(num_samples: Sequence[int], *, accepted: Sequence[bool]) -> list[int]:
    """Weights ``min(floor(10,000 · n_i / Σ_accepted n), cap)`` for accepted clients, 0 for the
    others, where cap is :func:`data_share_cap` (what a capped client cannot take stays unpaid
    and returns to the requester)."""
    if len(num_samples) != len(accepted):
        raise IncentiveError("one sample count per client")
    n = [_int("num_samples", x) if ok else 0 for x, ok in zip(num_samples, accepted, strict=True)]
    total = sum(n)
    if total == 0:
        return [0] * len(n)
    cap = data_share_cap(sum(1 for ok in accepted if ok))
    return [min(cap, BPS * x // total) for x in n]


@dataclass(frozen=True)
class CreditSplit:
    """002 eq. 10-11 in wei: the leader's cut, each member's share, and what stays unpaid."""

    leader: int
    members: list[int]
    unpaid: int


def credit_split(*, reward: int, weights_bps: Sequence[int], team_size: int) -> CreditSplit:
    """Split one round's ``reward``: the leader takes ``reward // N`` (eq. 10), the members
    share the rest by their basis-point weights ``W_k`` (eq. 11), rounding down.

    The paper also gives the leader ``W_k · C`` on top and the members ``(1 − 1/N) W_k C``,
    which can pay out more than ``C``; our reading (MISSION M10b) never exceeds the reward:
    ``leader + Σ members + unpaid == reward`` with ``unpaid ≥ 0`` refunded to the requester.
    The contract uses ``N = clients + 1``.
    """
    reward = _int("reward", reward)
    n = _int("team_size", team_size, minimum=1)
    w = [_int("weight", x) for x in weights_bps]
    if sum(w) > BPS:
        raise IncentiveError(f"weights sum to {sum(w)} > {BPS} basis points")
    leader = reward // n
    pool = reward - leader
    members = [pool * x // BPS for x in w]
    return CreditSplit(leader, members, reward - leader - sum(members))


def credit_split_exact(
    *, reward: int | Fraction, weights: Sequence[Fraction | int], team_size: int
) -> tuple[Fraction, list[Fraction]]:
    """The same split in exact arithmetic with weights summing to 1: ``(C/N, [(1−1/N) W_k C])``."""
    n = _int("team_size", team_size, minimum=1)
    w = [Fraction(x) for x in weights]
    if any(x < 0 for x in w) or sum(w) != 1:
        raise IncentiveError("exact weights must be non-negative and sum to 1")
    c = Fraction(reward)
    return c / n, [(1 - Fraction(1, n)) * x * c for x in w]


def update_credits(base: Mapping[str, int], obtained: Mapping[str, int]) -> dict[str, int]:
    """002 eq. 12: ``C = C_base + C_obtain`` for every participant in either mapping."""
    out = {k: _int("credit", v) for k, v in base.items()}
    for k, v in obtained.items():
        out[k] = out.get(k, 0) + _int("credit", v)
    return out


# --- M11: mortgage-penalty --------------------------------------------------------------------


def penalty_coefficient(*, missed: int, lazy: int, rounds: int) -> Fraction:
    """``k = (p + q) / v`` (002 eq. 2): temporary exits p, lazy rounds q, rounds v."""
    v = _int("rounds", rounds, minimum=1)
    p, q = _int("missed", missed), _int("lazy", lazy)
    if p + q > v:
        raise IncentiveError(f"missed + lazy = {p + q} exceeds the {v} rounds")
    return Fraction(p + q, v)


def punishment_exact(*, mortgage: int, missed: int, lazy: int, rounds: int) -> Fraction:
    """``punish(i) = mortgage_i · k_i`` (002 eq. 1) in exact arithmetic."""
    return _int("mortgage", mortgage) * penalty_coefficient(missed=missed, lazy=lazy, rounds=rounds)


def punishment(*, mortgage: int, missed: int, lazy: int, rounds: int) -> int:
    """Integer ``punish(i)`` as the contract computes it: ``(mortgage // v) · (p + q)``.

    Tasks require mortgages divisible by v, where this equals :func:`punishment_exact`.
    """
    penalty_coefficient(missed=missed, lazy=lazy, rounds=rounds)  # validates
    return (_int("mortgage", mortgage) // rounds) * (missed + lazy)


@dataclass(frozen=True)
class PenaltySettlement:
    """M11 at the end of a task, per member: punishment, compensation received, net change.

    ``refund`` is what the integer division leaves (returned to the requester), so
    ``Σ penalties == Σ shares + refund``.
    """

    penalties: list[Any]
    shares: list[Any]
    refund: Any

    @property
    def net(self) -> list[Any]:
        """Change of each member's balance: compensation received minus own punishment."""
        return [s - p for p, s in zip(self.penalties, self.shares, strict=True)]


def _check_counts(mortgages: Sequence[int], missed: Sequence[int], lazy: Sequence[int]) -> int:
    n = len(mortgages)
    if len(missed) != n or len(lazy) != n:
        raise IncentiveError("one mortgage, one missed count and one lazy count per member")
    if n == 0:
        raise IncentiveError("no members")
    return n


def settle_penalties(
    *, mortgages: Sequence[int], missed: Sequence[int], lazy: Sequence[int], rounds: int
) -> PenaltySettlement:
    """Integer M11 (002 eq. 1-3): each punishment is shared equally by the *other* members.

    Member j receives ``(Σ_i punish(i) − punish(j)) // (n − 1)`` (the contract's formula; eq. 3
    prints ``punish · 1/N`` with N read as the number of members who share it, so nothing is
    lost). With a single member nothing is shared and everything punished is refunded.
    """
    n = _check_counts(mortgages, missed, lazy)
    pen = [
        punishment(mortgage=m, missed=p, lazy=q, rounds=rounds)
        for m, p, q in zip(mortgages, missed, lazy, strict=True)
    ]
    total = sum(pen)
    shares = [0] * n if n < 2 else [(total - own) // (n - 1) for own in pen]
    return PenaltySettlement(pen, shares, total - sum(shares))


def settle_penalties_exact(
    *, mortgages: Sequence[int], missed: Sequence[int], lazy: Sequence[int], rounds: int
) -> PenaltySettlement:
    """The same settlement in exact rationals (refund 0 unless there is a single member)."""
    n = _check_counts(mortgages, missed, lazy)
    pen = [
        punishment_exact(mortgage=m, missed=p, lazy=q, rounds=rounds)
        for m, p, q in zip(mortgages, missed, lazy, strict=True)
    ]
    total = sum(pen, Fraction(0))
    shares = [Fraction(0)] * n if n < 2 else [(total - own) / (n - 1) for own in pen]
    return PenaltySettlement(pen, shares, total - sum(shares, Fraction(0)))


def slashed_stake(*, stake: int, offenses: int, slash_bps: int) -> int:
    """A committee member's slash: ``slash_bps`` of its stake per offense, capped at the stake."""
    stake, offenses, slash_bps = (
        _int("stake", stake), _int("offenses", offenses), _int("slash_bps", slash_bps)
    )  # fmt: skip
    return min(stake, stake * slash_bps * offenses // BPS)
