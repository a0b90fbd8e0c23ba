"""A task's event log (``fedchain.roles.chainview.TaskLog``) when the chain rolls back under it:
a node restarted from a state saved a few blocks earlier, or a reorganisation."""

from __future__ import annotations

from fedchain.roles.chainview import TaskLog

from .conftest import World


def test_events_of_rolled_back_blocks_are_forgotten(eworld: World) -> None:
    task_id, _ = eworld.setup(clients=3, miners=3)
    log = TaskLog(eworld.tasks, task_id)
    log.refresh()
    assert log.epoch == 0 and log.submissions(0) == {}
    saved = eworld.chain.snapshot()
    eworld.submit(task_id, 0, [0, 1])
    log.refresh()
    assert len(log.submissions(0)) == 2
    eworld.chain.revert(saved)  # the blocks with both submissions are gone
    log.refresh()
    assert log.epoch == 1 and log.submissions(0) == {}
    assert len(log.clients()) == 3  # events before the rollback are read again
    eworld.submit(task_id, 0, [2])  # a new block at the height of a lost one
    log.refresh()
    assert list(log.submissions(0)) == [eworld.clients[2].address.lower()]
    assert log.epoch == 1
    log.refresh()  # nothing new, no rollback: the log stays as it is
    assert log.epoch == 1 and len(log.submissions(0)) == 1
