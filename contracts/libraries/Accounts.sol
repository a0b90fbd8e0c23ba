// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Accounts
/// @notice Bit layout of a participant's account word in the TaskManager: its internal balance
///         and up to two task memberships inline, so that joining and settling rewrite one
///         existing slot instead of creating one per task (a new slot costs ~22k gas).
/// @dev Layout of the uint256 word:
///      bits   0..95   balance (wei)
///      bit    96      opened: set once the account was first written, so the word never
///                     returns to zero (rewriting a non-zero slot is ~5k gas, creating one ~22k)
///      bit    97      overflow: the account holds (or held) a membership in the mapping
///      bits 104..167  inline membership 0, bits 168..231 inline membership 1, each
///                     taskId (32) | role (8) << 32 | index (8) << 40 | reputation at join (16) << 48
///      bits 232..255  the join-permit nonce (revocations and exits; wraps after 2^24)
///      A membership whose task id does not fit 32 bits, or that finds both inline places
///      taken, goes to the TaskManager's `_members` mapping instead.
library Accounts {
    uint256 internal constant BALANCE_MASK = (uint256(1) << 96) - 1;
    uint256 internal constant OPENED = uint256(1) << 96;
    uint256 internal constant OVERFLOW = uint256(1) << 97;
    uint256 internal constant NONE = type(uint256).max;
    uint256 private constant _ENTRY0 = 104;
    uint256 private constant _ENTRY_MASK = (uint256(1) << 64) - 1;
    uint256 private constant _NONCE0 = 232;

    /// @notice The balance held in `word`.
    function balance(uint256 word) internal pure returns (uint256) {
        return word & BALANCE_MASK;
    }

    /// @notice `word` with balance `amount` (< 2^96, checked by the caller) and `opened` set.
    function withBalance(uint256 word, uint256 amount) internal pure returns (uint256) {
        return (word & ~BALANCE_MASK) | amount | OPENED;
    }

    /// @notice Packs one inline membership.
    function pack(uint256 taskId, uint256 role, uint256 index, uint256 reputation)
        internal
        pure
        returns (uint256)
    {
        return taskId | (role << 32) | (index << 40) | (reputation << 48);
    }

    /// @notice The inline membership at place `k` (0 or 1).
    function entry(uint256 word, uint256 k) internal pure returns (uint256) {
        return (word >> (_ENTRY0 + 64 * k)) & _ENTRY_MASK;
    }

    /// @notice Place of `taskId`'s inline membership, or NONE.
    function find(uint256 word, uint256 taskId) internal pure returns (uint256) {
        for (uint256 k; k < 2; ++k) {
            uint256 e = entry(word, k);
            if (e & 0xffffffff == taskId && (e >> 32) & 0xff != 0) return k;
        }
        return NONE;
    }

    /// @notice First free inline place, or NONE.
    function free(uint256 word) internal pure returns (uint256) {
        for (uint256 k; k < 2; ++k) {
            if ((entry(word, k) >> 32) & 0xff == 0) return k;
        }
        return NONE;
    }

    /// @notice The join-permit nonce held in `word`.
    function joinNonce(uint256 word) internal pure returns (uint256) {
        return word >> _NONCE0;
    }

    /// @notice `word` with join-permit nonce `nonce` (kept modulo 2^24).
    function withJoinNonce(uint256 word, uint256 nonce) internal pure returns (uint256) {
        return (word & ((uint256(1) << _NONCE0) - 1)) | ((nonce & 0xffffff) << _NONCE0);
    }

    /// @notice `word` with place `k` set to the packed membership `e` (0 clears it).
    function withEntry(uint256 word, uint256 k, uint256 e) internal pure returns (uint256) {
        uint256 shift = _ENTRY0 + 64 * k;
        return (word & ~(_ENTRY_MASK << shift)) | (e << shift);
    }
}
