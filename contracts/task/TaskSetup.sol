// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TaskCommittee} from "./TaskCommittee.sol";

/// @title TaskSetup
/// @notice Creating tasks (M1 escrow), joining as a miner, starting and cancelling.
abstract contract TaskSetup is TaskCommittee {
    /// @notice See {ITaskManager-createTask}.
    function createTask(TaskSpec calldata spec) external payable returns (uint256 taskId) {
        _onlyDelegated();
        _validateSpec(spec);
        uint256 escrow = uint256(spec.rounds) * spec.perRoundReward;
        if (msg.value != escrow) revert TaskManagerEscrowMismatch(escrow, msg.value);
        taskId = ++_taskCount;
        _states[taskId].status = TaskStatus.Joining;
        _configs[taskId] = Config({
            requester: msg.sender,
            policy: spec.policy,
            rounds: spec.rounds,
            maxClients: spec.maxClients,
            committeeSize: spec.committeeSize,
            byzantineF: spec.byzantineF,
            joinDeadline: uint40(spec.joinDeadline)
        });
        _terms[taskId] = Terms({
            clientMortgage: spec.clientMortgage,
            minMinerStake: spec.minMinerStake,
            submitDuration: spec.submitDuration,
            verdictDuration: spec.verdictDuration,
            minReputation: spec.minReputation
        });
        _rewards[taskId] = Rewards({perRoundReward: spec.perRoundReward, rewardUnit: spec.rewardUnit});
        _funds[taskId].pot = uint128(escrow);
        _categories[taskId] = spec.category;
        emit TaskCreated(taskId, msg.sender, spec.category, spec, escrow);
        _models.recordInitialModel(taskId, spec.initialModel, spec.initialCodec, spec.requestKey);
    }

    /// @notice See {ITaskManager-joinAsMiner}.
    function joinAsMiner(uint256 taskId, uint256 stake) external payable {
        _onlyDelegated();
        if (msg.value != 0 && msg.value != stake) {
            revert TaskManagerWrongStakePayment(taskId, stake, msg.value);
        }
        State memory s = _states[taskId];
        _checkJoinOpen(taskId, s.status);
        uint256 minimum = _terms[taskId].minMinerStake;
        if (stake < minimum || stake > type(uint88).max) revert TaskManagerStakeTooLow(taskId, stake, minimum);
        if (_memberOf(taskId, msg.sender).role != MemberRole.None) {
            revert TaskManagerAlreadyJoined(taskId, msg.sender);
        }
        if (s.minerCount >= _MAX_MINERS) revert TaskManagerTaskFull(taskId, _MAX_MINERS);
        (uint8 roles,,) = _registry.eligibility(msg.sender, bytes32(0));
        if (roles & 2 == 0) revert TaskManagerNotRegistered(msg.sender, 2);
        uint8 index = s.minerCount;
        _enroll(
            taskId,
            msg.sender,
            Member({role: MemberRole.Miner, index: index, gammaAtJoin: 0}),
            msg.value == 0 ? stake : 0
        );
        _miners[taskId][index] = MinerEntry({miner: msg.sender, stake: uint96(stake)});
        _states[taskId].minerCount = index + 1;
        Funds storage funds = _funds[taskId];
        funds.pot += uint128(stake);
        funds.totalStake += uint96(stake);
        funds.unsettled += 1;
        emit MinerJoined(taskId, msg.sender, index, stake);
    }

    /// @notice See {ITaskManager-startTask}.
    function startTask(uint256 taskId) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Joining);
        Config memory c = _configs[taskId];
        if (msg.sender != c.requester && block.timestamp <= c.joinDeadline) {
            revert TaskManagerJoinStillOpen(taskId, c.joinDeadline);
        }
        if (s.clientCount == 0 || s.minerCount == 0) {
            revert TaskManagerNotStartable(taskId, s.clientCount, s.minerCount);
        }
        s.status = TaskStatus.Running;
        s.committeeSize = c.committeeSize < s.minerCount ? c.committeeSize : s.minerCount;
        emit TaskStarted(taskId, s.clientCount, s.minerCount, s.committeeSize);
        _openRound(taskId, s, 0);
        _states[taskId] = s;
    }

    /// @notice See {ITaskManager-cancelTask}.
    function cancelTask(uint256 taskId) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        Config memory c = _configs[taskId];
        bool allowed;
        if (s.status == TaskStatus.Joining) {
            allowed = msg.sender == c.requester
                || (block.timestamp > c.joinDeadline && (s.clientCount == 0 || s.minerCount == 0));
        } else if (s.status == TaskStatus.Running) {
            allowed = block.timestamp > s.verdictDeadline && uint256(s.attempt) + 1 >= s.committeeSize;
        }
        if (!allowed) {
            if (s.status == TaskStatus.None) revert TaskManagerUnknownTask(taskId);
            revert TaskManagerNotCancellable(taskId, s.status);
        }
        // The last leader of a stalled round is slashed like a replaced one if it never posted.
        if (s.status == TaskStatus.Running && s.approvals == 0) {
            _recordOffense(taskId, s.round, _committeeIndex(taskId, s.round, s.attempt), _SLASH_NO_VERDICT);
        }
        _states[taskId].status = TaskStatus.Cancelled;
        emit TaskCancelled(taskId, msg.sender, s.round);
        Funds storage funds = _funds[taskId];
        if (funds.unsettled == 0) {
            uint256 refund = funds.pot;
            funds.pot = 0;
            _credit(c.requester, refund);
            emit RequesterRefunded(taskId, c.requester, refund);
        }
    }

    /// @notice See {ITaskManager-publishPerturbedModel}.
    function publishPerturbedModel(uint256 taskId, bytes32 digest, uint8 codec) external {
        _onlyDelegated();
        _requireStatus(taskId, _states[taskId].status, TaskStatus.Finished);
        if (msg.sender != _configs[taskId].requester) revert TaskManagerNotRequester(taskId, msg.sender);
        _checkCodec(codec);
        emit PerturbedModelPublished(taskId, digest, codec);
        _models.recordPerturbedModel(taskId, digest, codec);
    }

    /// @dev Reverts unless running by DELEGATECALL from the TaskManager.
    function _onlyDelegated() internal view virtual;

    function _validateSpec(TaskSpec calldata spec) private view {
        uint256 rounds = spec.rounds;
        if (rounds == 0 || rounds > _MAX_ROUNDS) revert TaskManagerInvalidRounds(rounds);
        if (spec.maxClients == 0 || spec.maxClients > _MAX_CLIENTS) {
            revert TaskManagerInvalidMaxClients(spec.maxClients);
        }
        if (spec.committeeSize == 0 || spec.committeeSize > _MAX_COMMITTEE) {
            revert TaskManagerInvalidCommitteeSize(spec.committeeSize);
        }
        if (spec.byzantineF >= spec.maxClients) {
            revert TaskManagerInvalidByzantineBound(spec.byzantineF, spec.maxClients);
        }
        if (spec.submitDuration == 0 || spec.verdictDuration == 0) {
            revert TaskManagerInvalidDurations(spec.submitDuration, spec.verdictDuration);
        }
        if (spec.joinDeadline <= block.timestamp || spec.joinDeadline > type(uint40).max) {
            revert TaskManagerInvalidJoinDeadline(spec.joinDeadline, block.timestamp);
        }
        if (spec.category == bytes32(0)) revert TaskManagerZeroCategory();
        if (spec.clientMortgage == 0 || spec.clientMortgage % rounds != 0) {
            revert TaskManagerInvalidMortgage(spec.clientMortgage, rounds);
        }
        if (spec.minMinerStake == 0) revert TaskManagerInvalidMinerStake(spec.minMinerStake);
        _checkCodec(spec.initialCodec);
        RewardPolicy policy = spec.policy;
        if (policy == RewardPolicy.Reputation || policy == RewardPolicy.Fixed) {
            uint256 points = policy == RewardPolicy.Reputation ? _gammaMax : _threshold;
            uint256 maxRoundPayout = uint256(spec.rewardUnit) * points * spec.maxClients;
            if (maxRoundPayout > spec.perRoundReward) {
                revert TaskManagerRewardUnitTooHigh(spec.rewardUnit, maxRoundPayout, spec.perRoundReward);
            }
        }
    }
}
