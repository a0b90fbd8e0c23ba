// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Payouts} from "../libraries/Payouts.sol";
import {Reputation} from "../libraries/Reputation.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskSettlement
/// @notice Lazy, per-participant settlement of a finished or cancelled task: each client's M9
///         trajectory, M10 rewards and M11 penalty are recomputed from the round bit streams;
///         miners get their stake back less slashes; the last settlement refunds the requester.
abstract contract TaskSettlement is TaskStorage {
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

    /// @notice See {ITaskManager-settle}.
    function settle(uint256 taskId, address participant) external {
        Context memory ctx = _context(taskId);
        Funds memory funds = _funds[taskId];
        _settleOne(ctx, funds, participant);
        _closeFunds(ctx, funds);
    }

    /// @notice See {ITaskManager-settleMany}.
    function settleMany(uint256 taskId, address[] calldata participants) external {
        Context memory ctx = _context(taskId);
        Funds memory funds = _funds[taskId];
        for (uint256 k; k < participants.length; ++k) {
            _settleOne(ctx, funds, participants[k]);
        }
        _closeFunds(ctx, funds);
    }

    /// @notice See {ITaskManager-previewClientSettlement}.
    function previewClientSettlement(uint256 taskId, address client)
        external
        view
        returns (ClientOutcome memory)
    {
        Context memory ctx = _context(taskId);
        Member memory m = _members[taskId][client];
        if (m.role != MemberRole.Client) revert TaskManagerNotClient(taskId, client);
        return _clientOutcome(ctx, m);
    }

    /// @notice See {ITaskManager-previewMinerSettlement}.
    function previewMinerSettlement(uint256 taskId, address miner)
        external
        view
        returns (uint256 slashed, uint256 payout)
    {
        _context(taskId);
        Member memory m = _members[taskId][miner];
        if (m.role != MemberRole.Miner) revert TaskManagerNotMember(taskId, miner);
        return _minerOutcome(taskId, m.index);
    }

    function _context(uint256 taskId) private view returns (Context memory ctx) {
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

    function _settleOne(Context memory ctx, Funds memory funds, address participant) private {
        uint256 taskId = ctx.taskId;
        Member memory m = _members[taskId][participant];
        // Settling deletes the member slot (a gas refund), so a second settlement finds no member.
        if (m.role == MemberRole.None) revert TaskManagerNotMember(taskId, participant);
        delete _members[taskId][participant];
        uint256 payout;
        if (m.role == MemberRole.Client) {
            ClientOutcome memory o = _clientOutcome(ctx, m);
            payout = o.payout;
            uint16 reputation = m.gammaAtJoin;
            if (o.evaluatedRounds != 0 || o.reward != 0) {
                reputation = _registry.applyTaskOutcome(
                    taskId, participant, o.evaluations, o.evaluatedRounds, o.reward
                );
            }
            emit ClientSettled(
                taskId,
                participant,
                o.reward,
                o.penalty,
                o.penaltyShare,
                payout,
                uint16(o.acceptedRounds),
                reputation
            );
        } else {
            uint256 slashed;
            (slashed, payout) = _minerOutcome(taskId, m.index);
            emit MinerSettled(taskId, participant, slashed, payout);
        }
        funds.pot -= uint128(payout);
        funds.unsettled -= 1;
        _credit(participant, payout);
    }

    /// @dev Writes the task's funds back; the last settlement refunds the requester.
    function _closeFunds(Context memory ctx, Funds memory funds) private {
        if (funds.unsettled == 0 && funds.pot != 0) {
            uint256 refund = funds.pot;
            funds.pot = 0;
            _credit(ctx.requester, refund);
            emit RequesterRefunded(ctx.taskId, ctx.requester, refund);
        }
        _funds[ctx.taskId] = funds;
    }

    function _clientOutcome(Context memory ctx, Member memory m)
        private
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
        if (ctx.status == TaskStatus.Finished) {
            o.penalty = Payouts.penalty(ctx.mortgage, ctx.rounds, ctx.rounds - o.acceptedRounds);
            uint256 totalPenalty = Payouts.penalty(ctx.mortgage, ctx.rounds, ctx.missedTotal);
            o.penaltyShare = Payouts.penaltyShare(totalPenalty, o.penalty, ctx.n);
        }
        o.payout = ctx.mortgage - o.penalty + o.penaltyShare + o.reward;
    }

    function _minerOutcome(uint256 taskId, uint256 index)
        private
        view
        returns (uint256 slashed, uint256 payout)
    {
        uint256 stake = _miners[taskId][index].stake;
        uint256 offenses = (_offenses[taskId] >> (4 * index)) & 0xf;
        slashed = Payouts.slashed(stake, offenses, _slashBps);
        payout = stake - slashed;
    }
}
