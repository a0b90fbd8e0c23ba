"""Whole tasks on chain: money conservation, the M11 worked example, M9 trajectories, the
reward policies, the committee algorithm, leader replacement, slashing and cancellation."""

from __future__ import annotations

from eth_utils import keccak

from fedchain.chain.testing import reverts
from fedchain.verification.sortition import round_seed

from .conftest import DEPOSIT, N_CLIENTS, POLICY, SLASH_BPS, STATUS, H, World, account


def _settled(result, name: str) -> dict[str, dict]:
    return {
        e.args["client" if name == "ClientSettled" else "miner"]: e.args
        for e in result.events_named(name)
    }


def test_m11_worked_example_and_money(world: World) -> None:
    # v = 3 rounds, mortgage M = 3e14 (unit M/v = 1e14), reputation policy, unit 1e12, γ0 = h = 5.
    # client 0: accepted r0 r1 r2                   -> p+q = 0
    # client 1: rejected r0 (lazy, q=1)              -> p+q = 1
    # client 2: missing r1 (exit, p=1), rejected r2  -> p+q = 2
    # client 3: accepted r0 r1 r2                   -> p+q = 0
    # punish = (0, 1e14, 2e14, 0), Σ = 3e14; share_i = (Σ - punish_i) // 3
    #   = (1e14, 66_666_666_666_666, 33_333_333_333_333, 1e14)   (1 wei of dust left over)
    # rewards = γ before each accepted round × 1e12:
    #   c0: 5+6+7 = 18; c1: r1 at γ=0 -> 0, r2 at γ=1 -> 1; c2: 5; c3: 18   (× 1e12)
    # reputations: c0 5->6->7->8, c1 5->0->1->2, c2 5->6->5->0, c3 8
    # payout = M - punish + share + reward
    task, _ = world.setup(clients=4, miners=3)
    before = world.chain.balance(world.tasks.address)
    world.play(task, 0, submitted=[0, 1, 2, 3], accepted=[0, 2, 3])
    world.play(task, 1, submitted=[0, 1, 3], accepted=[0, 1, 3])
    world.play(task, 2, submitted=[0, 1, 2, 3], accepted=[0, 1, 3])
    assert world.tasks.taskInfo(task).status == STATUS["Finished"]
    refund_before = world.tasks.balanceOf(world.requester.address)
    result = world.settle_all(task, range(4), range(3))
    got = _settled(result, "ClientSettled")
    expected = {
        0: (18 * 10**12, 0, 10**14, 418 * 10**12, 8),
        1: (10**12, 10**14, 66_666_666_666_666, 267_666_666_666_666, 2),
        2: (5 * 10**12, 2 * 10**14, 33_333_333_333_333, 138_333_333_333_333, 0),
        3: (18 * 10**12, 0, 10**14, 418 * 10**12, 8),
    }
    for i, (reward, penalty, share, payout, reputation) in expected.items():
        args = got[world.clients[i].address]
        assert (args["reward"], args["penalty"], args["penaltyShare"], args["payout"]) == (
            reward,
            penalty,
            share,
            payout,
        )
        assert args["reputation"] == reputation
        # Reputation is kept per requester: only this requester's scope moved.
        address = world.clients[i].address
        assert world.registry.reputationOf(address, world.requester.address) == reputation
        assert world.registry.reputationOf(address, world.outsider.address) == H
        assert world.registry.creditsOf(world.clients[i].address) == reward
    refund = world.tasks.balanceOf(world.requester.address) - refund_before
    assert refund == 3 * 10**15 - 42 * 10**12 + 1  # unearned escrow + 1 wei of penalty dust
    assert result.event("RequesterRefunded").args["amount"] == refund
    for m in world.miners[:3]:
        assert _settled(result, "MinerSettled")[m.address]["payout"] == 10**15
    # Money: nothing left in the task, the contract holds exactly what it owes.
    assert world.tasks.taskPot(task) == 0
    assert world.chain.balance(world.tasks.address) == before == world.owed_total()
    # The M3 cache and the model registry answer with the final model.
    final, codec = world.models.finalModel(task)
    assert final == world.models.roundModel(task, 2)[0] and codec == 0x55
    assert world.models.cachedModel(keccak(b"x"))[0] == 0
    cached_task, _, _ = world.models.cachedModel(world.tasks.taskInfo(task).category)
    assert cached_task == 0  # the key is the request key, not the category
    assert world.models.cachedModel(world.models.requestKeyOf(task))[:2] == (task, final)


def test_settling_twice_and_withdrawal(world: World) -> None:
    task, _ = world.setup(clients=2, miners=1, committeeSize=1, rounds=1, clientMortgage=10**14)
    world.play(task, 0, submitted=[0, 1], accepted=[0, 1])
    world.tasks.settle(task, world.clients[0].address, sender=world.outsider)
    with reverts("TaskManagerNotMember", taskId=task, account=world.clients[0].address):
        world.tasks.settle(task, world.clients[0].address, sender=world.outsider)
    owed = world.tasks.balanceOf(world.clients[0].address)
    eth = world.chain.balance(world.clients[0].address)
    result = world.tasks.withdraw(owed, sender=world.clients[0])
    assert result.event("Withdrawn").args["amount"] == owed
    assert world.chain.balance(world.clients[0].address) == eth + owed - result.fee_wei
    with reverts("TaskManagerInsufficientBalance", balance=0, required=1):
        world.tasks.withdraw(1, sender=world.clients[0])


def test_m9_trajectories_over_six_rounds(world: World) -> None:
    # client 0 honest: 5,6,7,8,9,10,11; client 1 caught at γ = h in round 0: 0,1,2,3,4,5;
    # client 2 caught above h in round 3: 5,6,7,8 -> 7 -> 8 -> 9.
    task, _ = world.setup(
        clients=3,
        miners=1,
        committeeSize=1,
        rounds=6,
        clientMortgage=6 * 10**14,
        perRoundReward=10**16,
    )
    accepted = {0: [0, 2], 1: [0, 1, 2], 2: [0, 1, 2], 3: [0, 1], 4: [0, 1, 2], 5: [0, 1, 2]}
    for r in range(6):
        world.play(task, r, submitted=[0, 1, 2], accepted=accepted[r])
    preview = world.tasks.previewClientSettlement(task, world.clients[1].address)
    assert preview.acceptedRounds == 5 and preview.evaluatedRounds == 6
    world.settle_all(task, range(3), range(1))
    reps = [
        world.registry.reputationOf(c.address, world.requester.address) for c in world.clients[:3]
    ]
    assert reps == [11, 5, 9]


def test_committee_matches_documented_algorithm(world: World) -> None:
    task, _ = world.create(committeeSize=3)
    stakes = [10**15, 5 * 10**15, 2 * 10**15, 10**15, 3 * 10**15]
    for j, stake in enumerate(stakes):
        world.tasks.joinAsMiner(task, stake, sender=world.miners[j])
    world.join(task, clients=[0, 1], miners=[])

    def seats() -> list[str]:
        world.committee(task, 0)  # mines past the seed block
        return list(world.tasks.committee(task, 0))

    # Seats are drawn with replacement: force a committee in which a miner holds two seats, so
    # that the recomputation below checks replacement (a draw without it never repeats one).
    opened = world.until(lambda: world.start(task), lambda: len(set(seats())) < 3)
    event = opened.event("RoundOpened")
    seed_block = int(event.args["seedBlock"])
    assert seed_block == opened.block_number == int(world.tasks.seedBlockOf(task, 0))
    assert "committee" not in event.args  # drawn later, from a hash unknown when it opened
    seed = round_seed(world.chain.block_hash(seed_block), task, 0)
    # The algorithm of docs/contracts.md, recomputed here: independent stake-weighted draws.
    total = sum(stakes)
    drawn = []
    for k in range(3):
        r = int.from_bytes(keccak(seed + k.to_bytes(32, "big")), "big") % total
        for i, stake in enumerate(stakes):
            if r < stake:
                drawn.append(i)
                break
            r -= stake
    expected = [world.miners[i].address for i in drawn]
    assert len(set(expected)) < 3
    assert list(world.tasks.committee(task, 0)) == expected
    assert world.tasks.currentLeader(task) == expected[0]
    draw = world.tasks.drawCommittee(task, sender=world.outsider).event("CommitteeDrawn").args
    assert (bytes(draw["seed"]), list(draw["committee"])) == (seed, expected)
    assert list(world.tasks.committee(task, 0)) == expected  # the stored word reads the same
    with reverts("TaskManagerRoundNotOpened", taskId=task, round=1):
        world.tasks.committee(task, 1)


def test_committee_is_unknown_in_the_opening_block(world: World) -> None:
    task, _ = world.create(committeeSize=2)
    world.join(task, clients=[0], miners=[0, 1])
    opened = world.start(task)
    seed_block = int(opened.event("RoundOpened").args["seedBlock"])
    assert world.chain.block_number() == seed_block
    with reverts("TaskManagerSeedNotReady", taskId=task, round=0, seedBlock=seed_block):
        world.tasks.committee(task, 0)
    with reverts("TaskManagerSeedNotReady", taskId=task, round=0, seedBlock=seed_block):
        world.tasks.currentLeader(task)
    world.chain.mine(1)
    assert len(world.tasks.committee(task, 0)) == 2


def test_reward_policy_contribution_pays_leader_first(world: World) -> None:
    task, _ = world.setup(
        clients=4,
        miners=1,
        committeeSize=1,
        rounds=1,
        clientMortgage=10**14,
        policy=POLICY["contribution"],
        rewardUnit=0,
    )
    leader = world.committee(task, 0)[0]
    before = world.tasks.balanceOf(leader.address)
    result = world.play(task, 0, [0, 1, 2, 3], [0, 1, 2], weights=[5000, 3000, 2000, 0])
    cut = 10**15 // 5  # eq. 10: R / N with N = 4 clients + the leader
    assert result.event("LeaderRewarded").args["amount"] == cut
    assert world.tasks.balanceOf(leader.address) - before == cut
    assert world.registry.creditsOf(leader.address) == cut
    assert world.tasks.clientWeight(task, 0, 1) == 3000
    settled = _settled(world.settle_all(task, range(4), range(1)), "ClientSettled")
    pool = 10**15 - cut
    rewards = [settled[world.clients[i].address]["reward"] for i in range(4)]
    assert rewards == [pool * 5000 // 10_000, pool * 3000 // 10_000, pool * 2000 // 10_000, 0]


def test_reward_policy_data_amount_and_fixed(world: World) -> None:
    task, _ = world.setup(
        clients=3,
        miners=1,
        committeeSize=1,
        rounds=1,
        clientMortgage=10**14,
        policy=POLICY["data_amount"],
        rewardUnit=0,
    )
    world.play(task, 0, [0, 1, 2], [0, 2], weights=[6000, 0, 4000])
    settled = _settled(world.settle_all(task, range(3), range(1)), "ClientSettled")
    assert [settled[world.clients[i].address]["reward"] for i in range(3)] == [
        6 * 10**14,
        0,
        4 * 10**14,
    ]
    # Fixed ("no incentive"): h × unit whatever the reputation.
    task, _ = world.setup(
        clients=2,
        miners=1,
        committeeSize=1,
        rounds=2,
        policy=POLICY["fixed"],
        clientMortgage=2 * 10**14,
    )
    world.play(task, 0, [0, 1], [0])
    world.play(task, 1, [0, 1], [0, 1])
    settled = _settled(world.settle_all(task, range(2), range(1)), "ClientSettled")
    assert settled[world.clients[0].address]["reward"] == 2 * H * 10**12
    assert settled[world.clients[1].address]["reward"] == H * 10**12


def test_invalid_weights_and_bitmaps(world: World) -> None:
    task, _ = world.setup(
        clients=3,
        miners=1,
        committeeSize=1,
        rounds=1,
        clientMortgage=10**14,
        policy=POLICY["contribution"],
        rewardUnit=0,
    )
    world.submit(task, 0, [0, 1, 2])
    leader = world.committee(task, 0)[0]
    cases = [
        (
            world.verdict(task, 0, [0, 1, 2], [0, 1], weights=[6000, 5000, 0]),
            "TaskManagerInvalidWeights",
        ),
        (
            world.verdict(task, 0, [0, 1, 2], [0, 1], weights=[5000, 0, 10]),
            "TaskManagerInvalidWeights",
        ),
        (world.verdict(task, 0, [0, 1, 2], [0, 1], weights=[5000]), "TaskManagerInvalidWeights"),
        (world.verdict(task, 0, [0, 1], [0, 2], weights=[1, 0, 1]), "TaskManagerSubmissionsOpen"),
        (
            world.verdict(task, 0, [0, 1, 2, 5], [0], weights=[1, 0, 0]),
            "TaskManagerSubmissionsOpen",
        ),
    ]
    for verdict, error in cases:
        with reverts(error):
            world.tasks.postVerdict(task, 0, verdict, [], sender=leader)
    world.chain.increase_time(101)
    with reverts("TaskManagerInvalidBitmap"):
        world.tasks.postVerdict(
            task, 0, world.verdict(task, 0, [0, 1], [0, 2], weights=[1, 0, 1]), [], sender=leader
        )
    with reverts("TaskManagerInvalidBitmap"):
        world.tasks.postVerdict(
            task, 0, world.verdict(task, 0, [0, 5], [0], weights=[1, 0, 0]), [], sender=leader
        )


def test_dissent_is_slashed_and_leader_replacement(world: World) -> None:
    task, _ = world.create(committeeSize=3, rounds=2, clientMortgage=2 * 10**14)
    world.join(task, range(2), range(3))
    world.until(lambda: world.start(task), lambda: world.distinct(task, 0))
    world.submit(task, 0, [0, 1])
    leader, a, b = world.committee(task, 0)
    verdict = world.verdict(task, 0, [0, 1], [0, 1])
    world.tasks.postVerdict(task, 0, verdict, [], sender=leader)
    with reverts("TaskManagerVerdictAlreadyPosted", taskId=task, round=0, attempt=0):
        world.tasks.postVerdict(task, 0, verdict, [], sender=leader)
    with reverts("TaskManagerAlreadyAttested", account=leader.address):
        world.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=leader)
    dissent = world.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=a)
    assert dissent.event("VerdictAttested").args["agreed"] is False
    vhash = world.tasks.pendingVerdictHash(task)
    final = world.until(
        lambda: world.tasks.attestVerdict(task, 0, vhash, sender=b),
        lambda: world.distinct(task, 1),
    )
    slash = final.event("StakeSlashed").args
    assert (slash["miner"], slash["reason"], slash["amount"]) == (
        a.address,
        2,
        10**15 * SLASH_BPS // 10_000,
    )
    # Round 1: the leader never posts; after the verdict deadline anyone replaces it.
    world.submit(task, 1, [0, 1])
    committee = world.committee(task, 1)
    with reverts("TaskManagerVerdictWindowOpen"):
        world.tasks.replaceLeader(task, sender=world.outsider)
    world.chain.increase_time(201)
    replaced = world.tasks.replaceLeader(task, sender=world.outsider)
    assert replaced.event("LeaderReplaced").args["newLeader"] == committee[1].address
    slash = replaced.event("StakeSlashed").args
    assert (slash["miner"], slash["reason"]) == (committee[0].address, 1)  # no verdict
    with reverts("TaskManagerNotLeader", leader=committee[1].address):
        world.tasks.postVerdict(
            task, 1, world.verdict(task, 1, [0, 1], [0, 1]), [], sender=committee[0]
        )
    verdict = world.verdict(task, 1, [0, 1], [0, 1])
    sigs = world.attestations(task, 1, verdict, [committee[2]])
    world.tasks.postVerdict(task, 1, verdict, sigs, sender=committee[1])
    result = world.settle_all(task, range(2), range(3))
    miners = _settled(result, "MinerSettled")
    offenders = {a.address: 1, committee[0].address: 1}
    if a.address == committee[0].address:
        offenders = {a.address: 2}
    for m in world.miners[:3]:
        k = offenders.get(m.address, 0)
        assert miners[m.address]["slashed"] == min(10**15, k * 10**15 * SLASH_BPS // 10_000)
    burned = {e.args["miner"]: e.args["amount"] for e in result.events_named("StakeBurned")}
    assert burned == {a: v["slashed"] for a, v in miners.items() if v["slashed"]}
    assert world.chain.balance(world.tasks.address) == world.owed_total()


def test_cancellation_paths_return_what_is_theirs(world: World) -> None:
    # Requester cancels while joining: mortgages, stakes and escrow all return.
    task, _ = world.create()
    world.join(task, clients=[0, 1], miners=[0])
    world.tasks.cancelTask(task, sender=world.requester)
    world.settle_all(task, range(2), range(1))
    assert world.tasks.balanceOf(world.clients[0].address) == DEPOSIT
    assert world.tasks.balanceOf(world.miners[0].address) == DEPOSIT
    # Nobody joined: cancelling refunds the requester at once.
    task, spec = world.create()
    with reverts("TaskManagerNotCancellable", taskId=task, status=STATUS["Joining"]):
        world.tasks.cancelTask(task, sender=world.outsider)
    world.chain.increase_time(1001)
    result = world.tasks.cancelTask(task, sender=world.outsider)
    assert result.event("RequesterRefunded").args["amount"] == 3 * spec["perRoundReward"]
    # Stalled while running: round 0 pays and charges M11 (it was played), round 1 never
    # finishes; the silent last leader is slashed and its slash burned.
    task, _ = world.setup(clients=2, miners=1, committeeSize=1, rounds=2, clientMortgage=2 * 10**14)
    world.play(task, 0, [0, 1], [0])
    with reverts("TaskManagerNotCancellable"):
        world.tasks.cancelTask(task, sender=world.outsider)
    world.chain.increase_time(201)
    with reverts("TaskManagerNoLeaderLeft", taskId=task, round=1):
        world.tasks.replaceLeader(task, sender=world.outsider)
    burned = int(world.tasks.burnedStake())
    cancelled = world.tasks.cancelTask(task, sender=world.outsider)
    slash = cancelled.event("StakeSlashed").args
    assert (slash["miner"], slash["round"], slash["reason"]) == (world.miners[0].address, 1, 1)
    result = world.settle_all(task, range(2), range(1))
    settled = _settled(result, "ClientSettled")
    c0, c1 = settled[world.clients[0].address], settled[world.clients[1].address]
    unit = 10**14  # mortgage / rounds
    assert (c0["reward"], c0["penalty"], c0["penaltyShare"]) == (5 * 10**12, 0, unit)
    assert c0["payout"] == 2 * 10**14 + unit + 5 * 10**12
    assert (c1["penalty"], c1["penaltyShare"], c1["payout"]) == (unit, 0, 2 * 10**14 - unit)
    miner = _settled(result, "MinerSettled")[world.miners[0].address]
    assert (miner["slashed"], miner["payout"]) == (10**15 // 2, 10**15 // 2)
    assert int(world.tasks.burnedStake()) - burned == 10**15 // 2
    assert world.tasks.taskPot(task) == 0
    assert world.chain.balance(world.tasks.address) == world.owed_total()


def test_full_task_with_direct_joins_and_max_clients(world: World) -> None:
    task, _ = world.create(maxClients=N_CLIENTS, committeeSize=2)
    world.join(task, clients=range(N_CLIENTS), miners=[0, 1], by_sig=False)
    with reverts("TaskManagerTaskFull", taskId=task, capacity=N_CLIENTS):
        world.tasks.joinAsClient(task, sender=world.outsider)
    # Every client seat is taken, but miners may still join: the requester has to wait.
    with reverts("TaskManagerJoinStillOpen", taskId=task):
        world.tasks.startTask(task, sender=world.requester)
    # Only once the 64 miner seats are taken too may the requester start early.
    stake = 10**15
    extra = [account("full-task-miner", j) for j in range(64 - 2)]
    for m in extra:
        world.chain.fund(m.address, 10**17)
        world.registry.registerMiner(sender=m)
        world.tasks.joinAsMiner(task, stake, sender=m, value=stake)
    assert int(world.tasks.taskInfo(task).minerCount) == 64
    with reverts("TaskManagerJoinStillOpen", taskId=task):
        world.tasks.startTask(task, sender=world.outsider)  # early: the requester's privilege
    assert world.chain.timestamp() <= int(world.tasks.taskInfo(task).joinDeadline)
    world.tasks.startTask(task, sender=world.requester)
    original = list(world.miners)
    world.miners.extend(extra)  # so that World can name every seat (restored below)
    try:
        everyone = list(range(N_CLIENTS))
        # All submitted: the leader may post before the deadline.
        for r in range(3):
            world.play(task, r, everyone, everyone[1:])
        miners = [m.address for m in original[:2] + extra]
        result = world.tasks.settleMany(
            task, [world.clients[i].address for i in everyone] + miners, sender=world.outsider
        )
        assert sum(e.args["payout"] for e in result.events_named("MinerSettled")) == 64 * stake
        assert world.tasks.taskPot(task) == 0
        # owed_total counts the extra miners' balances while World.miners holds them.
        assert world.chain.balance(world.tasks.address) == world.owed_total()
        assert sum(int(world.tasks.balanceOf(m.address)) for m in extra) == 62 * stake
    finally:
        world.miners[:] = original


def test_perturbed_model_and_request_cache(world: World) -> None:
    task, _ = world.setup(clients=1, miners=1, committeeSize=1, rounds=1, clientMortgage=10**14)
    with reverts("TaskManagerWrongStatus", taskId=task, status=STATUS["Running"]):
        world.tasks.publishPerturbedModel(task, b"\x02" * 32, 0x70, sender=world.requester)
    world.play(task, 0, [0], [0])
    with reverts("TaskManagerNotRequester", account=world.outsider.address):
        world.tasks.publishPerturbedModel(task, b"\x02" * 32, 0x70, sender=world.outsider)
    world.tasks.publishPerturbedModel(task, b"\x02" * 32, 0x70, sender=world.requester)
    assert world.models.perturbedModel(task) == (b"\x02" * 32, 0x70)
    key = world.models.requestKeyOf(task)
    assert world.models.cachedModel(key) == (task, b"\x02" * 32, 0x70)
