// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Bitmaps} from "../libraries/Bitmaps.sol";
import {Sortition} from "../libraries/Sortition.sol";
import {TaskCommittee} from "./TaskCommittee.sol";

/// @title TaskSetup
/// @notice Creating tasks (M1 escrow), joining as a miner, leaving before the start, starting,
///         drawing committees, replacing leaders and cancelling.
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
        _minTotalStakes[taskId] = spec.minTotalStake;
        _categories[taskId] = spec.category;
        emit TaskCreated(taskId, msg.sender, spec.category, spec, escrow);
        _models.recordInitialModel(
            taskId, spec.initialModel, spec.initialCodec, _boundRequestKey(msg.sender, spec.requestKey)
        );
    }

    /// @dev The M3 cache key of `requestKey` asked by `requester`: keccak256(abi.encode(requester,
    ///      requestKey)), zero for none. Binding the key to its requester means a stranger's task
    ///      with the same request can never occupy (answer first) the requester's cache entry.
    function _boundRequestKey(address requester, bytes32 requestKey) private pure returns (bytes32) {
        if (requestKey == bytes32(0)) return bytes32(0);
        return keccak256(abi.encode(requester, requestKey));
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
        if (stake < minimum) revert TaskManagerStakeTooLow(taskId, stake, minimum);
        if (stake > type(uint88).max) revert TaskManagerStakeTooHigh(taskId, stake, type(uint88).max);
        if (_memberOf(taskId, msg.sender).role != MemberRole.None) {
            revert TaskManagerAlreadyJoined(taskId, msg.sender);
        }
        (uint8 roles,,,) = _registry.eligibility(msg.sender, bytes32(0), address(0));
        if (roles & 2 == 0) revert TaskManagerNotRegistered(msg.sender, 2);
        Funds storage funds = _funds[taskId];
        uint8 index = s.minerCount;
        if (index >= _MAX_MINERS) {
            // Seats go to the highest stakes: a newcomer outbidding the lowest takes its place.
            index = _displace(taskId, stake);
        } else {
            _states[taskId].minerCount = index + 1;
            funds.unsettled += 1;
        }
        _enroll(
            taskId,
            msg.sender,
            Member({role: MemberRole.Miner, index: index, gammaAtJoin: 0}),
            msg.value == 0 ? stake : 0
        );
        _miners[taskId][index] = MinerEntry({miner: msg.sender, stake: uint96(stake)});
        funds.pot += uint128(stake);
        funds.totalStake += uint96(stake);
        emit MinerJoined(taskId, msg.sender, index, stake);
    }

    /// @dev Refunds the lowest-staked miner (the first of equals) and returns its index; reverts
    ///      unless `stake` is higher.
    function _displace(uint256 taskId, uint256 stake) private returns (uint8 index) {
        uint256 lowest = type(uint256).max;
        for (uint256 i; i < _MAX_MINERS; ++i) {
            uint256 s = _miners[taskId][i].stake;
            if (s < lowest) (lowest, index) = (s, uint8(i));
        }
        if (stake <= lowest) revert TaskManagerTaskFull(taskId, _MAX_MINERS);
        address evicted = _miners[taskId][index].miner;
        Funds storage funds = _funds[taskId];
        funds.pot -= uint128(lowest);
        funds.totalStake -= uint96(lowest);
        _release(taskId, evicted, lowest);
        emit MemberLeft(taskId, evicted, MemberRole.Miner, lowest);
    }

    /// @notice See {ITaskManager-leaveTask}.
    function leaveTask(uint256 taskId, address lastMember) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Joining);
        Member memory m = _memberOf(taskId, msg.sender);
        if (m.role == MemberRole.None) revert TaskManagerNotMember(taskId, msg.sender);
        bool client = m.role == MemberRole.Client;
        uint256 last = (client ? s.clientCount : s.minerCount) - 1;
        uint256 refund = client ? _terms[taskId].clientMortgage : _miners[taskId][m.index].stake;
        if (m.index != last) {
            // Keep indices dense: the last member of the same role takes the leaver's index.
            Member memory moved = _memberOf(taskId, lastMember);
            if (moved.role != m.role || moved.index != last) revert TaskManagerNotLastMember(taskId, lastMember);
            _setMemberIndex(taskId, lastMember, m.index);
            if (!client) _miners[taskId][m.index] = _miners[taskId][last];
        }
        Funds storage funds = _funds[taskId];
        if (client) {
            _states[taskId].clientCount = uint16(last);
            _bumpJoinNonce(msg.sender); // a relayer cannot re-join it with an old permit
        } else {
            delete _miners[taskId][last];
            funds.totalStake -= uint96(refund);
            _states[taskId].minerCount = uint8(last);
        }
        funds.pot -= uint128(refund);
        funds.unsettled -= 1;
        _release(taskId, msg.sender, refund);
        emit MemberLeft(taskId, msg.sender, m.role, refund);
    }

    /// @notice See {ITaskManager-startTask}.
    function startTask(uint256 taskId) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Joining);
        Config memory c = _configs[taskId];
        // The requester may start early only when nobody else could join any more.
        bool full = s.clientCount == c.maxClients && s.minerCount == _MAX_MINERS;
        if (block.timestamp <= c.joinDeadline && !(full && msg.sender == c.requester)) {
            revert TaskManagerJoinStillOpen(taskId, c.joinDeadline);
        }
        _checkStartable(taskId, s, c);
        s.status = TaskStatus.Running;
        s.committeeSize = c.committeeSize;
        emit TaskStarted(taskId, s.clientCount, s.minerCount, s.committeeSize);
        _openRound(taskId, s, 0);
        _states[taskId] = s;
    }

    /// @notice See {ITaskManager-cancelTask}.
    function cancelTask(uint256 taskId) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        Config memory c = _configs[taskId];
        if (s.status == TaskStatus.Joining) {
            if (msg.sender != c.requester) {
                if (block.timestamp <= c.joinDeadline) revert TaskManagerNotCancellable(taskId, s.status);
                if (_startable(taskId, s, c)) revert TaskManagerNotCancellable(taskId, s.status);
            }
        } else if (s.status == TaskStatus.Running) {
            if (!_attemptOver(s) || uint256(s.attempt) + 1 < s.committeeSize) {
                revert TaskManagerNotCancellable(taskId, s.status);
            }
            // The committee failed: its last leader and silent seats answer for it.
            _failAttempt(taskId, s, _drawCommittee(taskId, s.round, s.committeeSize));
        } else {
            if (s.status == TaskStatus.None) revert TaskManagerUnknownTask(taskId);
            revert TaskManagerNotCancellable(taskId, s.status);
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

    /// @notice See {ITaskManager-drawCommittee}.
    function drawCommittee(uint256 taskId) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Running);
        uint256 word = _committees[taskId][s.round];
        if (word & _DRAWN != 0) revert TaskManagerCommitteeAlreadyDrawn(taskId, s.round);
        uint256 seedBlock = uint64(word >> 128);
        if (block.number > seedBlock && blockhash(seedBlock) == bytes32(0)) {
            // Nobody drew it within 256 blocks: a new seed block (this one, unknown to this
            // transaction), and the verdict window restarts so the new leader has its full time.
            _committees[taskId][s.round] = block.number << 128;
            uint40 deadline = uint40(block.timestamp + _terms[taskId].verdictDuration);
            if (deadline > s.verdictDeadline) _states[taskId].verdictDeadline = deadline;
            emit SeedRenewed(taskId, s.round, uint64(block.number));
            return;
        }
        _drawCommittee(taskId, s.round, s.committeeSize);
    }

    /// @notice See {ITaskManager-replaceLeader}.
    function replaceLeader(uint256 taskId) external {
        _onlyDelegated();
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Running);
        if (!_attemptOver(s)) revert TaskManagerVerdictWindowOpen(taskId, s.round, s.verdictDeadline);
        if (uint256(s.attempt) + 1 >= s.committeeSize) revert TaskManagerNoLeaderLeft(taskId, s.round);
        uint256 packed = _drawCommittee(taskId, s.round, s.committeeSize);
        address former = _miners[taskId][Sortition.at(packed, s.attempt)].miner;
        bool posted = s.approvals != 0;
        _failAttempt(taskId, s, packed);
        s.attempt += 1;
        s.approvals = 0;
        s.dissents = 0;
        s.verdictDeadline = uint40(block.timestamp + _terms[taskId].verdictDuration);
        address newLeader = _miners[taskId][Sortition.at(packed, s.attempt)].miner;
        _verdictHashes[taskId] = bytes32(0);
        _states[taskId] = s;
        emit LeaderReplaced(taskId, s.round, former, newLeader, s.attempt, posted, s.verdictDeadline);
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

    /// @dev Whether the current attempt is over: its verdict window passed, or so many seats
    ///      dissented from the posted verdict that it can no longer reach quorum.
    function _attemptOver(State memory s) private view returns (bool) {
        if (block.timestamp > s.verdictDeadline) return true;
        return s.approvals != 0
            && Bitmaps.popcount(s.dissents) + _quorum(s.committeeSize) > s.committeeSize;
    }

    function _startable(uint256 taskId, State memory s, Config memory c) private view returns (bool) {
        return s.clientCount != 0 && s.minerCount >= c.committeeSize
            && _funds[taskId].totalStake >= _minTotalStakes[taskId];
    }

    function _checkStartable(uint256 taskId, State memory s, Config memory c) private view {
        if (s.clientCount == 0 || s.minerCount < c.committeeSize) {
            revert TaskManagerNotStartable(taskId, s.clientCount, s.minerCount);
        }
        uint256 total = _funds[taskId].totalStake;
        uint256 required = _minTotalStakes[taskId];
        if (total < required) revert TaskManagerStakeShortfall(taskId, total, required);
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
        if (
            spec.submitDuration < _minRoundWindow || spec.verdictDuration < _minRoundWindow
                || spec.submitDuration > _maxRoundWindow || spec.verdictDuration > _maxRoundWindow
        ) revert TaskManagerInvalidDurations(spec.submitDuration, spec.verdictDuration);
        if (
            spec.joinDeadline < block.timestamp + _minJoinWindow
                || spec.joinDeadline > block.timestamp + _maxJoinWindow
        ) revert TaskManagerInvalidJoinDeadline(spec.joinDeadline, block.timestamp);
        if (spec.category == bytes32(0)) revert TaskManagerZeroCategory();
        if (spec.clientMortgage == 0 || spec.clientMortgage % rounds != 0) {
            revert TaskManagerInvalidMortgage(spec.clientMortgage, rounds);
        }
        if (spec.minMinerStake < _minStakeFloor) revert TaskManagerInvalidMinerStake(spec.minMinerStake);
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
