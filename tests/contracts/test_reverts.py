"""Every custom error of the task protocol, each with its arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedchain.chain.testing import SolcUnavailable, compile_solidity, reverts

from .conftest import CATEGORY, POLICY, STATUS, World, digest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("overrides", "error", "args"),
    [
        ({"rounds": 0}, "TaskManagerInvalidRounds", {"rounds": 0}),
        ({"rounds": 251}, "TaskManagerInvalidRounds", {"rounds": 251}),
        ({"maxClients": 0}, "TaskManagerInvalidMaxClients", {"maxClients": 0}),
        ({"maxClients": 257}, "TaskManagerInvalidMaxClients", {"maxClients": 257}),
        ({"committeeSize": 0}, "TaskManagerInvalidCommitteeSize", {"committeeSize": 0}),
        ({"committeeSize": 17}, "TaskManagerInvalidCommitteeSize", {"committeeSize": 17}),
        ({"byzantineF": 8}, "TaskManagerInvalidByzantineBound", {"byzantineF": 8, "maxClients": 8}),
        ({"submitDuration": 0}, "TaskManagerInvalidDurations", {"submitDuration": 0}),
        ({"joinDeadline": 1}, "TaskManagerInvalidJoinDeadline", {"joinDeadline": 1}),
        ({"category": b"\x00" * 32}, "TaskManagerZeroCategory", {}),
        ({"clientMortgage": 10**14 + 1}, "TaskManagerInvalidMortgage", {"rounds": 3}),
        ({"minMinerStake": 0}, "TaskManagerInvalidMinerStake", {"minMinerStake": 0}),
        ({"initialCodec": 0x12}, "TaskManagerInvalidCodec", {"codec": 0x12}),
        (
            {"rewardUnit": 10**13},
            "TaskManagerRewardUnitTooHigh",
            {"rewardUnit": 10**13, "maxRoundPayout": 10**13 * 100 * 8},
        ),
        (
            {"rewardUnit": 10**14, "policy": POLICY["fixed"]},
            "TaskManagerRewardUnitTooHigh",
            {"maxRoundPayout": 10**14 * 5 * 8},
        ),
    ],
)
def test_create_rejects_bad_specs(eworld: World, overrides: dict, error: str, args: dict) -> None:
    spec = eworld.spec(**overrides)
    with reverts(error, **args):
        eworld.tasks.createTask(
            spec, sender=eworld.requester, value=spec["rounds"] * spec["perRoundReward"]
        )


def test_create_needs_the_exact_escrow(eworld: World) -> None:
    spec = eworld.spec()
    with reverts("TaskManagerEscrowMismatch", required=3 * 10**15, sent=1):
        eworld.tasks.createTask(spec, sender=eworld.requester, value=1)


def test_join_errors(world: World) -> None:
    task, spec = world.create(minReputation=0, committeeSize=1)
    m = spec["clientMortgage"]
    c0, miner = world.clients[0], world.miners[0]
    with reverts("TaskManagerUnknownTask", taskId=99):
        world.tasks.joinAsClient(99, sender=c0)
    with reverts("TaskManagerWrongMortgage", taskId=task, required=m, sent=m - 1):
        world.tasks.joinAsClient(task, sender=c0, value=m - 1)
    with reverts("TaskManagerNotRegistered", account=miner.address, role=1):
        world.tasks.joinAsClient(task, sender=miner)
    with reverts("TaskManagerNotRegistered", account=c0.address, role=2):
        world.tasks.joinAsMiner(task, 10**15, sender=c0)
    with reverts("TaskManagerStakeTooLow", taskId=task, stake=1, minimum=10**15):
        world.tasks.joinAsMiner(task, 1, sender=miner)
    with reverts("TaskManagerStakeTooHigh", taskId=task, stake=2**88, maximum=2**88 - 1):
        world.tasks.joinAsMiner(task, 2**88, sender=miner)
    with reverts("TaskManagerWrongStakePayment", taskId=task, stake=10**15, sent=1):
        world.tasks.joinAsMiner(task, 10**15, sender=miner, value=1)
    world.tasks.joinAsClient(task, sender=c0, value=m)  # paid with the call, balance untouched
    with reverts("TaskManagerAlreadyJoined", taskId=task, account=c0.address):
        world.tasks.joinAsClient(task, sender=c0)
    world.tasks.joinAsMiner(task, 10**15, sender=miner)
    with reverts("TaskManagerAlreadyJoined", taskId=task, account=miner.address):
        world.tasks.joinAsMiner(task, 10**15, sender=miner)
    broke = world.clients[1]
    world.tasks.withdraw(world.tasks.balanceOf(broke.address), sender=broke)
    with reverts("TaskManagerInsufficientBalance", account=broke.address, balance=0, required=m):
        world.tasks.joinAsClient(task, sender=broke)
    other, _ = world.create(category=digest("other"))
    with reverts("TaskManagerCategoryMissing", taskId=other, category=digest("other")):
        world.tasks.joinAsClient(other, sender=c0)
    picky, _ = world.create(minReputation=6)
    with reverts("TaskManagerReputationTooLow", taskId=picky, reputation=5, minimum=6):
        world.tasks.joinAsClient(picky, sender=c0)
    with reverts("TaskManagerJoinStillOpen", taskId=task):
        world.tasks.startTask(task, sender=world.outsider)
    with reverts("TaskManagerJoinStillOpen", taskId=task):  # early only when the task is full
        world.tasks.startTask(task, sender=world.requester)
    two, _ = world.create(committeeSize=2)
    world.join(two, [0], [0])
    short, _ = world.create(committeeSize=1, minTotalStake=2 * 10**15)
    world.join(short, [4], [1])
    world.chain.increase_time(1001)
    with reverts("TaskManagerJoinClosed", taskId=task):
        world.tasks.joinAsClient(task, sender=world.clients[2])
    empty, _ = world.create()
    world.chain.increase_time(1001)
    with reverts("TaskManagerNotStartable", taskId=empty, clientCount=0, minerCount=0):
        world.tasks.startTask(empty, sender=world.outsider)
    # Fewer distinct miners than committeeSize: the committee is not shrunk to fit.
    with reverts("TaskManagerNotStartable", taskId=two, clientCount=1, minerCount=1):
        world.tasks.startTask(two, sender=world.outsider)
    with reverts("TaskManagerStakeShortfall", taskId=short, totalStake=10**15,
                 required=2 * 10**15):  # fmt: skip
        world.tasks.startTask(short, sender=world.outsider)
    world.tasks.startTask(task, sender=world.outsider)  # anyone, after the join deadline
    with reverts(
        "TaskManagerWrongStatus", taskId=task, status=STATUS["Running"], expected=STATUS["Joining"]
    ):
        world.tasks.joinAsClient(task, sender=world.clients[3])


def test_membership_overflow_mapping(world: World) -> None:
    """A client in three running tasks keeps the third membership in the overflow mapping."""
    deadline = world.chain.timestamp() + 1000  # one join window for all three
    tasks = []
    for _ in range(3):
        task, _ = world.create(committeeSize=1, rounds=1, clientMortgage=10**14,
                               joinDeadline=deadline)  # fmt: skip
        world.join(task, [0], [0])
        tasks.append(task)
    for task in tasks:
        world.start(task)
    for task in tasks:
        assert world.tasks.memberOf(task, world.clients[0].address).role == 1
        world.play(task, 0, [0], [0])
    for task in tasks:
        world.settle_all(task, [0], [0])
    assert world.chain.balance(world.tasks.address) == world.owed_total()


def test_submission_errors(world: World) -> None:
    task, _ = world.setup(clients=2, miners=1, committeeSize=1)
    c0 = world.clients[0]
    d = digest("u")
    for args, error, expected in [
        ((task, 1, d, 10, 0x55), "TaskManagerWrongRound", {"round": 1, "currentRound": 0}),
        ((task, 0, d, 10, 0x56), "TaskManagerInvalidCodec", {"codec": 0x56}),
        ((task, 0, d, 0, 0x55), "TaskManagerZeroSamples", {"client": c0.address}),
        ((99, 0, d, 10, 0x55), "TaskManagerUnknownTask", {"taskId": 99}),
    ]:
        with reverts(error, **expected):
            world.tasks.submitUpdate(*args, sender=c0)
    with reverts("TaskManagerNotClient", taskId=task, account=world.clients[5].address):
        world.tasks.submitUpdate(task, 0, d, 10, 0x55, sender=world.clients[5])
    result = world.tasks.submitUpdate(task, 0, d, 10, 0x70, sender=c0)
    assert result.event("UpdateSubmitted").args == {
        "taskId": task,
        "round": 0,
        "client": c0.address,
        "digest": d,
        "numSamples": 10,
        "codec": 0x70,
    }
    assert result.gas_used <= 30_000
    world.chain.increase_time(101)
    with reverts("TaskManagerRoundClosed", taskId=task, round=0):
        world.tasks.submitUpdate(task, 0, d, 10, 0x55, sender=c0)


def test_verdict_errors(world: World) -> None:
    task, _ = world.create(committeeSize=3)
    world.join(task, range(2), range(3))
    world.until(lambda: world.start(task), lambda: world.distinct(task, 0))
    leader, member, silent = world.committee(task, 0)
    verdict = world.verdict(task, 0, [0], [0])  # not everyone submitted: wait for the deadline
    with reverts("TaskManagerNoVerdict", taskId=task, round=0):
        world.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=member)
    with reverts("TaskManagerSubmissionsOpen", taskId=task, round=0):
        world.tasks.postVerdict(task, 0, verdict, [], sender=leader)
    with reverts("TaskManagerNotLeader", account=member.address, leader=leader.address):
        world.tasks.postVerdict(task, 0, verdict, [], sender=member)
    with reverts("TaskManagerWrongRound", round=2):
        world.tasks.postVerdict(task, 2, verdict, [], sender=leader)
    world.chain.increase_time(101)
    with reverts("TaskManagerInvalidCodec", codec=0):
        world.tasks.postVerdict(task, 0, dict(verdict, codec=0), [], sender=leader)
    with reverts("TaskManagerInvalidWeights", taskId=task, round=0, length=1):
        world.tasks.postVerdict(task, 0, dict(verdict, weights=[1]), [], sender=leader)
    world.tasks.postVerdict(task, 0, verdict, [], sender=leader)
    with reverts("TaskManagerNotCommitteeMember", account=world.clients[0].address):
        world.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=world.clients[0])
    world.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=member)
    with reverts("TaskManagerAlreadyAttested", account=member.address):
        world.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=member)
    # A posted verdict without quorum: the replaced leader is slashed as rejected (3), and the
    # seat that neither attested nor dissented as silent (4); the dissenter is not.
    with reverts("TaskManagerVerdictWindowOpen", taskId=task, round=0):
        world.tasks.replaceLeader(task, sender=world.outsider)  # quorum is still reachable
    world.chain.increase_time(101)
    replaced = world.tasks.replaceLeader(task, sender=world.outsider)
    assert replaced.event("LeaderReplaced").args["formerPosted"] is True
    slashes = [(e.args["miner"], e.args["reason"]) for e in replaced.events_named("StakeSlashed")]
    assert slashes == [(leader.address, 3), (silent.address, 4)]
    assert world.tasks.pendingVerdictHash(task) == b"\x00" * 32


def test_ledger_and_settlement_errors(world: World) -> None:
    with reverts("TaskManagerZeroAmount"):
        world.tasks.deposit(sender=world.outsider)
    with reverts("TaskManagerZeroAmount"):
        world.tasks.withdraw(0, sender=world.outsider)
    task, _ = world.setup(clients=1, miners=1, committeeSize=1, rounds=1, clientMortgage=10**14)
    with reverts(
        "TaskManagerWrongStatus", taskId=task, status=STATUS["Running"], expected=STATUS["Finished"]
    ):
        world.tasks.settle(task, world.clients[0].address, sender=world.outsider)
    world.play(task, 0, [0], [0])
    with reverts("TaskManagerNotMember", taskId=task, account=world.outsider.address):
        world.tasks.settle(task, world.outsider.address, sender=world.outsider)
    with reverts("TaskManagerNotClient", taskId=task, account=world.miners[0].address):
        world.tasks.previewClientSettlement(task, world.miners[0].address)
    assert world.tasks.previewMinerSettlement(task, world.miners[0].address) == (0, 10**15)
    with reverts("TaskManagerNotMember"):
        world.tasks.previewMinerSettlement(task, world.clients[0].address)
    with reverts("TaskManagerUnknownTask", taskId=42):
        world.tasks.cancelTask(42, sender=world.outsider)


def test_withdraw_failures_and_reentrancy(eworld: World) -> None:
    try:
        arts = compile_solidity({"Wallets.sol": FIXTURES / "Wallets.sol"})
    except SolcUnavailable as exc:
        pytest.skip(str(exc))
    for name in ("RejectingWallet", "ReentrantWallet"):
        wallet = eworld.chain.deploy(arts[name], sender=eworld.requester)
        wallet.depositTo(eworld.tasks.address, sender=eworld.requester, value=10**15)
        with reverts("TaskManagerTransferFailed", account=wallet.address, amount=10**15):
            wallet.withdrawFrom(eworld.tasks.address, 10**15, sender=eworld.requester)
        assert eworld.tasks.balanceOf(wallet.address) == 10**15


def test_category_constant_is_registered(world: World) -> None:
    assert world.registry.profileCount(world.clients[0].address, CATEGORY) == 1
