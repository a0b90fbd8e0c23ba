// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Bitmaps} from "../libraries/Bitmaps.sol";
import {Payouts} from "../libraries/Payouts.sol";
import {Sortition} from "../libraries/Sortition.sol";
import {TaskCommittee} from "./TaskCommittee.sol";
import {TaskSignatures} from "./TaskSignatures.sol";

/// @title TaskRounds
/// @notice Submissions (direct and EIP-712-relayed), verdicts, attestations and round
///         finalization.
abstract contract TaskRounds is TaskCommittee, TaskSignatures {
    /// @notice See {ITaskManager-submitUpdate}.
    /// @dev The direct path reads two cold slots (the task's state word, the caller's account
    ///      word), writes nothing and emits one event; see docs/contracts.md, "Gas". The common
    ///      case (task running, right round, before the deadline, valid codec and sample count,
    ///      the caller an inline client member) is checked in assembly; anything else goes to
    ///      {_submitSlowPath}, which either finds a membership in the overflow mapping or
    ///      reverts with the precise error.
    function submitUpdate(uint256 taskId, uint64 round, bytes32 digest, uint32 numSamples, uint8 codec)
        external
    {
        State storage st = _states[taskId];
        bytes32 topic = UpdateSubmitted.selector;
        bool fast;
        assembly ("memory-safe") {
            let word := sload(st.slot)
            // State: status bits 0-7 (2 = Running), round 8-23, submitDeadline 24-63.
            fast := eq(and(word, 0xffffff), or(2, shl(8, round)))
            fast := and(fast, iszero(gt(timestamp(), and(shr(24, word), 0xffffffffff))))
            fast := and(fast, and(or(eq(codec, 0x55), eq(codec, 0x70)), iszero(iszero(numSamples))))
            // Inline memberships hold 32-bit task ids: larger ids never take the fast path.
            fast := and(fast, lt(taskId, 0x100000000))
            // Account word of the caller (see Accounts): inline memberships at bits 104 and
            // 168, each taskId (32 bits) | role << 32 (1 = Client). A task id of 32 bits or more
            // never matches (such memberships live in the mapping: slow path).
            mstore(0x00, caller())
            mstore(0x20, _accounts.slot)
            let account := sload(keccak256(0x00, 0x40))
            let key := or(taskId, shl(32, 1))
            let member := or(
                eq(and(shr(104, account), 0xffffffffff), key), eq(and(shr(168, account), 0xffffffffff), key)
            )
            fast := and(fast, member)
        }
        if (!fast) _submitSlowPath(taskId, round, numSamples, codec);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, digest)
            mstore(add(ptr, 0x20), numSamples)
            mstore(add(ptr, 0x40), codec)
            log4(ptr, 0x60, topic, taskId, round, caller())
        }
    }

    /// @dev Returns for a valid submission the fast path did not recognise (a membership in
    ///      the overflow mapping); otherwise reverts with the precise error.
    function _submitSlowPath(uint256 taskId, uint64 round, uint32 numSamples, uint8 codec) private view {
        State memory s = _states[taskId];
        _requireRound(taskId, s, round);
        if (block.timestamp > s.submitDeadline) revert TaskManagerRoundClosed(taskId, round, s.submitDeadline);
        _checkCodec(codec);
        if (numSamples == 0) revert TaskManagerZeroSamples(taskId, msg.sender);
        if (!_isClient(taskId, msg.sender)) revert TaskManagerNotClient(taskId, msg.sender);
    }

    /// @notice See {ITaskManager-submitUpdatesBySig}.
    function submitUpdatesBySig(uint256 taskId, uint64 round, SignedUpdate[] calldata updates) external {
        if (updates.length == 0) revert TaskManagerEmptyBatch(taskId);
        _checkSubmissionWindow(taskId, round);
        (uint256 bad, uint256 reason) = _recordSignedUpdates(taskId, round, _domainSeparatorV4(), updates);
        if (reason == _BAD_SIGNATURE) revert TaskManagerInvalidSignature(taskId, bad);
        if (reason == _BAD_CODEC) revert TaskManagerInvalidCodec(uint8(updates[bad].codec));
        if (reason == _BAD_SAMPLES) revert TaskManagerZeroSamples(taskId, address(0));
    }

    /// @notice See {ITaskManager-postVerdict}.
    function postVerdict(
        uint256 taskId,
        uint64 round,
        Verdict calldata verdict,
        AttestationSignature[] calldata attestations
    ) external {
        State memory s = _states[taskId];
        _requireRound(taskId, s, round);
        uint256 packed = _drawCommittee(taskId, round, s.committeeSize);
        uint256 leaderIndex = _checkLeader(taskId, round, s, packed);
        _checkVerdict(taskId, round, s, verdict);
        s.pendingAccepted = uint16(Bitmaps.popcount(verdict.accepted));
        _storeWeights(taskId, round, s.clientCount, s.pendingAccepted, verdict);
        _writeAccepted(taskId, round, s.clientCount, verdict.accepted);
        bytes32 verdictHash = _verdictHash(taskId, round, verdict);
        _verdictHashes[taskId] = verdictHash;
        _pendingModels[taskId] = verdict.globalModel;
        s.pendingCodec = verdict.codec;
        // Every seat the leader holds approves; the other seats get a full window to answer.
        s.approvals = Sortition.seatsOf(packed, s.committeeSize, leaderIndex);
        uint40 answerBy = uint40(block.timestamp + _terms[taskId].verdictDuration);
        if (answerBy > s.verdictDeadline) s.verdictDeadline = answerBy;
        emit VerdictPosted(taskId, round, msg.sender, s.attempt, verdictHash, verdict);
        if (attestations.length != 0) {
            s.approvals = _relayedApprovals(taskId, round, verdictHash, s, packed, attestations);
        }
        if (Bitmaps.popcount(s.approvals) >= _quorum(s.committeeSize)) _finalize(taskId, s, packed);
        _states[taskId] = s;
    }

    /// @dev The current leader's miner index; reverts unless the caller is it and has not posted.
    function _checkLeader(uint256 taskId, uint64 round, State memory s, uint256 packed)
        private
        view
        returns (uint256 leaderIndex)
    {
        leaderIndex = Sortition.at(packed, s.attempt);
        address leader = _miners[taskId][leaderIndex].miner;
        if (msg.sender != leader) revert TaskManagerNotLeader(taskId, round, msg.sender, leader);
        if (s.approvals != 0) revert TaskManagerVerdictAlreadyPosted(taskId, round, s.attempt);
    }

    function _checkVerdict(uint256 taskId, uint64 round, State memory s, Verdict calldata verdict) private view {
        uint256 all = Bitmaps.lowMask(s.clientCount);
        if (block.timestamp <= s.submitDeadline && verdict.submitted != all) {
            revert TaskManagerSubmissionsOpen(taskId, round, s.submitDeadline);
        }
        if (verdict.submitted & ~all != 0 || verdict.accepted & ~verdict.submitted != 0) {
            revert TaskManagerInvalidBitmap(taskId, round, verdict.submitted, verdict.accepted);
        }
        _checkCodec(verdict.codec);
    }

    /// @dev Adds the seats of the relayed attestation signers to the approvals.
    function _relayedApprovals(
        uint256 taskId,
        uint64 round,
        bytes32 verdictHash,
        State memory s,
        uint256 packed,
        AttestationSignature[] calldata attestations
    ) private returns (uint16 approvals) {
        approvals = s.approvals;
        bytes32 hash =
            _hashTypedDataV4(keccak256(abi.encode(_ATTESTATION_TYPEHASH, taskId, round, verdictHash)));
        for (uint256 k; k < attestations.length; ++k) {
            (address member, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(hash, attestations[k].r, attestations[k].vs);
            if (err != ECDSA.RecoverError.NoError) revert TaskManagerInvalidSignature(taskId, k);
            uint16 seats = _seatsOf(taskId, round, packed, s.committeeSize, member);
            if (approvals & seats != 0) revert TaskManagerAlreadyAttested(taskId, round, member);
            approvals |= seats;
            emit VerdictAttested(taskId, round, member, verdictHash, true);
        }
    }

    /// @dev The seats `member` holds in `round`; reverts for non-members.
    function _seatsOf(uint256 taskId, uint64 round, uint256 packed, uint256 size, address member)
        private
        view
        returns (uint16 seats)
    {
        Member memory m = _memberOf(taskId, member);
        if (m.role == MemberRole.Miner) seats = Sortition.seatsOf(packed, size, m.index);
        if (seats == 0) revert TaskManagerNotCommitteeMember(taskId, round, member);
    }

    /// @notice See {ITaskManager-attestVerdict}.
    function attestVerdict(uint256 taskId, uint64 round, bytes32 verdictHash) external {
        State memory s = _states[taskId];
        _requireRound(taskId, s, round);
        if (s.approvals == 0) revert TaskManagerNoVerdict(taskId, round);
        uint256 packed = _committees[taskId][round]; // drawn when the verdict was posted
        uint16 seats = _seatsOf(taskId, round, packed, s.committeeSize, msg.sender);
        if ((s.approvals | s.dissents) & seats != 0) revert TaskManagerAlreadyAttested(taskId, round, msg.sender);
        bool agreed = verdictHash == _verdictHashes[taskId];
        if (agreed) s.approvals |= seats;
        else s.dissents |= seats;
        emit VerdictAttested(taskId, round, msg.sender, verdictHash, agreed);
        if (agreed && Bitmaps.popcount(s.approvals) >= _quorum(s.committeeSize)) _finalize(taskId, s, packed);
        _states[taskId] = s;
    }

    /// @dev Applies a verdict that reached quorum and opens the next round (or finishes).
    function _finalize(uint256 taskId, State memory s, uint256 packed) private {
        uint64 round = s.round;
        bytes32 model = _pendingModels[taskId];
        // unchecked: pendingAccepted <= clientCount (accepted subset of lowMask(n)) and missedTotal <=
        // 250 rounds x 256 clients < 2^32.
        unchecked {
            s.missedTotal += uint32(s.clientCount - s.pendingAccepted);
        }
        uint256 dissents = s.dissents;
        for (uint256 k; dissents != 0; ++k) {
            if (dissents & 1 == 1) {
                _recordOffense(taskId, round, Sortition.at(packed, k), _SLASH_DISSENT);
            }
            dissents >>= 1;
        }
        Config memory c = _configs[taskId];
        if (c.policy == RewardPolicy.Contribution) _payLeader(taskId, round, s, packed);
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

    function _payLeader(uint256 taskId, uint64 round, State memory s, uint256 packed) private {
        address leader = _miners[taskId][Sortition.at(packed, s.attempt)].miner;
        uint256 cut = Payouts.leaderCut(_rewards[taskId].perRoundReward, s.clientCount);
        _funds[taskId].pot -= uint128(cut);
        _credit(leader, cut);
        emit LeaderRewarded(taskId, round, leader, cut);
        _registry.awardCredits(taskId, leader, cut);
    }

    /// @dev Checks and stores the weights. Under DataAmount no client may take more than twice
    ///      an equal share of the accepted clients (H-3: a claimed sample count cannot buy the round).
    function _storeWeights(uint256 taskId, uint64 round, uint256 n, uint256 acceptedCount, Verdict calldata verdict)
        private
    {
        RewardPolicy policy = _configs[taskId].policy;
        uint16[] calldata weights = verdict.weights;
        bool weighted = policy == RewardPolicy.Contribution || policy == RewardPolicy.DataAmount;
        if (!weighted) {
            if (weights.length != 0) revert TaskManagerInvalidWeights(taskId, round, weights.length, 0);
            return;
        }
        if (weights.length != n) revert TaskManagerInvalidWeights(taskId, round, weights.length, 0);
        uint256 total;
        uint256 cap = policy == RewardPolicy.DataAmount && acceptedCount != 0
            ? Payouts.dataShareCap(acceptedCount)
            : Payouts.BPS;
        for (uint256 i; i < n; ++i) {
            uint256 w = weights[i];
            total += w;
            if ((w != 0 && (verdict.accepted >> i) & 1 == 0) || w > cap) {
                revert TaskManagerInvalidWeights(taskId, round, n, total);
            }
        }
        if (total > Payouts.BPS) revert TaskManagerInvalidWeights(taskId, round, n, total);
        _packWeights(_weights[taskId], uint256(round) * n, weights);
    }

    /// @dev Writes 16-bit weights at positions start, start+1, ... (16 per word), one SSTORE per word.
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

    /// @dev The hot loop of relayed submissions, in assembly to stay near the floor of
    ///      calldata + ecrecover + one log per update (see docs/contracts.md, "Gas"). For each
    ///      update: check numSamples in [1, 2^32) and the codec, hash the EIP-712 Update struct,
    ///      recover the signer with the ecrecover precompile (s in the lower half order, as
    ///      OpenZeppelin's ECDSA requires), and emit {UpdateSubmitted} with the signer. Stops at
    ///      the first bad update and returns its index and the reason (0: none).
    function _recordSignedUpdates(
        uint256 taskId,
        uint64 round,
        bytes32 domain,
        SignedUpdate[] calldata updates
    ) private returns (uint256 bad, uint256 reason) {
        bytes32 typehash = _UPDATE_TYPEHASH;
        bytes32 topic = UpdateSubmitted.selector;
        assembly ("memory-safe") {
            // Scratch memory past the free-memory pointer (never allocated): [0x00, 0xc0) the
            // struct being hashed, [0xc0, 0x140) the typed hash, ecrecover input and log data.
            let ptr := mload(0x40)
            let q := add(ptr, 0xc0)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), taskId)
            mstore(add(ptr, 0x40), round)
            let n := updates.length
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let item := add(updates.offset, mul(k, 0xa0))
                let digest := calldataload(item)
                let samples := calldataload(add(item, 0x20))
                let codec := calldataload(add(item, 0x40))
                if or(iszero(samples), gt(samples, 0xffffffff)) {
                    bad := k
                    reason := 3
                    break
                }
                if iszero(or(eq(codec, 0x55), eq(codec, 0x70))) {
                    bad := k
                    reason := 2
                    break
                }
                mstore(add(ptr, 0x60), digest)
                mstore(add(ptr, 0x80), samples)
                mstore(add(ptr, 0xa0), codec)
                mstore(q, shl(240, 0x1901))
                mstore(add(q, 0x02), domain)
                mstore(add(q, 0x22), keccak256(ptr, 0xc0))
                let hash := keccak256(q, 0x42)
                let vs := calldataload(add(item, 0x80))
                let s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
                if gt(s, 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0) {
                    bad := k
                    reason := 1
                    break
                }
                mstore(q, hash)
                mstore(add(q, 0x20), add(shr(255, vs), 27))
                mstore(add(q, 0x40), calldataload(add(item, 0x60)))
                mstore(add(q, 0x60), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 0x01, q, 0x80, 0x00, 0x20))
                let signer := mload(0x00)
                if iszero(signer) {
                    bad := k
                    reason := 1
                    break
                }
                mstore(q, digest)
                mstore(add(q, 0x20), samples)
                mstore(add(q, 0x40), codec)
                log4(q, 0x60, topic, taskId, round, signer)
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
}
