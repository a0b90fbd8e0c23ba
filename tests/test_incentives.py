"""The Python mirror of the reputation (M9), reward (M10) and mortgage-penalty (M11) rules."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedchain.errors import ConfigError
from fedchain.incentives import (
    IncentiveError,
    available_reward_policies,
    credit_split,
    credit_split_exact,
    data_amount_bps,
    fixed_rewards,
    next_reputation,
    penalty_coefficient,
    punishment,
    punishment_exact,
    register_reward_policy,
    reputation_rewards,
    reputation_trajectory,
    round_payout,
    settle_penalties,
    settle_penalties_exact,
    slashed_stake,
    update_credits,
)

H, GMAX = 5, 100


# --- M9 ---------------------------------------------------------------------------------------


def test_each_case_of_eq2() -> None:
    assert next_reputation(5, True, h=H, gamma_max=GMAX) == 6  # H, γ ≥ h → γ + 1
    assert next_reputation(100, True, h=H, gamma_max=GMAX) == 100  # capped at γmax
    assert next_reputation(5, False, h=H, gamma_max=GMAX) == 0  # L, γ = h → 0
    assert next_reputation(9, False, h=H, gamma_max=GMAX) == 8  # L, γ ≥ h + 1 → γ − 1
    assert next_reputation(2, True, h=H, gamma_max=GMAX) == 3  # γ < h → γ + 1 ...
    assert next_reputation(2, False, h=H, gamma_max=GMAX) == 3  # ... whatever a is
    assert next_reputation(0, False, h=0, gamma_max=GMAX) == 0  # h = 0: L at γ = h → 0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 20), st.integers(0, 20), st.booleans())
def test_stays_in_range_and_matches_table(gamma, h, accepted) -> None:
    gmax = 20
    if h > gmax:
        return
    new = next_reputation(gamma, accepted, h=h, gamma_max=gmax)
    assert 0 <= new <= gmax
    table = (gamma + 1 if gamma < h else min(gmax, gamma + 1) if accepted
             else 0 if gamma == h else gamma - 1)  # fmt: skip
    assert new == table


def test_paper_004_fig_11_12_trajectories() -> None:
    # Reading: global epochs are 1-based; every client starts at γ = h = 5; the reward of an
    # epoch is the reputation held *going into* it (if the update is accepted), and the
    # reputation after the epoch is what Fig. 12 plots. Ten epochs.
    epochs = 10
    honest = [True] * epochs
    poison1 = [False] + [True] * (epochs - 1)
    poison4 = [True] * 3 + [False] + [True] * (epochs - 4)
    traj = lambda v: reputation_trajectory(5, v, h=H, gamma_max=GMAX)[1:]  # noqa: E731
    reward = lambda v: reputation_rewards(5, v, h=H, gamma_max=GMAX)  # noqa: E731
    # Honest: 5, 6, 7, … (reward) and 6, 7, 8, … (reputation).
    assert reward(honest) == [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert traj(honest) == [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    # Caught at epoch 1, at γ = h: cleared to 0, climbs back by 1, grows again past h.
    assert traj(poison1) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert reward(poison1) == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    # Caught at epoch 4, above h: loses 1, "so does the reward in the subsequent epoch".
    assert traj(poison4) == [6, 7, 8, 7, 8, 9, 10, 11, 12, 13]
    assert reward(poison4) == [5, 6, 7, 0, 7, 8, 9, 10, 11, 12]
    # No incentive mechanism: a fixed 5 per epoch regardless of poisoning.
    assert fixed_rewards(poison1, amount=5, pay_rejected=True) == [5] * epochs
    assert fixed_rewards(poison1, amount=5) == [0] + [5] * 9  # the contract's Fixed policy


def test_reputation_errors_are_config_errors() -> None:
    with pytest.raises(IncentiveError):
        next_reputation(101, True, h=H, gamma_max=GMAX)
    with pytest.raises(ConfigError):
        next_reputation(5, True, h=101, gamma_max=GMAX)
    with pytest.raises(ValueError):
        next_reputation(True, True, h=H, gamma_max=GMAX)


# --- M10 --------------------------------------------------------------------------------------


def test_reward_policies() -> None:
    acc = [True, False, True]
    rep = round_payout("reputation", accepted=acc, reputations=[5, 9, 7], reward_unit=10)
    assert rep.clients == [50, 0, 70] and rep.leader == 0 and rep.total == 120
    fixed = round_payout("fixed", accepted=acc, threshold=5, reward_unit=10)
    assert fixed.clients == [50, 0, 50]
    contrib = round_payout(
        "contribution", accepted=acc, weights_bps=[6000, 0, 4000], per_round_reward=1000
    )
    # N = 3 clients + leader = 4: leader 1000 // 4 = 250, pool 750 → 450 and 300
    assert contrib.leader == 250 and contrib.clients == [450, 0, 300]
    data = round_payout("data_amount", accepted=acc, num_samples=[100, 900, 300],
                        per_round_reward=1000)  # fmt: skip
    # accepted samples 100 + 300: bps 2500 / 7500 → 250 and 750 wei
    assert data.clients == [250, 0, 750] and data.total <= 1000
    assert data_amount_bps([100, 900, 300], accepted=acc) == [2500, 0, 7500]
    assert {"contribution", "data_amount", "fixed", "reputation"} <= set(
        available_reward_policies()
    )
    with pytest.raises(IncentiveError, match="rejected"):
        round_payout("contribution", accepted=acc, weights_bps=[1, 1, 1], per_round_reward=10)
    with pytest.raises(IncentiveError, match="unknown reward policy"):
        round_payout("lottery", accepted=acc)

    @register_reward_policy("flat")
    def _flat(*, accepted, amount, **_):
        from fedchain.incentives import RoundPayout

        return RoundPayout([amount] * len(accepted))

    assert round_payout("flat", accepted=acc, amount=3).total == 9


def test_credit_split_hand_examples() -> None:
    s = credit_split(reward=1000, weights_bps=[5000, 3000, 2000], team_size=4)
    assert (s.leader, s.members, s.unpaid) == (250, [375, 225, 150], 0)
    s = credit_split(reward=1000, weights_bps=[3333, 3333, 3333], team_size=4)
    # 750 · 3333 // 10000 = 249 each; 1000 − 250 − 747 = 3 wei stay unpaid (refunded)
    assert (s.leader, s.members, s.unpaid) == (250, [249, 249, 249], 3)
    leader, members = credit_split_exact(reward=1000, weights=[Fraction(1, 2)] * 2, team_size=4)
    assert leader == 250 and members == [375, 375] and leader + sum(members) == 1000


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 10**24), st.lists(st.integers(0, 2500), min_size=1, max_size=4),
       st.integers(1, 50))  # fmt: skip
def test_credit_split_never_exceeds_reward(reward, bps, n) -> None:
    s = credit_split(reward=reward, weights_bps=bps, team_size=n)
    assert s.leader + sum(s.members) + s.unpaid == reward and s.unpaid >= 0


def test_update_credits() -> None:
    assert update_credits({"a": 10, "b": 1}, {"b": 5, "c": 2}) == {"a": 10, "b": 6, "c": 2}


# --- M11 --------------------------------------------------------------------------------------


def test_penalty_worked_example() -> None:
    # Four members, mortgage 1,200 wei each, v = 6 rounds.
    #   A: p = 1 exit, q = 1 lazy  → k = 2/6 → punish = 1200 · 2/6 = 400
    #   B: q = 3 lazy              → k = 3/6 → punish = 600
    #   C, D: clean                → 0.                     Σ punish = 1,000
    # Eq. 3, shared by the *other* members: each gets Σ_{i≠j} punish(i) / 3:
    #   A: (1000 − 400)/3 = 200;  B: (1000 − 600)/3 = 133.33 → 133;  C, D: 1000/3 → 333
    #   Σ shares = 999 → 1 wei refunded to the requester.
    #   Net: A −200, B −467, C +333, D +333.
    args = {"mortgages": [1200] * 4, "missed": [1, 0, 0, 0], "lazy": [1, 3, 0, 0], "rounds": 6}
    s = settle_penalties(**args)
    assert s.penalties == [400, 600, 0, 0]
    assert s.shares == [200, 133, 333, 333]
    assert s.refund == 1
    assert s.net == [-200, -467, 333, 333]
    e = settle_penalties_exact(**args)
    assert e.shares == [200, Fraction(400, 3), Fraction(1000, 3), Fraction(1000, 3)]
    assert e.refund == 0 and sum(e.net) == 0
    assert penalty_coefficient(missed=1, lazy=1, rounds=6) == Fraction(1, 3)
    assert punishment(mortgage=1200, missed=1, lazy=1, rounds=6) == 400
    assert punishment_exact(mortgage=1000, missed=1, lazy=0, rounds=3) == Fraction(1000, 3)
    assert punishment(mortgage=1000, missed=1, lazy=0, rounds=3) == 333  # (1000 // 3) · 1


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 10**20), min_size=n, max_size=n),
    st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.lists(st.integers(0, 3), min_size=n, max_size=n))))  # fmt: skip
def test_penalties_conserve_money(case) -> None:
    mortgages, missed, lazy = case
    v = 6
    mortgages = [m - m % v for m in mortgages]  # the task requires divisibility by v
    s = settle_penalties(mortgages=mortgages, missed=missed, lazy=lazy, rounds=v)
    e = settle_penalties_exact(mortgages=mortgages, missed=missed, lazy=lazy, rounds=v)
    assert sum(s.penalties) == sum(s.shares) + s.refund
    assert s.penalties == e.penalties  # integer = exact when v divides the mortgage
    n = len(mortgages)
    if n >= 2:  # each floor division loses less than 1 wei
        assert 0 <= s.refund < n and s.refund == e.refund + sum(e.shares) - sum(s.shares)
    else:  # nobody to share with: everything punished is refunded
        assert s.refund == sum(s.penalties)
    assert all(a <= b for a, b in zip(s.shares, e.shares, strict=True))
    assert all(p <= m for p, m in zip(s.penalties, mortgages, strict=True))


def test_penalty_errors_and_slashing() -> None:
    with pytest.raises(IncentiveError, match="exceeds"):
        penalty_coefficient(missed=3, lazy=4, rounds=6)
    with pytest.raises(IncentiveError):
        settle_penalties(mortgages=[1], missed=[0, 0], lazy=[0], rounds=1)
    solo = settle_penalties(mortgages=[600], missed=[2], lazy=[0], rounds=6)
    assert solo.penalties == [200] and solo.shares == [0] and solo.refund == 200
    assert slashed_stake(stake=1000, offenses=2, slash_bps=1500) == 300
    assert slashed_stake(stake=1000, offenses=9, slash_bps=1500) == 1000  # capped
