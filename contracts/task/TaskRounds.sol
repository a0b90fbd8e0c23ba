// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Bitmaps} from "../libraries/Bitmaps.sol";
import {Payouts} from "../libraries/Payouts.sol";
import {Sortition} from "../libraries/Sortition.sol";
import {TaskCommittee} from "./TaskCommittee.sol";
import {TaskSignatures} from "./TaskSignatures.sol";

/// @title TaskRounds
/// @notice Submissions (direct and EIP-712-relayed), committees, verdicts, attestations,
///         leader replacement and round finalization.
abstract contract TaskRounds is TaskCommittee, TaskSignatures {
    /// @notice See {ITaskManager-submitUpdate}.
    function submitUpdate(uint256 taskId, uint64 round, bytes32 digest, uint32 numSamples, uint8 codec)
        external
    {
        _checkSubmissionWindow(taskId, round);
        _checkCodec(codec);
        if (numSamples == 0) revert TaskManagerZeroSamples(taskId, msg.sender);
        if (_members[taskId][msg.sender].role != MemberRole.Client) {
            revert TaskManagerNotClient(taskId, msg.sender);
        }
        emit UpdateSubmitted(taskId, round, msg.sender, digest, numSamples, codec);
    }

    /// @notice See {ITaskManager-submitUpdatesBySig}.
    function submitUpdatesBySig(uint256 taskId, uint64 round, SignedUpdate[] calldata updates) external {
        uint256 count = updates.length;
        if (count == 0) revert TaskManagerEmptyBatch(taskId);
        _checkSubmissionWindow(taskId, round);
        bytes32 domain = _domainSeparatorV4();
        for (uint256 k; k < count; ++k) {
            SignedUpdate calldata u = updates[k];
            _checkCodec(u.codec);
            bytes32 hash =
                _typedHash(domain, _updateStructHash(taskId, round, u.digest, u.numSamples, u.codec));
            (address client, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, u.v, u.r, u.s);
            if (err != ECDSA.RecoverError.NoError) revert TaskManagerInvalidSignature(taskId, k);
            if (u.numSamples == 0) revert TaskManagerZeroSamples(taskId, client);
            emit UpdateSubmitted(taskId, round, client, u.digest, u.numSamples, u.codec);
        }
    }

    /// @notice See {ITaskManager-postVerdict}.
    function postVerdict(uint256 taskId, uint64 round, Verdict calldata verdict) external {
        State memory s = _states[taskId];
        _requireRound(taskId, s, round);
        uint256 leaderIndex = _committeeIndex(taskId, round, s.attempt);
        address leader = _miners[taskId][leaderIndex].miner;
        if (msg.sender != leader) revert TaskManagerNotLeader(taskId, round, msg.sender, leader);
        if (s.approvals != 0) revert TaskManagerVerdictAlreadyPosted(taskId, round, s.attempt);
        uint256 n = s.clientCount;
        uint256 all = Bitmaps.lowMask(n);
        if (block.timestamp <= s.submitDeadline && verdict.submitted != all) {
            revert TaskManagerSubmissionsOpen(taskId, round, s.submitDeadline);
        }
        if (verdict.submitted & ~all != 0 || verdict.accepted & ~verdict.submitted != 0) {
            revert TaskManagerInvalidBitmap(taskId, round, verdict.submitted, verdict.accepted);
        }
        _checkCodec(verdict.codec);
        _storeWeights(taskId, round, n, verdict);
        _writeAccepted(taskId, round, n, verdict.accepted);
        bytes32 verdictHash = _verdictHash(taskId, round, verdict);
        _verdictHashes[taskId] = verdictHash;
        _pendingModels[taskId] = verdict.globalModel;
        s.pendingCodec = verdict.codec;
        s.pendingAccepted = uint16(Bitmaps.popcount(verdict.accepted));
        s.approvals = uint16(1 << s.attempt);
        emit VerdictPosted(taskId, round, msg.sender, s.attempt, verdictHash, verdict);
        if (_quorum(s.committeeSize) <= 1) _finalize(taskId, s);
        _states[taskId] = s;
    }

    /// @notice See {ITaskManager-attestVerdict}.
    function attestVerdict(uint256 taskId, uint64 round, bytes32 verdictHash) external {
        State memory s = _states[taskId];
        _requireRound(taskId, s, round);
        if (s.approvals == 0) revert TaskManagerNoVerdict(taskId, round);
        Member memory m = _members[taskId][msg.sender];
        uint256 position = m.role == MemberRole.Miner
            ? Sortition.positionOf(_committees[taskId][round], s.committeeSize, m.index)
            : type(uint256).max;
        if (position == type(uint256).max) revert TaskManagerNotCommitteeMember(taskId, round, msg.sender);
        uint16 bit = uint16(1 << position);
        if ((s.approvals | s.dissents) & bit != 0) revert TaskManagerAlreadyAttested(taskId, round, msg.sender);
        bool agreed = verdictHash == _verdictHashes[taskId];
        if (agreed) s.approvals |= bit;
        else s.dissents |= bit;
        emit VerdictAttested(taskId, round, msg.sender, verdictHash, agreed);
        if (agreed && Bitmaps.popcount(s.approvals) >= _quorum(s.committeeSize)) _finalize(taskId, s);
        _states[taskId] = s;
    }

    /// @notice See {ITaskManager-replaceLeader}.
    function replaceLeader(uint256 taskId) external {
        State memory s = _states[taskId];
        _requireStatus(taskId, s.status, TaskStatus.Running);
        if (block.timestamp <= s.verdictDeadline) {
            revert TaskManagerVerdictWindowOpen(taskId, s.round, s.verdictDeadline);
        }
        if (uint256(s.attempt) + 1 >= s.committeeSize) revert TaskManagerNoLeaderLeft(taskId, s.round);
        uint256 formerIndex = _committeeIndex(taskId, s.round, s.attempt);
        address former = _miners[taskId][formerIndex].miner;
        bool posted = s.approvals != 0;
        if (!posted) _recordOffense(taskId, s.round, formerIndex, _SLASH_NO_VERDICT);
        s.attempt += 1;
        s.approvals = 0;
        s.dissents = 0;
        s.verdictDeadline = uint40(block.timestamp + _terms[taskId].verdictDuration);
        address newLeader = _miners[taskId][_committeeIndex(taskId, s.round, s.attempt)].miner;
        _verdictHashes[taskId] = bytes32(0);
        _states[taskId] = s;
        emit LeaderReplaced(taskId, s.round, former, newLeader, s.attempt, posted, s.verdictDeadline);
    }

    /// @notice See {ITaskManager-verdictHashOf}.
    function verdictHashOf(uint256 taskId, uint64 round, Verdict calldata verdict)
        external
        pure
        returns (bytes32)
    {
        return _verdictHash(taskId, round, verdict);
    }

    /// @dev Applies a verdict that reached quorum and opens the next round (or finishes).
    function _finalize(uint256 taskId, State memory s) private {
        uint64 round = s.round;
        bytes32 model = _pendingModels[taskId];
        // unchecked: pendingAccepted ≤ clientCount (accepted ⊆ lowMask(n)) and missedTotal ≤
        // 250 rounds × 256 clients < 2^32.
        unchecked {
            s.missedTotal += uint32(s.clientCount - s.pendingAccepted);
        }
        uint256 dissents = s.dissents;
        for (uint256 k; dissents != 0; ++k) {
            if (dissents & 1 == 1) {
                _recordOffense(taskId, round, _committeeIndex(taskId, round, k), _SLASH_DISSENT);
            }
            dissents >>= 1;
        }
        Config memory c = _configs[taskId];
        if (c.policy == RewardPolicy.Contribution) _payLeader(taskId, round, s);
        emit RoundFinalized(taskId, round, _verdictHashes[taskId], model, s.pendingCodec, s.pendingAccepted);
        _models.recordRoundModel(taskId, round, model, s.pendingCodec);
        if (round + 1 == c.rounds) {
            s.status = TaskStatus.Finished;
            s.round = c.rounds;
            emit TaskFinished(taskId, model, s.pendingCodec);
            _models.recordFinalModel(taskId, model, s.pendingCodec);
        } else {
            _openRound(taskId, s, round + 1);
        }
    }

    function _payLeader(uint256 taskId, uint64 round, State memory s) private {
        address leader = _miners[taskId][_committeeIndex(taskId, round, s.attempt)].miner;
        uint256 cut = Payouts.leaderCut(_rewards[taskId].perRoundReward, s.clientCount);
        _funds[taskId].pot -= uint128(cut);
        _credit(leader, cut);
        emit LeaderRewarded(taskId, round, leader, cut);
        _registry.awardCredits(taskId, leader, cut);
    }

    /// @dev One more offense (4-bit counter, saturating at 15) and its slash event.
    function _recordOffense(uint256 taskId, uint64 round, uint256 minerIndex, uint8 reason) private {
        uint256 nibbles = _offenses[taskId];
        uint256 shift = 4 * minerIndex;
        uint256 count = (nibbles >> shift) & 0xf;
        if (count == 15) return;
        _offenses[taskId] = nibbles + (uint256(1) << shift);
        MinerEntry memory entry = _miners[taskId][minerIndex];
        uint256 before = Payouts.slashed(entry.stake, count, _slashBps);
        uint256 amount = Payouts.slashed(entry.stake, count + 1, _slashBps) - before;
        emit StakeSlashed(taskId, entry.miner, round, reason, amount);
    }

    function _storeWeights(uint256 taskId, uint64 round, uint256 n, Verdict calldata verdict) private {
        RewardPolicy policy = _configs[taskId].policy;
        uint16[] calldata weights = verdict.weights;
        bool weighted = policy == RewardPolicy.Contribution || policy == RewardPolicy.DataAmount;
        if (!weighted) {
            if (weights.length != 0) revert TaskManagerInvalidWeights(taskId, round, weights.length, 0);
            return;
        }
        if (weights.length != n) revert TaskManagerInvalidWeights(taskId, round, weights.length, 0);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            uint256 w = weights[i];
            total += w;
            if (w != 0 && (verdict.accepted >> i) & 1 == 0) {
                revert TaskManagerInvalidWeights(taskId, round, n, total);
            }
        }
        if (total > Payouts.BPS) revert TaskManagerInvalidWeights(taskId, round, n, total);
        _packWeights(_weights[taskId], uint256(round) * n, weights);
    }

    /// @dev Writes 16-bit weights at positions start, start+1, … (16 per word), one SSTORE per word.
    function _packWeights(
        mapping(uint256 word => uint256 weights) storage stream,
        uint256 start,
        uint16[] calldata weights
    ) private {
        uint256 pos = start;
        uint256 word = stream[pos >> 4];
        uint256 end = start + weights.length;
        for (; pos < end; ++pos) {
            uint256 shift = (pos & 15) * 16;
            word = (word & ~(uint256(0xffff) << shift)) | (uint256(weights[pos - start]) << shift);
            if (pos & 15 == 15 || pos + 1 == end) {
                stream[pos >> 4] = word;
                if (pos + 1 < end) word = stream[(pos >> 4) + 1];
            }
        }
    }

    function _checkSubmissionWindow(uint256 taskId, uint64 round) private view {
        State memory s = _states[taskId];
        _requireRound(taskId, s, round);
        if (block.timestamp > s.submitDeadline) revert TaskManagerRoundClosed(taskId, round, s.submitDeadline);
    }

    function _requireRound(uint256 taskId, State memory s, uint64 round) private pure {
        _requireStatus(taskId, s.status, TaskStatus.Running);
        if (round != s.round) revert TaskManagerWrongRound(taskId, round, s.round);
    }

    function _verdictHash(uint256 taskId, uint64 round, Verdict calldata verdict)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                taskId,
                round,
                verdict.submitted,
                verdict.accepted,
                verdict.globalModel,
                verdict.codec,
                keccak256(abi.encodePacked(verdict.weights))
            )
        );
    }
}
