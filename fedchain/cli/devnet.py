"""``fedchain devnet`` (a local Anvil chain with the contracts deployed) and ``fedchain deploy``
(the contracts on any JSON-RPC node).

``devnet up`` starts Anvil as a detached process (its own session: it outlives the command and
the terminal), deploys the contracts from the first development account of the public test
mnemonic, and writes ``DIR/deployment.json`` (for every other command) and ``DIR/devnet.json``
(PID, URL, chain id, log file). The chain is kept in ``DIR/state.json`` (``anvil --state``,
written every few seconds and when the node stops), so a later ``devnet up`` resumes the same
chain and deployment instead of deploying afresh. ``devnet down`` stops that PID with SIGTERM
(Anvil writes its state) after checking that it is still that Anvil process. A deployment file
that does not match the chain (another chain id, no code at its addresses, another block at its
recorded deployment block) is refused, never silently reused or replaced. Development keys are
the public test mnemonic's: never send real value to them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from fedchain.cli.common import (
    DEPLOYMENT_ENV,
    RPC_URL_ENV,
    JsonOpt,
    KeystoreOpt,
    Output,
    RpcUrlOpt,
    chain_mismatch,
    check_rpc_url,
    hiding_credentials,
    limits_summary,
    load_key,
    read_deployment_file,
    redact_url,
    url_has_credentials,
    write_json_file,
)
from fedchain.errors import ConfigError
from fedchain.jsonfile import read_json_file
from fedchain.report import format_wei

if TYPE_CHECKING:
    from fedchain.chain.connection import Chain

__all__ = ["DEVNET_FORMAT", "STATE_INTERVAL", "DevnetError", "app", "register"]

#: Version tag of ``devnet.json``.
DEVNET_FORMAT = "fedchain-devnet/1"
_DEVNET_FILE = "devnet.json"
_DEPLOYMENT_FILE = "deployment.json"
_LOG_FILE = "anvil.log"
_STATE_FILE = "state.json"
#: Seconds between Anvil's state dumps: what a SIGKILL of the node can lose at most.
STATE_INTERVAL = 2
_STOP_GRACE = 10.0
#: Seconds devnet up waits for its recorded port to come free before it takes another.
_PORT_WAIT = 15.0

app = typer.Typer(
    help="A local development chain (Anvil) with the FedChain contracts deployed.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


DirOpt = Annotated[
    Path, typer.Option("--dir", help="The devnet's directory (deployment, PID file, log).")
]


class DevnetError(ConfigError):
    """The devnet cannot be started, found or stopped as asked."""


# -- the devnet's process ---------------------------------------------------------------------


def _read_devnet(directory: Path) -> dict[str, Any]:
    path = directory / _DEVNET_FILE
    data = read_json_file(
        path, what="devnet file", error=DevnetError,
        missing_hint=f"start one with 'fedchain devnet up --dir {directory}'",
    )  # fmt: skip
    if (
        not isinstance(data, dict)
        or data.get("format") != DEVNET_FORMAT
        or not isinstance(data.get("pid"), int)
        or not isinstance(data.get("rpc_url"), str)
    ):
        raise DevnetError(f"{path} is not a devnet file (format {DEVNET_FORMAT})")
    return data


def _process_state(pid: int, port: int | None) -> str:
    """``"anvil"`` (alive, and the devnet's Anvil), ``"gone"`` (exited or a zombie) or
    ``"other"`` (the PID now belongs to another program)."""
    proc = Path("/proc")
    if not proc.is_dir():
        raise DevnetError(
            "cannot check processes on this system (no /proc); stop the node yourself"
        )
    try:
        stat = (proc / str(pid) / "stat").read_text()
        argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return "gone"
    args = [a.decode(errors="replace") for a in argv if a]
    if not args or not Path(args[0]).name.startswith("anvil"):
        return "other"
    if port is not None and "--port" in args:
        at = args.index("--port")
        if args[at + 1 : at + 2] != [str(port)]:
            return "other"
    return "anvil"


def _wait_gone(pid: int, port: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _process_state(pid, port) != "anvil":
            return True
        time.sleep(0.05)
    return False


def _stop(pid: int, port: int | None) -> None:
    """SIGTERM, wait, then SIGKILL; only while ``pid`` is still the devnet's Anvil."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if _process_state(pid, port) != "anvil":
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, port, _STOP_GRACE):
            return
    raise DevnetError(f"Anvil (PID {pid}) did not stop after SIGKILL")


def _port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now. SO_REUSEADDR, as servers bind: the
    connections participants had open to a stopped devnet linger in TIME_WAIT for a minute and
    must not make its own port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_port_free(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _port_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)
    return True


def _recorded_port(document: dict[str, Any]) -> int | None:
    url = document.get("rpc_url")
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def _deployed_block(chain: Chain) -> dict[str, Any]:
    """The latest block (the deployment's last) by number and hash: names this very chain."""
    block = chain.w3.eth.get_block("latest")
    return {"number": int(block["number"]), "hash": "0x" + bytes(block["hash"]).hex()}


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# -- commands ---------------------------------------------------------------------------------


@app.command("up")
def up_command(
    directory: DirOpt = Path(".fedchain-devnet"),
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=1, max=65535, help="Port (default: a free one).", show_default=False
        ),
    ] = None,
    accounts: Annotated[
        int, typer.Option("--accounts", min=1, max=1000, help="Funded development accounts.")
    ] = 10,
    block_time: Annotated[
        float,
        typer.Option(
            "--block-time",
            min=0.0,
            help="Seconds between blocks; 0 mines one block per transaction (the chain's time "
            "then stands still between transactions, so round deadlines never pass on chain).",
        ),
    ] = 1.0,
    chain_id: Annotated[int, typer.Option("--chain-id", min=1, help="The chain id.")] = 31337,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Discard the devnet's chain and deployment in DIR (if any) and deploy afresh.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a detached Anvil node on 127.0.0.1 and deploy the contracts (DIR/deployment.json);
    a devnet that was stopped resumes its chain and deployment from DIR/state.json."""
    from fedchain.chain.anvil import DEFAULT_MNEMONIC, AnvilNode
    from fedchain.chain.connection import connect, derive_accounts
    from fedchain.chain.deploy import Deployment, deploy_fedchain

    if (directory / _DEVNET_FILE).exists():
        running = _read_devnet(directory)
        if _process_state(running["pid"], running.get("port")) == "anvil":
            raise DevnetError(
                f"a devnet is already running in {directory} (PID {running['pid']}, "
                f"{running['rpc_url']}); stop it with 'fedchain devnet down --dir {directory}'"
            )
    deployment_path = directory / _DEPLOYMENT_FILE
    state = (directory / _STATE_FILE).resolve()
    again = "pass --force to discard it and deploy afresh, or use another --dir"
    previous: dict[str, Any] | None = None
    moved_from: int | None = None
    if force:
        _remove(state)
    elif deployment_path.exists():
        previous = read_deployment_file(deployment_path)
        if not state.exists():
            raise DevnetError(
                f"{deployment_path} exists but the chain it was deployed on is gone (no "
                f"{state.name} in {directory}); {again}"
            )
        if int(previous["chain_id"]) != chain_id:
            raise DevnetError(
                f"{deployment_path} is for chain id {previous['chain_id']}, not --chain-id "
                f"{chain_id}; pass --chain-id {previous['chain_id']} to resume it, or {again}"
            )
        if port is None:
            recorded = _recorded_port(previous)
            if recorded is not None and _wait_port_free(recorded, _PORT_WAIT):
                port = recorded
            elif recorded is not None:
                moved_from = recorded
    directory.mkdir(parents=True, exist_ok=True)
    log = (directory / _LOG_FILE).resolve()
    node = AnvilNode(
        chain_id=chain_id, accounts=accounts, port=port, block_time=block_time or None,
        detached=True, log_path=log, state_path=state, state_interval=STATE_INTERVAL,
        stop_grace=_STOP_GRACE,
    ).start()  # fmt: skip
    try:
        with connect(node.url, mnemonic=DEFAULT_MNEMONIC, accounts=accounts) as chain:
            if previous is not None:
                mismatch = chain_mismatch(chain, previous)
                if mismatch is not None:
                    raise DevnetError(
                        f"{deployment_path} does not belong to the chain in {state}: "
                        f"{mismatch}; {again}"
                    )
                document = {**previous, "rpc_url": node.url}
                tasks = Deployment.from_json(chain, previous).tasks
                resumed = (chain.block_number(), int(tasks.taskCount()))
            else:
                deployer = chain.dev_accounts(1)[0]
                deployment = deploy_fedchain(chain, deployer=deployer)
                document = {
                    **deployment.to_json(), "rpc_url": node.url,
                    "deployed_block": _deployed_block(chain),
                }  # fmt: skip
                resumed = None
        deployment_file = write_json_file(deployment_path, document, overwrite=True)
        info = {
            "format": DEVNET_FORMAT, "pid": node.pid, "rpc_url": node.url, "port": node.port,
            "chain_id": chain_id, "accounts": accounts, "log": str(log),
            "deployment": str(deployment_file.resolve()), "state": str(state),
            "resumed": resumed is not None, "started_at": int(time.time()),
        }  # fmt: skip
        write_json_file(directory / _DEVNET_FILE, info, overwrite=True)
    except BaseException:
        node.stop()
        raise
    addresses = [a.address for a in derive_accounts(DEFAULT_MNEMONIC, accounts)]
    out = Output(as_json)
    out.line(f"devnet running: {node.url} (chain id {chain_id}, PID {node.pid}, log {log})")
    if moved_from is not None:
        out.line(
            f"WARNING: port {moved_from}, where this devnet listened before, is taken: it now "
            f"listens on {node.port}. Processes still following http://127.0.0.1:{moved_from} "
            "must be restarted (the deployment file has the new URL)."
        )
    if resumed is not None:
        out.line(
            f"resumed the chain in {state}: block {resumed[0]}, {resumed[1]} task(s), the "
            "contracts of the deployment file"
        )
    shown = deployment_file.resolve()
    out.line(f"deployment file: {shown} (export FEDCHAIN_DEPLOYMENT={shown})")
    out.line(
        "development accounts (keys: the public Anvil test mnemonic, m/44'/60'/0'/0/i; "
        "never send real value to them):"
    )
    for i, address in enumerate(addresses):
        out.line(f"  {i}: {address}" + ("  (deployed the contracts)" if i == 0 else ""))
    out.line(f"fund your own keys with 'fedchain devnet fund ADDRESS --dir {directory}'")
    out.result({**info, "deployer": addresses[0], "dev_accounts": addresses})


@app.command("down")
def down_command(
    directory: DirOpt = Path(".fedchain-devnet"),
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Also delete the chain (DIR/state.json) and DIR/deployment.json."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stop the devnet's Anvil (by the PID in DIR/devnet.json); its chain stays in
    DIR/state.json for the next 'devnet up' (unless --reset)."""
    out = Output(as_json)
    if not (directory / _DEVNET_FILE).exists() and directory.is_dir():
        # Stopped already (a second 'down'): nothing to do, not an error.
        if reset:
            _remove(directory / _DEPLOYMENT_FILE, directory / _STATE_FILE)
            out.line(f"deleted its chain and deployment in {directory}")
        out.line(f"no devnet is running from {directory} (already stopped)")
        out.result({"pid": None, "rpc_url": None, "stopped": False, "reset": reset})
        return
    info = _read_devnet(directory)
    pid, port = int(info["pid"]), info.get("port")
    state = _process_state(pid, port)
    if state == "anvil":
        _stop(pid, port)  # SIGTERM first: Anvil writes its state file on the way out
    _remove(directory / _DEVNET_FILE)
    if reset:
        _remove(directory / _DEPLOYMENT_FILE, directory / _STATE_FILE)
    if state == "anvil":
        out.line(f"stopped the devnet (PID {pid}, {info['rpc_url']})")
    else:
        out.line(f"the devnet (PID {pid}) was not running; removed its PID file")
    if reset:
        out.line(f"deleted its chain and deployment in {directory}")
    else:
        out.line(f"its chain is kept in {directory / _STATE_FILE}: 'fedchain devnet up --dir "
                 f"{directory}' resumes it (--reset deletes it)")  # fmt: skip
    out.result({"pid": pid, "rpc_url": info["rpc_url"], "stopped": state == "anvil",
                "reset": reset})  # fmt: skip


@app.command("fund")
def fund_command(
    address: Annotated[str, typer.Argument(help="The address to fund.", show_default=False)],
    amount: Annotated[
        str, typer.Option("--amount", help='How much: "10 ether", "5 gwei", or wei.')
    ] = "10 ether",
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="The devnet's directory (default: the node of --deployment, else "
            ".fedchain-devnet).",
            show_default=False,
        ),
    ] = None,
    deployment_file: Annotated[
        Path | None,
        typer.Option(
            "--deployment",
            envvar=DEPLOYMENT_ENV,
            help="A deployment file whose rpc_url names the node (when no --dir is given).",
            show_default=False,
        ),
    ] = None,
    rpc_url: RpcUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send AMOUNT to ADDRESS from development account 0 (e.g. a key made by 'account new').

    The node: --rpc-url ($FEDCHAIN_RPC_URL), else --dir's devnet, else the rpc_url of
    --deployment ($FEDCHAIN_DEPLOYMENT), else the devnet in .fedchain-devnet."""
    from eth_utils import is_address, to_checksum_address

    from fedchain.chain.anvil import DEFAULT_MNEMONIC
    from fedchain.chain.connection import connect
    from fedchain.units import parse_wei

    if not is_address(address):
        raise ConfigError(f"{address!r} is not an address")
    to = to_checksum_address(address)
    wei = parse_wei(amount, what="--amount")
    if not rpc_url:
        if directory is None and deployment_file is not None:
            rpc_url = read_deployment_file(deployment_file).get("rpc_url")
            if not rpc_url:
                raise ConfigError(f"{deployment_file} has no rpc_url: pass --rpc-url")
        else:
            rpc_url = _read_devnet(directory or Path(".fedchain-devnet"))["rpc_url"]
    url = check_rpc_url(rpc_url)
    with hiding_credentials(url), connect(url, mnemonic=DEFAULT_MNEMONIC, accounts=1) as chain:
        result = chain.fund(to, wei)
        balance = chain.balance(to)
    out = Output(as_json)
    out.line(f"sent {format_wei(wei)} to {to}; its balance is {format_wei(balance)}")
    out.result({"address": to, "amount": wei, "balance": balance, "tx_hash": result.tx_hash})


def deploy_command(
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    out_file: Annotated[Path, typer.Option("--out", help="The deployment file to write.")] = Path(
        "deployment.json"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    gamma_max: Annotated[
        int, typer.Option("--gamma-max", help="γmax of the reputation rule (M9).")
    ] = 100,
    threshold: Annotated[
        int, typer.Option("--threshold", help="h: reputation threshold and initial reputation.")
    ] = 5,
    base_credits: Annotated[
        int, typer.Option("--base-credits", help="C_base credits granted at registration.")
    ] = 0,
    slash_bps: Annotated[
        int, typer.Option("--slash-bps", help="Share of a stake slashed per offense (bps).")
    ] = 5000,
    limits_name: Annotated[
        str,
        typer.Option(
            "--limits",
            help="The bounds every task must respect: production (join window 1 h to 30 days, "
            "round windows 60 s to 7 days, miner stake >= 0.01 ETH) or devnet (windows from "
            "1 s, stake >= 10^12 wei: only for chains whose participants are local processes).",
        ),
    ] = "production",
    as_json: JsonOpt = False,
) -> None:
    """Deploy the FedChain contracts to a JSON-RPC node with your key; write the deployment file."""
    from fedchain.chain.connection import connect
    from fedchain.chain.deploy import DEVNET_LIMITS, PRODUCTION_LIMITS, deploy_fedchain

    presets = {"production": PRODUCTION_LIMITS, "devnet": DEVNET_LIMITS}
    if limits_name not in presets:
        raise ConfigError(f"--limits must be production or devnet, not {limits_name!r}")
    limits = presets[limits_name]

    if not rpc_url:
        raise ConfigError(f"no RPC URL: pass --rpc-url or set {RPC_URL_ENV}")
    check_rpc_url(rpc_url)
    existing = None
    if out_file.exists() and not force:
        try:
            existing = read_deployment_file(out_file)
        except ConfigError as exc:
            raise ConfigError(
                f"{out_file} exists and is not a deployment to reuse ({exc}); pass --force to "
                "replace it, or --out another file"
            ) from None
    account = load_key(keystore)
    shareable = not url_has_credentials(rpc_url)
    with hiding_credentials(rpc_url), connect(rpc_url, private_keys=[account.key]) as chain:
        if existing is not None:  # fail before paying for the deployment
            mismatch = chain_mismatch(chain, existing)
            if mismatch is None:
                raise ConfigError(
                    f"{out_file} already describes a deployment on this node (TaskManager "
                    f"{existing['task_manager']}): use it, or pass --force to deploy again"
                )
            raise ConfigError(
                f"{out_file} belongs to another chain ({mismatch}); pass --force to replace "
                "it, or --out another file"
            )
        deployment = deploy_fedchain(
            chain, deployer=account, gamma_max=gamma_max, threshold=threshold,
            base_credits=base_credits, slash_bps=slash_bps, limits=limits,
        )  # fmt: skip
        document = {
            **deployment.to_json(), "rpc_url": rpc_url if shareable else None,
            "deployed_block": _deployed_block(chain),
        }  # fmt: skip
    path = write_json_file(out_file, document, overwrite=force)
    out = Output(as_json)
    out.line(f"deployed on chain {document['chain_id']}: TaskManager {document['task_manager']}")
    out.line(f"task limits ({limits_name}): {limits_summary(limits)}")
    out.line(f"deployment file: {path}")
    if not shareable:
        out.line(
            f"note: the RPC URL carries credentials, so {path} has no rpc_url: participants "
            f"must pass --rpc-url or set {RPC_URL_ENV}"
        )
    out.result({
        **document, "rpc_url": redact_url(rpc_url), "deployment_file": str(path),
        "deployer": account.address, "limits": limits_name,
    })  # fmt: skip


def register(root: typer.Typer) -> None:
    """Attach the top-level ``deploy`` command to the root app."""
    root.command("deploy")(deploy_command)
