// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Bitmaps} from "../libraries/Bitmaps.sol";
import {Payouts} from "../libraries/Payouts.sol";
import {Sortition} from "../libraries/Sortition.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskCommittee
/// @notice Opening a round, drawing its committee from a seed nobody could know when the round
///         opened, and recording committee members' offenses (shared by both TaskManager halves).
/// @dev The committee word of a round: bits 0..127 seat k's miner index in byte k, bits
///      128..191 the seed block, bit 255 set once drawn. The seed is
///      keccak256(abi.encode(blockhash(seedBlock), taskId, round)) where seedBlock is the block
///      that opened the round: no transaction in that block can read its hash, so whoever opens
///      the round (and whenever) cannot choose or even see the committee it gets.
abstract contract TaskCommittee is TaskStorage {
    /// @dev Fixes `round`'s seed block (this one) and sets its deadlines; the committee is drawn
    ///      later, by the first transaction that needs it ({_drawCommittee}).
    function _openRound(uint256 taskId, State memory s, uint256 round) internal {
        _committees[taskId][round] = block.number << 128;
        Terms memory t = _terms[taskId];
        s.round = uint16(round);
        s.submitDeadline = uint40(block.timestamp + t.submitDuration);
        s.verdictDeadline = s.submitDeadline + t.verdictDuration;
        s.attempt = 0;
        s.approvals = 0;
        s.dissents = 0;
        s.pendingAccepted = 0;
        emit RoundOpened(taskId, uint64(round), uint64(block.number), s.submitDeadline, s.verdictDeadline);
    }

    /// @dev `round`'s packed committee, drawing and storing it on first use.
    function _drawCommittee(uint256 taskId, uint256 round, uint256 size) internal returns (uint256 packed) {
        uint256 word = _committees[taskId][round];
        if (word & _DRAWN != 0) return word;
        bytes32 seed;
        (packed, seed) = _computeCommittee(taskId, round, word, size);
        packed |= (word & ~Bitmaps.lowMask(128)) | _DRAWN;
        _committees[taskId][round] = packed;
        address[] memory members = new address[](size);
        for (uint256 k; k < size; ++k) {
            members[k] = _miners[taskId][Sortition.at(packed, k)].miner;
        }
        emit CommitteeDrawn(taskId, uint64(round), seed, members);
    }

    /// @dev `round`'s packed committee without storing it (reverts while the seed is unknown).
    function _committeeWord(uint256 taskId, uint256 round, uint256 size) internal view returns (uint256 packed) {
        uint256 word = _committees[taskId][round];
        if (word & _DRAWN != 0) return word;
        (packed,) = _computeCommittee(taskId, round, word, size);
    }

    function _computeCommittee(uint256 taskId, uint256 round, uint256 word, uint256 size)
        private
        view
        returns (uint256 packed, bytes32 seed)
    {
        uint256 seedBlock = uint64(word >> 128);
        if (block.number <= seedBlock) revert TaskManagerSeedNotReady(taskId, uint64(round), seedBlock);
        bytes32 hash = blockhash(seedBlock);
        if (hash == bytes32(0)) revert TaskManagerSeedExpired(taskId, uint64(round), seedBlock);
        seed = keccak256(abi.encode(hash, taskId, round));
        uint256 m = _states[taskId].minerCount;
        uint256[] memory stakes = new uint256[](m);
        for (uint256 i; i < m; ++i) {
            stakes[i] = _miners[taskId][i].stake;
        }
        packed = Sortition.draw(seed, stakes, size);
    }

    /// @dev The current leader's attempt failed (no verdict, or one that did not reach quorum):
    ///      it answers for it, and so does every seat that neither attested nor dissented from a
    ///      posted verdict. `packed` is the drawn committee.
    function _failAttempt(uint256 taskId, State memory s, uint256 packed) internal {
        uint64 round = s.round;
        bool posted = s.approvals != 0;
        _recordOffense(taskId, round, Sortition.at(packed, s.attempt), posted ? _SLASH_REJECTED : _SLASH_NO_VERDICT);
        if (!posted) return;
        uint256 answered = s.approvals | s.dissents;
        for (uint256 k; k < s.committeeSize; ++k) {
            if ((answered >> k) & 1 == 0) _recordOffense(taskId, round, Sortition.at(packed, k), _SLASH_SILENT);
        }
    }

    /// @dev One more offense (8-bit counter; the deployment's slashBps reaches the whole stake
    ///      before it saturates) and its slash event.
    function _recordOffense(uint256 taskId, uint64 round, uint256 minerIndex, uint8 reason) internal {
        uint256 count = _offenseCount(taskId, minerIndex);
        if (count == _OFFENSE_CAP) return;
        _offenses[taskId][minerIndex >> 5] += uint256(1) << ((minerIndex & 31) * 8);
        MinerEntry memory entry = _miners[taskId][minerIndex];
        uint256 before = Payouts.slashed(entry.stake, count, _slashBps);
        uint256 amount = Payouts.slashed(entry.stake, count + 1, _slashBps) - before;
        emit StakeSlashed(taskId, entry.miner, round, reason, amount);
    }
}
