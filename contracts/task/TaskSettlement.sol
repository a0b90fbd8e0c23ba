// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TaskOutcomes} from "./TaskOutcomes.sol";

/// @title TaskSettlement
/// @notice Lazy, per-participant settlement of a finished or cancelled task: each client's M9
///         trajectory, M10 rewards and M11 penalty are recomputed from the round bit streams;
///         miners get their stake back less slashes; the last settlement refunds the requester.
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
                reputation
            );
        } else {
            uint256 slashed;
            (slashed, payout) = _minerOutcome(taskId, m.index);
            emit MinerSettled(taskId, participant, slashed, payout);
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
