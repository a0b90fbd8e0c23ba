"""A member stores its round's committee before the seed block leaves ``blockhash``'s reach:
left undrawn for 256 blocks the seed would be renewed and the seats drawn again, a re-roll an
attacker who dislikes the seats could wait for. Real roles on the embedded chain."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from eth_utils import keccak

from fedchain.chain import connect
from fedchain.chain.deploy import deploy_fedchain
from fedchain.roles import Miner, Participant, publish_task, read_task
from fedchain.roles.miner import PIN_AFTER_BLOCKS
from fedchain.roles.taskfile import TaskFile, category_id
from fedchain.storage import LocalStore


def test_a_member_stores_the_committee_before_its_seed_expires(tmp_path: Path) -> None:
    with connect("embedded", accounts=2, seed=11) as chain:
        d = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        store = LocalStore(tmp_path / "store")
        keys = [Account.from_key(keccak(text=f"miner-seed/{i}")) for i in range(3)]
        for k in keys:
            chain.fund(k.address, 10**18)
        lines: list[str] = []

        def who(i: int) -> Participant:
            return Participant(chain=chain, deployment=d, store=store, account=keys[i],
                               log=lines.append)  # fmt: skip

        task = TaskFile.from_dict({
            "task": {"max_clients": 1, "rounds": 1, "byzantine_f": 0, "committee_size": 1,
                     "submit_window": 3600, "verdict_window": 3600, "join_window": 60},
            "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": "0.001 ether"},
            "verification": {"rule": "none"},
        })  # fmt: skip
        task_id = publish_task(who(0), task)
        client = keys[1]
        d.registry.registerClient(sender=client)
        d.registry.addDataProfile({
            "category": category_id(task.category), "dataType": keccak(text="x"), "size": 10,
            "nameHash": keccak(text="n"), "contentHash": keccak(text="c"), "timestamp": 1,
            "location": keccak(text="l"),
        }, sender=client)  # fmt: skip
        d.tasks.joinAsClient(task_id, sender=client, value=task.client_mortgage)
        miner = Miner(who(2), task_id)
        miner.step()  # joins
        chain.increase_time(61)
        d.tasks.startTask(task_id, sender=keys[0])
        seed_block = int(d.tasks.seedBlockOf(task_id, 0))

        miner.step()  # the seed is young: nothing to store yet
        assert not d.tasks.events("CommitteeDrawn", filters={"taskId": task_id})
        chain.mine(PIN_AFTER_BLOCKS)
        miner.step()
        (drawn,) = d.tasks.events("CommitteeDrawn", filters={"taskId": task_id})
        assert drawn.block_number - seed_block >= PIN_AFTER_BLOCKS
        assert list(drawn.args["committee"]) == [keys[2].address]
        assert any("stored the committee before its seed could expire" in x for x in lines)
        chain.mine(300)  # long past blockhash's reach: the stored seats stand, no renewal
        assert list(d.tasks.committee(task_id, 0)) == [keys[2].address]
        assert not d.tasks.events("SeedRenewed", filters={"taskId": task_id})
        assert read_task(d.tasks, task_id).round == 0
