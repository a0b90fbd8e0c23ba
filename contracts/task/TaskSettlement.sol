// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TaskOutcomes} from "./TaskOutcomes.sol";

/// @title TaskSettlement
/// @notice Lazy, per-participant settlement of a finished or cancelled task: each client's M9
///         trajectory, M10 rewards and M11 penalty are recomputed from the round bit streams;
///         miners get their stake back less slashes, which are burned; the last settlement
///         refunds the requester what is left.
abstract contract TaskSettlement is TaskOutcomes {
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
        Member memory m = _memberOf(taskId, client);
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
        Member memory m = _memberOf(taskId, miner);
        if (m.role != MemberRole.Miner) revert TaskManagerNotMember(taskId, miner);
        return _minerOutcome(taskId, m.index);
    }

    function _settleOne(Context memory ctx, Funds memory funds, address participant) private {
        uint256 taskId = ctx.taskId;
        Member memory m = _memberOf(taskId, participant);
        // Settling ends the membership, so a second settlement finds no member.
        if (m.role == MemberRole.None) revert TaskManagerNotMember(taskId, participant);
        uint256 payout;
        if (m.role == MemberRole.Client) {
            ClientOutcome memory o = _clientOutcome(ctx, m);
            payout = o.payout;
            uint16 reputation = m.gammaAtJoin;
            if (o.evaluatedRounds != 0 || o.reward != 0) {
                reputation = _registry.applyTaskOutcome(
                    taskId, ctx.requester, participant, m.gammaAtJoin, o.evaluations, o.evaluatedRounds, o.reward
                );
            }
            emit ClientSettled(
                taskId,
                participant,
                o.reward,
                o.penalty,
                o.penaltyShare,
                payout,
                reputation
            );
        } else {
            uint256 slashed;
            (slashed, payout) = _minerOutcome(taskId, m.index);
            emit MinerSettled(taskId, participant, slashed, payout);
            if (slashed != 0) {
                // Burned, never paid: nobody (the requester least) profits from a slash.
                funds.pot -= uint128(slashed);
                _burned += slashed;
                emit StakeBurned(taskId, participant, slashed);
            }
        }
        funds.pot -= uint128(payout);
        funds.unsettled -= 1;
        _release(taskId, participant, payout);
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
}
