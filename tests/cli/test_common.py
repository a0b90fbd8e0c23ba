"""fedchain.cli.common: RPC URLs fit to print, errors without credentials, JSON files written
atomically."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedchain.chain.errors import ChainConnectionError
from fedchain.cli.common import (
    hiding_credentials,
    read_deployment_file,
    redact_url,
    url_has_credentials,
    write_json_file,
)
from fedchain.errors import ConfigError, FedChainError

PLAIN = ["http://127.0.0.1:8545", "https://rpc.example.org/", "http://[::1]:8545", "http://node"]


@pytest.mark.parametrize("url", PLAIN)
def test_a_url_without_credentials_is_shown_as_it_is(url: str) -> None:
    assert not url_has_credentials(url)
    assert redact_url(url) == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://mainnet.infura.io/v3/0123456789abcdef", "https://mainnet.infura.io/***"),
        ("https://user:pass@host:8545", "https://***@host:8545"),
        ("https://user:pass@host:8545/", "https://***@host:8545/"),
        ("https://token@host/rpc?key=s3cret", "https://***@host/***"),
        ("http://host:8545/?apikey=s3cret", "http://host:8545/***"),
        ("http://host?apikey=s3cret", "http://host/***"),
        ("http://host/#s3cret", "http://host/***"),
        ("http://[::1]:8545/key", "http://[::1]:8545/***"),
        ("localhost:8545", "localhost:***"),
        ("0123456789abcdef", "***"),
        ("http://[::1", "http:***"),
    ],
)  # fmt: skip
def test_credentials_are_redacted(url: str, shown: str) -> None:
    assert url_has_credentials(url)
    assert redact_url(url) == shown
    for secret in ("pass", "s3cret", "0123456789abcdef", "key"):
        if secret in url:
            assert secret not in redact_url(url)


def test_errors_inside_hiding_credentials_lose_them() -> None:
    url = "http://user:pw@127.0.0.1:9/v3/SECRETKEY?x=QUERYKEY"
    quoted = (
        f"node unreachable while connecting to {url}: HTTPConnectionPool(host='127.0.0.1', "
        "port=9): Max retries exceeded with url: /v3/SECRETKEY?x=QUERYKEY"
    )
    with pytest.raises(ChainConnectionError) as info, hiding_credentials(url):
        try:
            raise OSError(url)
        except OSError as cause:
            raise ChainConnectionError(quoted) from cause
    text = str(info.value)
    assert "127.0.0.1:9" in text and "http://***@127.0.0.1:9/***" in text
    for secret in ("SECRETKEY", "QUERYKEY", "user:pw"):
        assert secret not in text
    assert info.value.__cause__ is None  # the cause quoted the URL


def test_hiding_credentials_leaves_other_errors_alone() -> None:
    with (
        pytest.raises(FedChainError, match=r"^task 3 does not exist$"),
        hiding_credentials("https://host/v3/KEY"),
    ):
        raise FedChainError("task 3 does not exist")
    plain = "http://127.0.0.1:8545"
    with pytest.raises(ChainConnectionError) as info, hiding_credentials(plain):
        raise ChainConnectionError(f"node unreachable while connecting to {plain}")
    assert str(info.value) == f"node unreachable while connecting to {plain}"
    with pytest.raises(ValueError, match="KEY"), hiding_credentials("https://host/v3/KEY"):
        raise ValueError("not a FedChainError: KEY")


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_write_json_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "deployment.json"
    assert write_json_file(path, {"b": 1, "a": [1, 2]}) == path
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    assert path.read_text().endswith("\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with pytest.raises(ConfigError, match=r"deployment\.json exists; pass --force"):
        write_json_file(path, {"c": 3})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1}
    write_json_file(path, {"c": 3}, overwrite=True)
    assert json.loads(path.read_text()) == {"c": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["deployment.json"]


def test_write_json_file_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write"):
        write_json_file(blocker / "x.json", {})


def test_a_deployment_file_may_leave_the_rpc_url_out(tmp_path: Path) -> None:
    document = {
        "format": "fedchain-deployment/1", "chain_id": 1, "rpc_url": None,
        **{k: "0x" + "11" * 20 for k in ("participant_registry", "model_registry",
                                         "task_manager", "task_manager_extension")},
    }  # fmt: skip
    (tmp_path / "d.json").write_text(json.dumps(document))
    assert read_deployment_file(tmp_path / "d.json")["rpc_url"] is None
    (tmp_path / "bad.json").write_text(json.dumps({**document, "rpc_url": 5}))
    with pytest.raises(ConfigError, match="rpc_url is not a string"):
        read_deployment_file(tmp_path / "bad.json")


@pytest.mark.anvil
def test_drive_gives_up_on_a_node_gone_for_good_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """drive(): one line when the node goes, one ``error:`` line and exit code 3 once it has
    stayed away for the node timeout; no traceback."""
    import typer
    from rich.console import Console

    from fedchain.chain import DEFAULT_MNEMONIC, AnvilNode, connect, find_anvil_binary
    from fedchain.chain.deploy import deploy_fedchain
    from fedchain.chain.errors import AnvilError
    from fedchain.cli.common import NODE_UNREACHABLE_EXIT, RoleDisplay, drive
    from fedchain.roles.base import Activity, Participant, TaskRole
    from fedchain.storage import open_store

    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))

    class Watcher(TaskRole):
        def step(self) -> Activity:
            self.who.tasks.taskCount()
            return Activity.WAITING

    with AnvilNode(accounts=1) as node:
        chain = connect(node.url, mnemonic=DEFAULT_MNEMONIC, accounts=1)
        account = chain.dev_accounts(1)[0]
        deployment = deploy_fedchain(chain, deployer=account)
        url = node.url
    store = open_store(f"local:{tmp_path / 'store'}")
    with RoleDisplay(Console(stderr=True), label="task 1") as display:
        who = Participant(chain, deployment, store, account, log=display.log)
        with pytest.raises(typer.Exit) as info:
            drive(Watcher(who, 1), describe=lambda s: (0, 1, ""), display=display, poll=0.1,
                  timeout=None, what="watcher", node_timeout=1.0)  # fmt: skip
    assert info.value.exit_code == NODE_UNREACHABLE_EXIT == 3
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2, err
    assert lines[0].endswith(f"node unreachable ({url}); retrying for up to 1 s, at most 10 s "
                             "apart, Ctrl-C to stop")  # fmt: skip
    assert lines[1].startswith(f"error: watcher: node unreachable ({url}) for 1 s; gave up")
    assert "Traceback" not in err


def test_a_role_started_while_the_node_is_down_waits_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_session(node_timeout=...): a participant started during an outage waits for the
    node (one line each way) instead of failing; a node that never returns ends the command
    with exit 3 and one line."""
    import socket
    import threading
    import time

    from fedchain.chain import DEFAULT_MNEMONIC, AnvilNode, connect, find_anvil_binary
    from fedchain.chain.deploy import deploy_fedchain
    from fedchain.chain.errors import AnvilError, NodeWaitTimeoutError
    from fedchain.cli import main
    from fedchain.cli.common import open_session

    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    state = tmp_path / "state.json"
    with (
        AnvilNode(accounts=1, port=port, state_path=state) as node,
        connect(node.url, mnemonic=DEFAULT_MNEMONIC, accounts=1) as chain,
    ):
        d = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        document = {**d.to_json(), "rpc_url": node.url}
    (tmp_path / "dep.json").write_text(json.dumps(document))  # the node is down now
    later = AnvilNode(accounts=1, port=port, state_path=state)
    starter = threading.Timer(2.0, later.start)
    starter.start()
    try:
        with open_session(tmp_path / "dep.json", None, with_store=False, node_timeout=60) as s:
            assert int(s.deployment.tasks.taskCount()) == 0
        err = capsys.readouterr().err
        assert f"node unreachable (http://127.0.0.1:{port}); retrying for up to 1m 00s" in err
        assert f"node reachable again (http://127.0.0.1:{port})" in err
    finally:
        starter.join()
        later.stop()
    with (
        pytest.raises(NodeWaitTimeoutError),
        open_session(tmp_path / "dep.json", None, with_store=False, node_timeout=0.5),
    ):
        pass
    capsys.readouterr()
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", "0x" + "11" * 32)
    started = time.monotonic()
    with pytest.raises(SystemExit) as info:
        main(["task", "follow", "1", "--deployment", str(tmp_path / "dep.json"),
              "--node-timeout", "1"])  # fmt: skip
    assert info.value.code == 3 and time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert (
        err.strip().splitlines()[-1].startswith("error: node unreachable")
        and "Traceback" not in err
    )
