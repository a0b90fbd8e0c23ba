"""The protocol at its bounds: a task of 256 clients (the bitmap's width), offense counters past
the old 4-bit cap, leaving before the start, join permits (deadline, nonce, signer), task ids
past the inline memberships' 32 bits, the stake bound, and committee seeds older than the 256
blocks whose hashes the EVM keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from fedchain.chain import eip712
from fedchain.chain.deploy import DeploymentError, deploy_fedchain
from fedchain.chain.testing import reverts

from .conftest import (
    CATEGORY,
    DEPOSIT,
    GAMMA_MAX,
    RAW,
    STATUS,
    H,
    World,
    account,
    digest,
)


def _profile(i: int, size: int = 1) -> dict[str, Any]:
    return {
        "category": CATEGORY, "dataType": digest("image"), "size": size,
        "nameHash": digest("boundary-name", i), "contentHash": digest("boundary-data", i),
        "timestamp": 1, "location": digest("loc"),
    }  # fmt: skip


def _settled(result: Any) -> dict[str, Any]:
    out = {e.args["client"]: e.args for e in result.events_named("ClientSettled")}
    out.update({e.args["miner"]: e.args for e in result.events_named("MinerSettled")})
    return out


def _next_gamma(gamma: int, accepted: bool) -> int:
    """M9 (contracts/libraries/Reputation.sol)."""
    if gamma < H:
        return gamma + 1
    if accepted:
        return min(gamma + 1, GAMMA_MAX)
    return 0 if gamma == H else gamma - 1


def _expected_client(
    i: int, sets: Sequence[set[int]], n: int, mortgage: int, unit: int
) -> dict[str, int]:
    """What previewClientSettlement must give client ``i`` of a finished reputation-policy task
    with accepted sets ``sets`` (M10 rewards at the reputation before each round, M11)."""
    rounds = len(sets)
    gamma, reward, evaluations = H, 0, 0
    for r, accepted in enumerate(sets):
        if i in accepted:
            reward += gamma * unit
            evaluations |= 1 << r
        gamma = _next_gamma(gamma, i in accepted)
    per_round = mortgage // rounds
    penalty = per_round * (rounds - bin(evaluations).count("1"))
    total = per_round * sum(n - len(s) for s in sets)
    share = (total - penalty) // (n - 1)
    return {
        "evaluations": evaluations,
        "reward": reward,
        "penalty": penalty,
        "share": share,
        "payout": mortgage - penalty + share + reward,
    }


# -- 256 clients --------------------------------------------------------------------------------


def test_a_task_of_256_clients(eworld: World) -> None:
    """The accepted bitmap's full width: 256 clients joined by permits in batches, two rounds,
    settlement of the first, middle and last bits, and the pot emptied with the balance kept."""
    w = eworld
    n, rounds, mortgage, unit = 256, 2, 2 * 10**12, 10**10
    with reverts("TaskManagerInvalidMaxClients", maxClients=257):
        w.create(maxClients=257)
    clients = [account("wide", i) for i in range(n)]
    for i, c in enumerate(clients):
        w.chain.fund(c.address, 10**17)
        w.registry.registerClient(sender=c)
        w.registry.addDataProfile(_profile(i), sender=c)
        w.tasks.deposit(sender=c, value=10**15)
    task, _ = w.create(rounds=rounds, maxClients=n, committeeSize=1, byzantineF=0,
                       clientMortgage=mortgage, rewardUnit=unit, perRoundReward=10**15)  # fmt: skip
    deadline = w.chain.timestamp() + 3600
    domain = {"chain_id": w.chain.chain_id, "verifying_contract": w.tasks.address}
    for start in range(0, n, 64):
        permits = [
            eip712.sign_join(
                account=c, task_id=task, mortgage=mortgage, deadline=deadline, **domain
            )
            for c in clients[start : start + 64]
        ]
        w.tasks.joinClientsBySig(task, permits, sender=w.requester)
    info = w.tasks.taskInfo(task)
    assert int(info.clientCount) == n and int(info.pot) == 2 * 10**15 + n * mortgage
    assert int(w.tasks.memberOf(task, clients[255].address).index) == 255
    # The 257th client is refused, directly or by permit.
    with reverts("TaskManagerTaskFull", taskId=task, capacity=n):
        w.tasks.joinAsClient(task, sender=w.clients[0])
    with reverts("TaskManagerTaskFull", taskId=task, capacity=n):
        w.tasks.joinClientsBySig(task, [w.permit(w.clients[1], task, mortgage)], sender=w.outsider)
    w.tasks.joinAsMiner(task, 10**15, sender=w.miners[0])
    w.start(task)
    sets = [
        set(range(0, n, 2)) | {127, 255},  # 0 and 128 in, 127 and 255 in
        set(range(n)) - {0, 127},  # 0 and 127 out, 128 and 255 in
    ]
    for r in range(rounds):
        v = w.verdict(task, r, range(n), sorted(sets[r]))
        w.committee(task, r)
        w.tasks.postVerdict(task, r, v, [], sender=w.miners[0])
    assert int(w.tasks.taskInfo(task).status) == STATUS["Finished"]
    for r in range(rounds):
        assert int(w.tasks.acceptedBitmap(task, r)) == sum(1 << i for i in sets[r])
    assert int(w.tasks.acceptedBitmap(task, 1)) >> 255 == 1  # the top bit of the word
    for i in (0, 127, 128, 255):
        o = w.tasks.previewClientSettlement(task, clients[i].address)
        want = _expected_client(i, sets, n, mortgage, unit)
        got = {
            "evaluations": int(o.evaluations), "reward": int(o.reward),
            "penalty": int(o.penalty), "share": int(o.penaltyShare), "payout": int(o.payout),
        }  # fmt: skip
        assert got == want, i
        assert int(o.evaluatedRounds) == rounds
        assert int(o.acceptedRounds) == bin(want["evaluations"]).count("1")
    pot = int(w.tasks.taskPot(task))
    before = w.chain.balance(w.tasks.address)
    refund_before = int(w.tasks.balanceOf(w.requester.address))
    paid = 0
    everyone = [c.address for c in clients] + [w.miners[0].address]
    for start in range(0, len(everyone), 64):
        result = w.tasks.settleMany(task, everyone[start : start + 64], sender=w.outsider)
        paid += sum(int(a["payout"]) for a in _settled(result).values())
    refund = int(w.tasks.balanceOf(w.requester.address)) - refund_before
    assert int(w.tasks.taskPot(task)) == 0 and int(w.tasks.taskInfo(task).unsettled) == 0
    assert paid + refund == pot  # nothing was burned: the miner was never slashed
    assert w.chain.balance(w.tasks.address) == before
    assert int(w.tasks.balanceOf(clients[255].address)) == 10**15 - mortgage + int(
        _expected_client(255, sets, n, mortgage, unit)["payout"]
    )


# -- offense counters past 15 -------------------------------------------------------------------


def _world_with_slash_bps(w: World, slash_bps: int) -> World:
    """A fresh deployment on ``w``'s chain with ``slash_bps``, the same participants registered
    and funded in it (reverted with ``w``'s snapshot after the test)."""
    d = deploy_fedchain(w.chain, deployer=w.requester, gamma_max=GAMMA_MAX, threshold=H,
                        slash_bps=slash_bps)  # fmt: skip
    for i, c in enumerate(w.clients):
        w.chain.fund(c.address, DEPOSIT)
        d.registry.registerClient(sender=c)
        d.registry.addDataProfile(_profile(1000 + i, 100 + i), sender=c)
        d.tasks.deposit(sender=c, value=DEPOSIT)
    for m in w.miners:
        w.chain.fund(m.address, DEPOSIT)
        d.registry.registerMiner(sender=m)
        d.tasks.deposit(sender=m, value=DEPOSIT)
    return World(w.chain, d, w.requester, list(w.clients), list(w.miners), w.outsider)


def _heavy_committee(w: World, stake: int) -> tuple[int, LocalAccount]:
    """A task of committeeSize 16 whose miner 0 holds almost all the stake (15 more miners at
    the stake floor make up the 16 distinct miners a start needs)."""
    floor = int(w.tasks.limits().minStakeFloor)
    task, _ = w.create(rounds=2, committeeSize=16, byzantineF=0, minMinerStake=floor,
                       submitDuration=1, verdictDuration=1, clientMortgage=2 * 10**14)  # fmt: skip
    heavy = w.miners[0]
    w.tasks.joinAsMiner(task, stake, sender=heavy)
    for j in range(15):
        s = account("floor-miner", j)
        w.chain.fund(s.address, 10**17)
        w.registry.registerMiner(sender=s)
        w.tasks.joinAsMiner(task, floor, sender=s, value=floor)
    w.tasks.joinAsClient(task, sender=w.clients[0])
    return task, heavy


def _all_seats(w: World, task: int, round: int, miner: LocalAccount) -> bool:
    w.committee(task, round)  # mines past the seed block
    return set(w.tasks.committee(task, round)) == {miner.address}


def _replace_leaders(w: World, task: int, times: int) -> list[Any]:
    """Let ``times`` leaders of the current round miss their verdict window; returns the
    StakeSlashed events."""
    slashes = []
    for _ in range(times):
        w.chain.increase_time(int(w.tasks.taskInfo(task).verdictDeadline) - w.chain.timestamp() + 1)
        slashes += w.tasks.replaceLeader(task, sender=w.outsider).events_named("StakeSlashed")
    return slashes


def test_offenses_past_fifteen_slash_more_than_three_quarters(eworld: World) -> None:
    """At 5 % an offense, 17 offenses slash 85 % of the stake: the old 4-bit counter stopped at
    15 (75 %). The miner holding all 16 seats misses 15 windows of round 0, leads the 16th
    attempt alone (its seats are the quorum), then misses two more in round 1."""
    w = _world_with_slash_bps(eworld, 500)
    stake = 10**17
    task, heavy = _heavy_committee(w, stake)
    index = int(w.tasks.memberOf(task, heavy.address).index)
    w.until(lambda: w.start(task), lambda: _all_seats(w, task, 0, heavy))
    slashes = _replace_leaders(w, task, 15)
    assert [(e.args["miner"], e.args["reason"]) for e in slashes] == [(heavy.address, 1)] * 15
    assert int(w.tasks.offensesOf(task, index)) == 15
    w.chain.increase_time(2)  # submissions closed
    w.until(
        lambda: w.tasks.postVerdict(task, 0, w.verdict(task, 0, [], []), [], sender=heavy),
        lambda: _all_seats(w, task, 1, heavy),
    )
    slashes = _replace_leaders(w, task, 2)
    assert int(w.tasks.offensesOf(task, index)) == 17
    assert all(int(e.args["amount"]) == stake * 500 // 10_000 for e in slashes)
    w.chain.increase_time(2)
    result = w.tasks.postVerdict(task, 1, w.verdict(task, 1, [], []), [], sender=heavy)
    assert result.events_named("TaskFinished")
    assert tuple(w.tasks.previewMinerSettlement(task, heavy.address)) == (
        stake * 17 * 500 // 10_000,
        stake - stake * 17 * 500 // 10_000,
    )
    got = _settled(w.tasks.settleMany(task, [heavy.address], sender=w.outsider))[heavy.address]
    assert int(got["slashed"]) == 85 * stake // 100 > 75 * stake // 100
    assert int(w.tasks.burnedStake()) == 85 * stake // 100


def test_offenses_slash_up_to_the_whole_stake(eworld: World) -> None:
    """31 offenses at 5 %: the slash stops at the stake (the 20th offense takes the last 5 %,
    the later ones nothing), and the stake is burned whole."""
    w = _world_with_slash_bps(eworld, 500)
    stake = 10**17
    task, heavy = _heavy_committee(w, stake)
    index = int(w.tasks.memberOf(task, heavy.address).index)
    w.until(lambda: w.start(task), lambda: _all_seats(w, task, 0, heavy))
    slashes = _replace_leaders(w, task, 15)
    w.chain.increase_time(2)
    w.until(
        lambda: w.tasks.postVerdict(task, 0, w.verdict(task, 0, [], []), [], sender=heavy),
        lambda: _all_seats(w, task, 1, heavy),
    )
    slashes += _replace_leaders(w, task, 15)
    w.chain.increase_time(int(w.tasks.taskInfo(task).verdictDeadline) - w.chain.timestamp() + 1)
    with reverts("TaskManagerNoLeaderLeft", taskId=task, round=1):
        w.tasks.replaceLeader(task, sender=w.outsider)
    slashes += w.tasks.cancelTask(task, sender=w.outsider).events_named("StakeSlashed")
    assert int(w.tasks.offensesOf(task, index)) == len(slashes) == 31
    amounts = [int(e.args["amount"]) for e in slashes]
    assert amounts == [stake // 20] * 20 + [0] * 11
    assert tuple(w.tasks.previewMinerSettlement(task, heavy.address)) == (stake, 0)
    burned = int(w.tasks.burnedStake())
    got = _settled(w.tasks.settleMany(task, [heavy.address], sender=w.outsider))[heavy.address]
    assert (int(got["slashed"]), int(got["payout"])) == (stake, 0)
    assert int(w.tasks.burnedStake()) - burned == stake


def test_slash_bps_below_forty_is_refused() -> None:
    """Below 40 bps the 8-bit counter (255 offenses) could not reach the whole stake."""
    from fedchain.chain import connect

    with connect("embedded", accounts=1) as chain:
        deployer = chain.dev_accounts(1)[0]
        with pytest.raises(DeploymentError, match="slash_bps"):
            deploy_fedchain(chain, deployer=deployer, slash_bps=39)
        assert deploy_fedchain(chain, deployer=deployer, slash_bps=40).tasks.slashBps() == 40


# -- leaving before the start -------------------------------------------------------------------


def test_leave_before_the_start(eworld: World) -> None:
    w = eworld
    task, spec = w.create(rounds=1, committeeSize=2, clientMortgage=10**14)
    mortgage, stake = spec["clientMortgage"], spec["minMinerStake"]
    c0, c1, c2 = w.clients[:3]
    old_permit = w.permit(c0, task, mortgage)
    w.tasks.joinClientsBySig(task, [old_permit], sender=w.outsider)
    w.join(task, [1, 2], [0, 1, 2])
    balance = int(w.tasks.balanceOf(c0.address))
    pot = int(w.tasks.taskPot(task))
    with reverts("TaskManagerNotLastMember", taskId=task, account=c1.address):
        w.tasks.leaveTask(task, c1.address, sender=c0)  # c2 joined last
    with reverts("TaskManagerNotLastMember", taskId=task, account=w.miners[2].address):
        w.tasks.leaveTask(task, w.miners[2].address, sender=c0)  # the last of the other role
    with reverts("TaskManagerNotMember", taskId=task, account=w.outsider.address):
        w.tasks.leaveTask(task, c2.address, sender=w.outsider)
    leave = w.tasks.leaveTask(task, c2.address, sender=c0)
    left = leave.event("MemberLeft").args
    revoked = leave.events_named("JoinPermitsRevoked")  # the nonce bump may announce itself
    assert all(e.args["client"] == c0.address for e in revoked)
    assert (left["account"], left["role"], int(left["refund"])) == (c0.address, 1, mortgage)
    assert int(w.tasks.balanceOf(c0.address)) == balance + mortgage
    assert int(w.tasks.memberOf(task, c0.address).role) == 0
    assert int(w.tasks.memberOf(task, c2.address).index) == 0  # c2 took the leaver's index
    assert int(w.tasks.memberOf(task, c1.address).index) == 1
    assert int(w.tasks.joinNonce(c0.address)) == 1
    # The relayer cannot put the leaver back with its used permit: the nonce moved on.
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        w.tasks.joinClientsBySig(task, [old_permit], sender=w.outsider)
    # A miner leaves: miner 2 (joined last) takes its index, and the stake comes back.
    m0, m1, m2 = w.miners[:3]
    miner_balance = int(w.tasks.balanceOf(m0.address))
    left = w.tasks.leaveTask(task, m2.address, sender=m0).event("MemberLeft").args
    assert (left["account"], left["role"], int(left["refund"])) == (m0.address, 2, stake)
    assert int(w.tasks.balanceOf(m0.address)) == miner_balance + stake
    assert int(w.tasks.memberOf(task, m2.address).index) == 0
    assert tuple(w.tasks.minerAt(task, 0)) == (m2.address, stake)
    info = w.tasks.taskInfo(task)
    assert (int(info.clientCount), int(info.minerCount)) == (2, 2)
    assert int(info.totalStake) == 2 * stake
    assert int(w.tasks.taskPot(task)) == pot - mortgage - stake
    # The leaver may come back with a fresh permit (nonce 1): it joins last.
    w.tasks.joinClientsBySig(task, [w.permit(c0, task, mortgage)], sender=w.outsider)
    assert int(w.tasks.memberOf(task, c0.address).index) == 2
    w.start(task)
    with reverts("TaskManagerWrongStatus", taskId=task, status=STATUS["Running"],
                 expected=STATUS["Joining"]):  # fmt: skip
        w.tasks.leaveTask(task, c0.address, sender=c1)
    # The moved members work at their new indices: c2 is client 0, m2 is miner 0.
    order = [c2, c1, c0]
    for i, c in enumerate(order):
        w.tasks.submitUpdate(task, 0, digest("u", i), 100, RAW, sender=c)
    seats = w.committee(task, 0)
    assert set(seats) <= {m1, m2}
    v = w.verdict(task, 0, [0, 1, 2], [0])
    sigs = w.attestations(task, 0, v, w.approvers(task, 0))
    assert w.tasks.postVerdict(task, 0, v, sigs, sender=seats[0]).events_named("RoundFinalized")
    with reverts("TaskManagerNotMember", taskId=task, account=m0.address):
        w.tasks.settle(task, m0.address, sender=w.outsider)
    got = _settled(w.tasks.settleMany(task, [c.address for c in order] + [m1.address, m2.address],
                                      sender=w.outsider))  # fmt: skip
    assert int(got[c2.address]["reward"]) == H * 10**12  # accepted as index 0
    assert int(got[c1.address]["reward"]) == int(got[c0.address]["reward"]) == 0
    assert int(got[m2.address]["payout"]) == stake
    assert int(w.tasks.taskPot(task)) == 0
    assert w.chain.balance(w.tasks.address) == w.owed_total()


# -- join permits -------------------------------------------------------------------------------


def test_join_permit_deadline_revocation_and_signer(eworld: World) -> None:
    w = eworld
    task, spec = w.create()
    mortgage = spec["clientMortgage"]
    c0, c1, c2 = w.clients[:3]
    soon = w.chain.timestamp() + 10
    expiring = w.permit(c0, task, mortgage, deadline=soon)
    w.chain.increase_time(20)  # the join window (1000 s) is still open
    with reverts("TaskManagerPermitExpired", taskId=task, client=c0.address, deadline=soon):
        w.tasks.joinClientsBySig(task, [expiring], sender=w.outsider)
    # Revoking voids every unused permit.
    unused = w.permit(c1, task, mortgage)
    revoked = w.tasks.revokeJoinPermits(sender=c1).event("JoinPermitsRevoked").args
    assert (revoked["client"], int(revoked["nonce"])) == (c1.address, 1)
    assert int(w.tasks.joinNonce(c1.address)) == 1
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        w.tasks.joinClientsBySig(task, [unused], sender=w.outsider)
    # A permit whose client field names someone else than its signer.
    forged = dict(w.permit(c2, task, mortgage), client=c0.address)
    good = w.permit(c0, task, mortgage)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=1):
        w.tasks.joinClientsBySig(task, [good, forged], sender=w.outsider)
    assert int(w.tasks.taskInfo(task).clientCount) == 0  # the batch reverted whole
    result = w.tasks.joinClientsBySig(task, [good, w.permit(c1, task, mortgage)], sender=w.outsider)
    assert [e.args["client"] for e in result.events_named("ClientJoined")] == [
        c0.address,
        c1.address,
    ]


# -- task ids and stakes past their bounds ------------------------------------------------------


def test_a_task_id_past_32_bits_is_not_taken_for_its_low_bits(eworld: World) -> None:
    """Inline memberships hold 32-bit task ids: 2**32 + t must not pass the fast path as t."""
    w = eworld
    task, _ = w.setup(clients=2, miners=1, committeeSize=1)
    client = w.clients[0]
    assert int(w.tasks.memberOf(task, client.address).role) == 1
    for alias in (2**32 + task, 2**64 + task, 2**255 + task):
        with reverts("TaskManagerUnknownTask", taskId=alias):
            w.tasks.submitUpdate(alias, 0, digest("u"), 100, RAW, sender=client)
        assert int(w.tasks.memberOf(alias, client.address).role) == 0
    result = w.tasks.submitUpdate(task, 0, digest("u"), 100, RAW, sender=client)
    assert result.event("UpdateSubmitted").args["taskId"] == task


def test_a_stake_of_2_to_the_88_is_refused(eworld: World) -> None:
    w = eworld
    task, _ = w.create()
    with reverts("TaskManagerStakeTooHigh", taskId=task, stake=2**88, maximum=2**88 - 1):
        w.tasks.joinAsMiner(task, 2**88, sender=w.miners[0])
    # 2**88 - 1 passes the bound and fails only for want of funds.
    with reverts("TaskManagerInsufficientBalance", account=w.miners[0].address,
                 required=2**88 - 1):  # fmt: skip
        w.tasks.joinAsMiner(task, 2**88 - 1, sender=w.miners[0])
    assert int(w.tasks.taskInfo(task).minerCount) == 0


# -- seeds older than 256 blocks ----------------------------------------------------------------


def test_an_undrawn_seed_older_than_256_blocks_is_renewed(eworld: World) -> None:
    w = eworld
    task, _ = w.create(rounds=1, committeeSize=2, clientMortgage=10**14)
    w.join(task, [0, 1], [0, 1, 2])
    opened = w.start(task)
    old_block = int(opened.event("RoundOpened").args["seedBlock"])
    w.submit(task, 0, [0, 1])  # both submitted: the leader need not wait for the deadline
    w.chain.mine(257)
    with reverts("TaskManagerSeedExpired", taskId=task, round=0, seedBlock=old_block):
        w.tasks.committee(task, 0)
    deadline = int(w.tasks.taskInfo(task).verdictDeadline)
    renewed = w.tasks.drawCommittee(task, sender=w.outsider)
    assert not renewed.events_named("CommitteeDrawn")
    event = renewed.event("SeedRenewed").args
    assert (int(event["taskId"]), int(event["round"])) == (task, 0)
    assert int(event["seedBlock"]) == renewed.block_number == int(w.tasks.seedBlockOf(task, 0))
    info = w.tasks.taskInfo(task)
    assert int(info.verdictDeadline) >= max(deadline, w.chain.timestamp() + 100)
    with reverts("TaskManagerSeedNotReady", taskId=task, round=0):
        w.tasks.committee(task, 0)  # in the renewing block itself
    w.chain.mine(1)
    seats = w.committee(task, 0)
    drawn = w.tasks.drawCommittee(task, sender=w.outsider).event("CommitteeDrawn").args
    assert list(drawn["committee"]) == [m.address for m in seats]
    with reverts("TaskManagerCommitteeAlreadyDrawn", taskId=task, round=0):
        w.tasks.drawCommittee(task, sender=w.outsider)
    v = w.verdict(task, 0, [0, 1], [0, 1])
    sigs = w.attestations(task, 0, v, w.approvers(task, 0))
    result = w.tasks.postVerdict(task, 0, v, sigs, sender=seats[0])
    assert result.events_named("RoundFinalized")  # the renewed committee finishes the round
    assert int(w.tasks.taskInfo(task).status) == STATUS["Finished"]
    with reverts("TaskManagerWrongStatus", taskId=task, status=STATUS["Finished"]):
        w.tasks.drawCommittee(task, sender=w.outsider)
