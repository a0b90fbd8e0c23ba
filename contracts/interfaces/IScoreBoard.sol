// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IScoreBoard
/// @notice The score matrix of mutual supervision (M13, paper 003): in a round of a task, each
///         client that submitted an update scores the other submitted updates on its own
///         held-out data and posts its row here, one transaction per validator, so that no
///         validator can later deny the scores it gave (non-repudiation). The committee's
///         verdict of a task whose rule is "mutual" is derived from these rows: the rows of
///         validators in the verdict's submitted set, scoring exactly that set, count.
interface IScoreBoard {
    /// @notice The task is not running.
    error ScoreBoardNotRunning(uint256 taskId, uint8 status);
    /// @notice Scores for another round than the task's current one.
    error ScoreBoardWrongRound(uint256 taskId, uint64 round, uint64 current);
    /// @notice The round's scoring window (submit deadline + half the verdict window) is over.
    error ScoreBoardClosed(uint256 taskId, uint64 round, uint256 closedAt);
    /// @notice The caller is not a client of the task.
    error ScoreBoardNotClient(uint256 taskId, address caller);
    /// @notice The caller's own update is not in the submitted set it scores.
    error ScoreBoardNotInRound(uint256 taskId, uint64 round, address caller);
    /// @notice The submitted set names clients the task does not have.
    error ScoreBoardInvalidSubmitted(uint256 taskId, uint256 submitted, uint256 clientCount);
    /// @notice A row must hold one score per client of the task.
    error ScoreBoardWrongLength(uint256 taskId, uint256 length, uint256 clientCount);
    /// @notice A score above 10,000, or a non-zero score of the validator itself or of a
    ///         client outside the submitted set.
    error ScoreBoardInvalidScore(uint256 taskId, uint256 index, uint256 score);
    /// @notice The validator already posted its row for this round.
    error ScoreBoardAlreadyScored(uint256 taskId, uint64 round, address validator);

    /// @notice Validator `validator` (client index `index`) scored the updates of `submitted`:
    ///         `scores[i]` is its score of client i's update in basis points (accuracy on the
    ///         validator's held-out data), 0 for itself and for clients outside `submitted`.
    event ScoresPosted(
        uint256 indexed taskId,
        uint64 indexed round,
        address indexed validator,
        uint8 index,
        uint256 submitted,
        uint16[] scores
    );

    /// @notice Post the caller's row of the round's score matrix.
    /// @param taskId the task.
    /// @param round its current round.
    /// @param submitted bitmap of the clients whose updates the row scores (bit i: client i);
    ///        it must contain the caller.
    /// @param scores one score per client of the task, each at most 10,000.
    function postScores(uint256 taskId, uint64 round, uint256 submitted, uint16[] calldata scores) external;

    /// @notice Bitmap of the client indices that posted a row in round `round` of `taskId`.
    function scoredBitmap(uint256 taskId, uint64 round) external view returns (uint256);

    /// @notice When the scoring window of the task's current round closes (a timestamp).
    function scoringClosesAt(uint256 taskId) external view returns (uint256);

    /// @notice The TaskManager whose tasks this board scores.
    function tasks() external view returns (address);
}
