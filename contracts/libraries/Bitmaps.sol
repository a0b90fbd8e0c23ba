// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Bitmaps
/// @notice Small helpers over 256-bit bitmaps (bit i = member i). A task has at most 256 clients,
///         so one word holds a whole round's submitted or accepted set.
library Bitmaps {
    /// @notice A word with the lowest `n` bits set (n <= 256).
    function lowMask(uint256 n) internal pure returns (uint256) {
        // unchecked: for n = 256 the shift yields 0 and 0 - 1 wraps to all ones, which is the
        // intended mask; for n < 256 (1 << n) >= 1 so the subtraction cannot underflow.
        unchecked {
            return n >= 256 ? type(uint256).max : (uint256(1) << n) - 1;
        }
    }

    /// @notice Whether bit `i` of `word` is set.
    function get(uint256 word, uint256 i) internal pure returns (bool) {
        return (word >> i) & 1 == 1;
    }

    /// @notice Number of set bits (SWAR popcount).
    function popcount(uint256 x) internal pure returns (uint256 count) {
        // unchecked: Kernighan's loop clears one set bit per iteration; x - 1 runs only for x != 0
        // and count <= 256.
        unchecked {
            while (x != 0) {
                x &= x - 1;
                ++count;
            }
        }
    }
}
