// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Payouts
/// @notice Reward (M10) and mortgage-penalty (M11) arithmetic, kept apart from storage.
library Payouts {
    /// @notice Basis points denominator for the leader's per-client weights.
    uint256 internal constant BPS = 10_000;

    /// @notice M10b eq. 10: the leader's share of one round's reward, 1/N with N = clients + 1
    ///         (the round's team is the task's clients plus the leader).
    function leaderCut(uint256 perRoundReward, uint256 clients) internal pure returns (uint256) {
        return perRoundReward / (clients + 1);
    }

    /// @notice A client's share of one round's reward for a weight in basis points: contribution
    ///         splits what the leader leaves, data amount splits the whole round reward.
    function weighted(uint256 pool, uint256 weightBps) internal pure returns (uint256) {
        return (pool * weightBps) / BPS;
    }

    /// @notice M11 eq. 1-2: punish(i) = mortgage * (p + q) / v. Mortgages are divisible by v (the
    ///         task checks it at creation), so the per-round unit is exact.
    function penalty(uint256 mortgage, uint256 rounds, uint256 missedRounds)
        internal
        pure
        returns (uint256)
    {
        // Exact: the TaskManager only accepts mortgages divisible by the number of rounds.
        // slither-disable-next-line divide-before-multiply
        return (mortgage / rounds) * missedRounds;
    }

    /// @notice M11 eq. 3: a client's equal share of the other clients' punishments. The floor
    ///         division loses less than one wei per client, refunded to the requester.
    function penaltyShare(uint256 totalPenalty, uint256 ownPenalty, uint256 clients)
        internal
        pure
        returns (uint256)
    {
        if (clients < 2) return 0;
        return (totalPenalty - ownPenalty) / (clients - 1);
    }

    /// @notice Most basis points one client may take of a DataAmount round: twice an equal
    ///         share of the `accepted` clients, rounded up, at most the whole round.
    function dataShareCap(uint256 accepted) internal pure returns (uint256) {
        uint256 cap = (2 * BPS + accepted - 1) / accepted;
        return cap > BPS ? BPS : cap;
    }

    /// @notice Slash for `offenses` offenses at `slashBps` of the stake each, capped at the stake.
    function slashed(uint256 stake, uint256 offenses, uint256 slashBps)
        internal
        pure
        returns (uint256)
    {
        uint256 amount = (stake * slashBps * offenses) / BPS;
        return amount > stake ? stake : amount;
    }
}
