// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Sortition} from "../libraries/Sortition.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskCommittee
/// @notice Opening a round: the seed, the stake-weighted committee and the deadlines.
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
}
