// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Payouts} from "../libraries/Payouts.sol";
import {Reputation} from "../libraries/Reputation.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskOutcomes
/// @notice What settling a participant pays, recomputed from the round bit streams: each
///         client's M9 trajectory from its reputation at join, M10 rewards, M11 penalty over
///         the rounds played and its share of the others' penalties; each miner's stake less
///         slashes (which are burned).
abstract contract TaskOutcomes is TaskStorage {
    /// @dev What a settlement needs from the task, loaded once per transaction.
    struct Context {
        uint256 taskId;
        TaskStatus status;
        RewardPolicy policy;
        uint256 n;
        uint256 rounds; // the task's v
        uint256 evaluated; // finalized rounds
        uint256 missedTotal;
        uint256 mortgage;
        uint256 perRoundReward;
        uint256 rewardUnit;
        address requester;
    }

    function _context(uint256 taskId) internal view returns (Context memory ctx) {
        State memory s = _states[taskId];
        if (s.status != TaskStatus.Finished && s.status != TaskStatus.Cancelled) {
            _requireStatus(taskId, s.status, TaskStatus.Finished);
        }
        Config memory c = _configs[taskId];
        Rewards memory r = _rewards[taskId];
        ctx.taskId = taskId;
        ctx.status = s.status;
        ctx.policy = c.policy;
        ctx.n = s.clientCount;
        ctx.rounds = c.rounds;
        ctx.evaluated = s.round;
        ctx.missedTotal = s.missedTotal;
        ctx.mortgage = _terms[taskId].clientMortgage;
        ctx.perRoundReward = r.perRoundReward;
        ctx.rewardUnit = r.rewardUnit;
        ctx.requester = c.requester;
    }

    function _clientOutcome(Context memory ctx, Member memory m)
        internal
        view
        returns (ClientOutcome memory o)
    {
        uint256 gamma = m.gammaAtJoin;
        uint256 leaderPool = ctx.perRoundReward - Payouts.leaderCut(ctx.perRoundReward, ctx.n);
        o.evaluatedRounds = ctx.evaluated;
        for (uint256 r; r < ctx.evaluated; ++r) {
            uint256 pos = r * ctx.n + m.index;
            bool accepted = (_accepted[ctx.taskId][pos >> 8] >> (pos & 255)) & 1 == 1;
            if (accepted) {
                o.acceptedRounds += 1;
                o.evaluations |= uint256(1) << r;
                if (ctx.policy == RewardPolicy.Reputation) {
                    o.reward += gamma * ctx.rewardUnit;
                } else if (ctx.policy == RewardPolicy.Fixed) {
                    o.reward += _threshold * ctx.rewardUnit;
                } else {
                    uint256 pool = ctx.policy == RewardPolicy.Contribution ? leaderPool : ctx.perRoundReward;
                    o.reward += Payouts.weighted(pool, _readWeight(ctx.taskId, r, ctx.n, m.index));
                }
            }
            gamma = Reputation.next(gamma, accepted, _gammaMax, _threshold);
        }
        // M11 over the rounds played: all v of a finished task, the finalized ones of a cancelled
        // task (a cancellation neither spares a lazy client nor costs anyone for unplayed rounds).
        o.penalty = Payouts.penalty(ctx.mortgage, ctx.rounds, ctx.evaluated - o.acceptedRounds);
        uint256 totalPenalty = Payouts.penalty(ctx.mortgage, ctx.rounds, ctx.missedTotal);
        o.penaltyShare = Payouts.penaltyShare(totalPenalty, o.penalty, ctx.n);
        o.payout = ctx.mortgage - o.penalty + o.penaltyShare + o.reward;
    }

    function _minerOutcome(uint256 taskId, uint256 index)
        internal
        view
        returns (uint256 slashed, uint256 payout)
    {
        uint256 stake = _miners[taskId][index].stake;
        uint256 offenses = _offenseCount(taskId, index);
        slashed = Payouts.slashed(stake, offenses, _slashBps);
        payout = stake - slashed;
    }
}
