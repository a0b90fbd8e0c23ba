// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IScoreBoard} from "./interfaces/IScoreBoard.sol";
import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {ITaskTypes} from "./interfaces/ITaskTypes.sol";

/// @title ScoreBoard
/// @notice Records the mutual-supervision score matrix (M13) of every task of one TaskManager.
/// @dev Standalone: it only reads the TaskManager (status, round, deadlines, membership) and
///      holds no ether. A row is accepted while the round is current and no later than the
///      submit deadline plus half the verdict window, so that a leader that waits for that time
///      (or for every submitter's row) sees every row that can ever count.
contract ScoreBoard is IScoreBoard {
    uint256 internal constant _MAX_SCORE = 10_000;

    /// @dev What a row of the task's current round is checked against, read from the
    ///      TaskManager by the round's first row and reused by the others (gas: one warm slot
    ///      instead of the whole taskInfo per row). A row that comes after its round ended early
    ///      scores a round whose verdict is already posted and counts for nothing.
    struct Window {
        uint64 round;
        uint64 closesAt;
        uint16 clientCount;
        bool read;
    }

    ITaskManager private immutable _tasks;

    mapping(uint256 taskId => Window window) private _windows;
    mapping(uint256 taskId => mapping(uint256 round => uint256 validators)) private _scored;

    /// @param tasks_ the TaskManager whose tasks this board scores.
    constructor(ITaskManager tasks_) {
        _tasks = tasks_;
    }

    /// @inheritdoc IScoreBoard
    function postScores(uint256 taskId, uint64 round, uint256 submitted, uint16[] calldata scores) external {
        Window memory window = _window(taskId, round);
        if (block.timestamp > window.closesAt) revert ScoreBoardClosed(taskId, round, window.closesAt);
        ITaskTypes.MemberInfo memory member = _tasks.memberOf(taskId, msg.sender);
        if (member.role != ITaskTypes.MemberRole.Client) revert ScoreBoardNotClient(taskId, msg.sender);
        uint256 n = window.clientCount;
        if (n < 256 && submitted >> n != 0) revert ScoreBoardInvalidSubmitted(taskId, submitted, n);
        uint256 index = member.index;
        if ((submitted >> index) & 1 == 0) revert ScoreBoardNotInRound(taskId, round, msg.sender);
        if (scores.length != n) revert ScoreBoardWrongLength(taskId, scores.length, n);
        for (uint256 i; i < n; ++i) {
            uint256 score = scores[i];
            bool scorable = i != index && (submitted >> i) & 1 == 1;
            if (score > _MAX_SCORE || (!scorable && score != 0)) revert ScoreBoardInvalidScore(taskId, i, score);
        }
        uint256 scored = _scored[taskId][round];
        if ((scored >> index) & 1 == 1) revert ScoreBoardAlreadyScored(taskId, round, msg.sender);
        _scored[taskId][round] = scored | (1 << index);
        emit ScoresPosted(taskId, round, msg.sender, uint8(index), submitted, scores);
    }

    /// @inheritdoc IScoreBoard
    function scoredBitmap(uint256 taskId, uint64 round) external view returns (uint256) {
        return _scored[taskId][round];
    }

    /// @inheritdoc IScoreBoard
    function scoringClosesAt(uint256 taskId) external view returns (uint256) {
        return _closesAt(_tasks.taskInfo(taskId));
    }

    /// @inheritdoc IScoreBoard
    function tasks() external view returns (address) {
        return address(_tasks);
    }

    /// @dev The window of `round`, from the cache when the round's first row read it already.
    function _window(uint256 taskId, uint64 round) private returns (Window memory window) {
        window = _windows[taskId];
        if (window.read && window.round == round) return window;
        ITaskTypes.TaskInfo memory info = _tasks.taskInfo(taskId);
        if (info.status != ITaskTypes.TaskStatus.Running) revert ScoreBoardNotRunning(taskId, uint8(info.status));
        if (round != info.round) revert ScoreBoardWrongRound(taskId, round, info.round);
        window = Window({round: round, closesAt: uint64(_closesAt(info)), clientCount: info.clientCount, read: true});
        _windows[taskId] = window;
    }

    function _closesAt(ITaskTypes.TaskInfo memory info) private pure returns (uint256) {
        return uint256(info.submitDeadline) + info.verdictDuration / 2;
    }
}
