"""The contract's ``RewardPolicy`` enum (M10) by name: the one table the Python side uses."""

from __future__ import annotations

from typing import Final

__all__ = ["POLICY_NAMES", "REWARD_POLICIES"]

#: Reward policy name → the contract's ``RewardPolicy`` value.
REWARD_POLICIES: Final = {"reputation": 0, "contribution": 1, "data_amount": 2, "fixed": 3}
#: The names by enum value (``POLICY_NAMES[state.policy]``).
POLICY_NAMES: Final = tuple(sorted(REWARD_POLICIES, key=REWARD_POLICIES.__getitem__))
