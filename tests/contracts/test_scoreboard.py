"""The ScoreBoard (M13): one row per validator and round, checked against the TaskManager, on the
embedded chain and on Anvil. Each test plays a participant trying to post a row it should not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fedchain.chain.deploy import DeploymentError
from fedchain.chain.testing import reverts
from fedchain.roles import Participant
from fedchain.roles.requester import publish_task
from fedchain.roles.taskfile import TaskFile
from fedchain.storage import open_store

from .conftest import World


def _running(world: World, clients: int = 4) -> int:
    task, _ = world.setup(clients=clients)
    world.submit(task, 0, range(clients))
    return task


def test_each_submitter_posts_one_row_and_the_event_carries_it(world: World) -> None:
    board = world.d.scores
    task = _running(world)
    submitted = 0b1111
    result = board.postScores(task, 0, submitted, [0, 9100, 8800, 1200], sender=world.clients[0])
    (event,) = result.events_named("ScoresPosted")
    assert event.args["validator"] == world.clients[0].address
    assert int(event.args["index"]) == 0 and int(event.args["submitted"]) == submitted
    assert list(event.args["scores"]) == [0, 9100, 8800, 1200]
    board.postScores(task, 0, submitted, [9000, 0, 8700, 1100], sender=world.clients[1])
    assert int(board.scoredBitmap(task, 0)) == 0b11
    with reverts("ScoreBoardAlreadyScored", taskId=task, round=0):
        board.postScores(task, 0, submitted, [0, 1, 1, 1], sender=world.clients[0])


def test_rows_that_would_lie_about_the_round_are_refused(world: World) -> None:
    board = world.d.scores
    task = _running(world)
    c = world.clients
    with reverts("ScoreBoardNotClient", taskId=task):
        board.postScores(task, 0, 0b1111, [0, 1, 1, 1], sender=world.outsider)
    with reverts("ScoreBoardNotInRound", taskId=task, round=0):  # not in the set it scores
        board.postScores(task, 0, 0b0110, [0, 1, 1, 0], sender=c[0])
    with reverts("ScoreBoardInvalidSubmitted", taskId=task, clientCount=4):
        board.postScores(task, 0, 0b11111, [0, 1, 1, 1, 1], sender=c[0])
    with reverts("ScoreBoardWrongLength", taskId=task, length=3, clientCount=4):
        board.postScores(task, 0, 0b1111, [0, 1, 1], sender=c[0])
    with reverts("ScoreBoardInvalidScore", taskId=task, index=0, score=5):  # scoring itself
        board.postScores(task, 0, 0b1111, [5, 1, 1, 1], sender=c[0])
    with reverts("ScoreBoardInvalidScore", taskId=task, index=3, score=7):  # outside the set
        board.postScores(task, 0, 0b0111, [0, 1, 1, 7], sender=c[0])
    with reverts("ScoreBoardInvalidScore", taskId=task, index=1, score=10_001):
        board.postScores(task, 0, 0b1111, [0, 10_001, 1, 1], sender=c[0])
    with reverts("ScoreBoardWrongRound", taskId=task, round=1, current=0):
        board.postScores(task, 1, 0b1111, [0, 1, 1, 1], sender=c[0])
    assert int(board.scoredBitmap(task, 0)) == 0  # nothing was recorded


def test_the_window_closes_half_way_through_the_verdict_window(world: World) -> None:
    board = world.d.scores
    task = _running(world)
    info = world.tasks.taskInfo(task)
    closes = int(info.submitDeadline) + int(info.verdictDuration) // 2
    assert int(board.scoringClosesAt(task)) == closes
    board.postScores(task, 0, 0b1111, [0, 1, 1, 1], sender=world.clients[0])  # caches the window
    world.chain.increase_time(closes - world.chain.timestamp() + 1)
    with reverts("ScoreBoardClosed", taskId=task, round=0, closedAt=closes):
        board.postScores(task, 0, 0b1111, [1, 0, 1, 1], sender=world.clients[1])


def test_a_task_that_is_not_running_takes_no_rows(world: World) -> None:
    board = world.d.scores
    task, _ = world.create()
    world.join(task, range(4), range(3))
    with reverts("ScoreBoardNotRunning", taskId=task, status=1):  # still joining
        board.postScores(task, 0, 0b1111, [0, 1, 1, 1], sender=world.clients[0])
    assert board.tasks() == world.tasks.address


def test_a_mutual_task_needs_a_scoreboard_before_any_money_moves(
    world: World, tmp_path: Path
) -> None:
    """A deployment file from before the ScoreBoard cannot run mutual supervision: publishing
    such a task fails before the escrow is sent."""
    old = dataclasses.replace(world.d, scores=None)
    assert "score_board" not in old.to_json()
    who = Participant(world.chain, old, open_store(f"local:{tmp_path}"), world.requester)
    task = TaskFile.from_dict({
        "task": {"max_clients": 4, "rounds": 1, "byzantine_f": 1},
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": 10**15},
        "verification": {"rule": "mutual"},
    })  # fmt: skip
    count, balance = int(world.tasks.taskCount()), world.chain.balance(world.requester.address)
    with pytest.raises(DeploymentError, match="no ScoreBoard"):
        publish_task(who, task)
    assert int(world.tasks.taskCount()) == count
    assert world.chain.balance(world.requester.address) == balance
