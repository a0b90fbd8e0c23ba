// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Sortition
/// @notice Stake-weighted seat draws with replacement, recomputable off-chain exactly.
/// @dev Algorithm (docs/contracts.md has it verbatim, fedchain.verification.sortition mirrors it):
///      miners in join order with stakes; total = sum stakes; for each seat k in 0..size-1:
///      r = uint256(keccak256(abi.encodePacked(seed, uint256(k)))) % total; walk the miners in
///      join order subtracting stakes until r < stake_i; seat k goes to miner i. Every seat is
///      an independent draw, so a miner expects size x stake / total seats however its stake is
///      split over addresses (splitting into sybils gains nothing). A miner may hold several
///      seats: it votes, and answers for, each of them. Seat k is byte k of the packed word.
library Sortition {
    /// @notice Draws `size` seats (size <= 16) among miners with `stakes` (every stake > 0,
    ///         at most 64 miners). Returns the packed committee.
    function draw(bytes32 seed, uint256[] memory stakes, uint256 size) internal pure returns (uint256 packed) {
        uint256 m = stakes.length;
        uint256 total;
        for (uint256 i; i < m; ++i) {
            total += stakes[i];
        }
        for (uint256 k; k < size; ++k) {
            uint256 r = uint256(keccak256(abi.encodePacked(seed, k))) % total;
            for (uint256 i; i < m; ++i) {
                uint256 stake = stakes[i];
                if (r < stake) {
                    packed |= i << (8 * k);
                    break;
                }
                r -= stake;
            }
        }
    }

    /// @notice Miner index at seat `k` of a packed committee.
    function at(uint256 packed, uint256 k) internal pure returns (uint256) {
        return (packed >> (8 * k)) & 0xff;
    }

    /// @notice Bit k set for every seat k < size that miner `index` holds (0: none).
    function seatsOf(uint256 packed, uint256 size, uint256 index) internal pure returns (uint16 seats) {
        for (uint256 k; k < size; ++k) {
            if ((packed >> (8 * k)) & 0xff == index) seats |= uint16(1 << k);
        }
    }
}
