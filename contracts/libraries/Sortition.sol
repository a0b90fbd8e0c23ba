// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Sortition
/// @notice Stake-weighted sampling without replacement, recomputable off-chain exactly.
/// @dev Algorithm (docs/contracts.md has it verbatim, fedchain.verification mirrors it):
///      miners in join order with stakes; total = sum stakes; for k in 0..size-1:
///      r = uint256(keccak256(abi.encodePacked(seed, uint256(k)))) % total; walk the remaining
///      miners in join order subtracting stakes until r < stake_i; pick i; remove it;
///      total -= stake_i. If size >= miners, every miner is picked, in drawn order.
///      The result packs position k into byte k (bits 8k..8k+7) of a word.
library Sortition {
    /// @notice Draws `size` distinct indices into `stakes` (every stake > 0, at most 256 miners,
    ///         size <= 32). Returns the packed committee and the number drawn.
    function draw(bytes32 seed, uint256[] memory stakes, uint256 size)
        internal
        pure
        returns (uint256 packed, uint256 drawn)
    {
        uint256 m = stakes.length;
        uint256 total;
        for (uint256 i; i < m; ++i) {
            total += stakes[i];
        }
        drawn = size < m ? size : m;
        uint256 picked; // bit i set once miner i is drawn
        for (uint256 k; k < drawn; ++k) {
            uint256 r = uint256(keccak256(abi.encodePacked(seed, k))) % total;
            for (uint256 i; i < m; ++i) {
                if ((picked >> i) & 1 == 1) continue;
                uint256 stake = stakes[i];
                if (r < stake) {
                    picked |= uint256(1) << i;
                    packed |= i << (8 * k);
                    total -= stake;
                    break;
                }
                r -= stake;
            }
        }
    }

    /// @notice Miner index at committee position `k` of a packed committee.
    function at(uint256 packed, uint256 k) internal pure returns (uint256) {
        return (packed >> (8 * k)) & 0xff;
    }

    /// @notice Position of miner `index` in the first `size` places of `packed`, or type(uint256).max.
    function positionOf(uint256 packed, uint256 size, uint256 index)
        internal
        pure
        returns (uint256)
    {
        for (uint256 k; k < size; ++k) {
            if ((packed >> (8 * k)) & 0xff == index) return k;
        }
        return type(uint256).max;
    }
}
