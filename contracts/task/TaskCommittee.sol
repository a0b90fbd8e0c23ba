// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Payouts} from "../libraries/Payouts.sol";
import {Sortition} from "../libraries/Sortition.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskCommittee
/// @notice Opening a round (the seed, the stake-weighted committee and the deadlines) and
///         recording committee members' offenses (shared by both TaskManager halves).
abstract contract TaskCommittee is TaskStorage {
    /// @dev Draws the committee of `round` from a seed fixed now, and sets its deadlines.
    function _openRound(uint256 taskId, State memory s, uint256 round) internal {
        bytes32 seed = keccak256(abi.encode(block.prevrandao, taskId, round));
        uint256 m = s.minerCount;
        uint256[] memory stakes = new uint256[](m);
        address[] memory miners = new address[](m);
        for (uint256 i; i < m; ++i) {
            MinerEntry memory entry = _miners[taskId][i];
            stakes[i] = entry.stake;
            miners[i] = entry.miner;
        }
        (uint256 packed, uint256 size) = Sortition.draw(seed, stakes, s.committeeSize);
        _committees[taskId][round] = packed;
        address[] memory members = new address[](size);
        for (uint256 k; k < size; ++k) {
            members[k] = miners[Sortition.at(packed, k)];
        }
        Terms memory t = _terms[taskId];
        s.round = uint16(round);
        s.submitDeadline = uint40(block.timestamp + t.submitDuration);
        s.verdictDeadline = s.submitDeadline + t.verdictDuration;
        s.attempt = 0;
        s.approvals = 0;
        s.dissents = 0;
        s.pendingAccepted = 0;
        emit RoundOpened(taskId, uint64(round), seed, members, s.submitDeadline, s.verdictDeadline);
    }

    /// @dev One more offense (4-bit counter, saturating at 15) and its slash event.
    function _recordOffense(uint256 taskId, uint64 round, uint256 minerIndex, uint8 reason) internal {
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
}
