// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Accounts} from "../libraries/Accounts.sol";
import {Sortition} from "../libraries/Sortition.sol";
import {TaskCommittee} from "./TaskCommittee.sol";

/// @title TaskViews
/// @notice Read-only views over the task storage.
abstract contract TaskViews is TaskCommittee {
    /// @notice See {ITaskManager-taskInfo}.
    function taskInfo(uint256 taskId) external view returns (TaskInfo memory info) {
        State memory s = _states[taskId];
        Config memory c = _configs[taskId];
        Terms memory t = _terms[taskId];
        Funds memory f = _funds[taskId];
        info.status = s.status;
        info.requester = c.requester;
        info.policy = c.policy;
        info.category = _categories[taskId];
        info.rounds = c.rounds;
        info.round = s.round;
        info.clientCount = s.clientCount;
        info.minerCount = s.minerCount;
        info.committeeSize = c.committeeSize; // the seats every round draws (fixed at creation)
        info.attempt = s.attempt;
        info.maxClients = c.maxClients;
        info.byzantineF = c.byzantineF;
        info.minReputation = t.minReputation;
        info.joinDeadline = c.joinDeadline;
        info.submitDeadline = s.submitDeadline;
        info.verdictDeadline = s.verdictDeadline;
        info.submitDuration = t.submitDuration;
        info.verdictDuration = t.verdictDuration;
        info.perRoundReward = _rewards[taskId].perRoundReward;
        info.rewardUnit = _rewards[taskId].rewardUnit;
        info.clientMortgage = t.clientMortgage;
        info.minMinerStake = t.minMinerStake;
        info.minTotalStake = _minTotalStakes[taskId];
        info.pot = f.pot;
        info.totalStake = f.totalStake;
        info.unsettled = f.unsettled;
        info.missedTotal = s.missedTotal;
    }

    /// @notice See {ITaskManager-memberOf}.
    function memberOf(uint256 taskId, address account) external view returns (MemberInfo memory) {
        Member memory m = _memberOf(taskId, account);
        return MemberInfo({role: m.role, index: m.index, reputationAtJoin: m.gammaAtJoin});
    }

    /// @notice See {ITaskManager-minerAt}.
    function minerAt(uint256 taskId, uint256 index) external view returns (address, uint256) {
        MinerEntry memory entry = _miners[taskId][index];
        return (entry.miner, entry.stake);
    }

    /// @notice See {ITaskManager-committee}.
    function committee(uint256 taskId, uint64 round) external view returns (address[] memory members) {
        State memory s = _states[taskId];
        bool opened = s.status == TaskStatus.Running
            ? round <= s.round
            : (s.status == TaskStatus.Finished || s.status == TaskStatus.Cancelled) && round < s.round;
        if (s.status == TaskStatus.Cancelled && round == s.round && s.committeeSize != 0) opened = true;
        if (!opened) revert TaskManagerRoundNotOpened(taskId, round);
        uint256 packed = _committeeWord(taskId, round, s.committeeSize);
        members = new address[](s.committeeSize);
        for (uint256 k; k < members.length; ++k) {
            members[k] = _miners[taskId][Sortition.at(packed, k)].miner;
        }
    }

    /// @notice See {ITaskManager-currentLeader}.
    function currentLeader(uint256 taskId) external view returns (address) {
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Running);
        uint256 packed = _committeeWord(taskId, s.round, s.committeeSize);
        return _miners[taskId][Sortition.at(packed, s.attempt)].miner;
    }

    /// @notice See {ITaskManager-seedBlockOf}.
    function seedBlockOf(uint256 taskId, uint64 round) external view returns (uint256) {
        return uint64(_committees[taskId][round] >> 128);
    }

    /// @notice See {ITaskManager-joinNonce}.
    function joinNonce(address client) external view returns (uint256) {
        return Accounts.joinNonce(_accounts[client]);
    }

    /// @notice See {ITaskManager-burnedStake}.
    function burnedStake() external view returns (uint256) {
        return _burned;
    }

    /// @notice See {ITaskManager-limits}.
    function limits() external view returns (Limits memory) {
        return _limits();
    }

    /// @notice See {ITaskManager-acceptedBitmap}.
    function acceptedBitmap(uint256 taskId, uint64 round) external view returns (uint256) {
        return _readAccepted(taskId, round, _states[taskId].clientCount);
    }

    /// @notice See {ITaskManager-clientWeight}.
    function clientWeight(uint256 taskId, uint64 round, uint256 index) external view returns (uint16) {
        return uint16(_readWeight(taskId, round, _states[taskId].clientCount, index));
    }

    /// @notice See {ITaskManager-pendingVerdictHash}.
    function pendingVerdictHash(uint256 taskId) external view returns (bytes32) {
        return _states[taskId].approvals == 0 ? bytes32(0) : _verdictHashes[taskId];
    }

    /// @notice See {ITaskManager-quorum}.
    function quorum(uint256 taskId) external view returns (uint256) {
        return _quorum(_states[taskId].committeeSize);
    }

    /// @notice See {ITaskManager-offensesOf}.
    function offensesOf(uint256 taskId, uint256 index) external view returns (uint256) {
        return _offenseCount(taskId, index);
    }

    /// @notice See {ITaskManager-taskPot}.
    function taskPot(uint256 taskId) external view returns (uint256) {
        return _funds[taskId].pot;
    }

    /// @notice See {ITaskManager-taskCount}.
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @notice See {ITaskManager-registry}.
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice See {ITaskManager-models}.
    function models() external view returns (address) {
        return address(_models);
    }

    /// @notice See {ITaskManager-slashBps}.
    function slashBps() external view returns (uint256) {
        return _slashBps;
    }

    /// @notice See {ITaskManager-verdictHashOf}.
    function verdictHashOf(uint256 taskId, uint64 round, Verdict calldata verdict)
        external
        pure
        returns (bytes32)
    {
        return _verdictHash(taskId, round, verdict);
    }
}
