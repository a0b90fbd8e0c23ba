// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Reputation
/// @notice The M9 reputation rule of paper 004 (eq. 2) as a pure function.
/// @dev gamma in {0..gammamax}, threshold h, evaluation a in {H (accepted), L (not accepted)}:
///      gamma < h -> gamma + 1 (the paper's last case, read as gamma < h, whatever a is);
///      a = H and gamma >= h -> min(gammamax, gamma + 1);
///      a = L and gamma = h -> 0;
///      a = L and gamma >= h + 1 -> gamma - 1.
///      Callers guarantee h <= gammamax, so every result stays in [0, gammamax].
library Reputation {
    /// @notice Reputation after one evaluation.
    function next(uint256 gamma, bool accepted, uint256 gammaMax, uint256 threshold)
        internal
        pure
        returns (uint256)
    {
        // unchecked: gamma < threshold <= gammaMax < 2^16 so gamma + 1 cannot overflow, and the
        // gamma - 1 branch only runs for gamma > threshold >= 0, i.e. gamma >= 1.
        unchecked {
            if (gamma < threshold) return gamma + 1;
            if (accepted) return gamma >= gammaMax ? gammaMax : gamma + 1;
            if (gamma == threshold) return 0;
            return gamma - 1;
        }
    }

    /// @notice Applies `count` evaluations in order: bit k of `evaluations` is 1 when the k-th
    ///         evaluated round accepted the participant's update.
    function applyAll(
        uint256 gamma,
        uint256 evaluations,
        uint256 count,
        uint256 gammaMax,
        uint256 threshold
    ) internal pure returns (uint256) {
        for (uint256 k; k < count; ++k) {
            gamma = next(gamma, (evaluations >> k) & 1 == 1, gammaMax, threshold);
        }
        return gamma;
    }
}
