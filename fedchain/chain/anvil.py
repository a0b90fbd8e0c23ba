"""A local Anvil node as a child process: found in node_modules, started on a free loopback port,
stopped by PID.

The binary comes from the npm package ``@foundry-rs/anvil`` (``npm ci``). By default a node never
outlives the Python process that started it: on Linux the child gets ``PR_SET_PDEATHSIG`` (SIGTERM
when the starting thread dies, including SIGKILL of the parent), and an ``atexit`` hook stops what
is left. A *detached* node (``AnvilNode(detached=True)``, what ``fedchain devnet up`` starts) runs
in its own session instead, writes its output to a file, and lives on until it is stopped by PID.

With ``state_path`` the chain outlives the process too: Anvil loads the file when it exists and
writes it again on a graceful exit (SIGTERM or SIGINT, which :meth:`AnvilNode.stop` sends first),
and every ``state_interval`` seconds, so that even a SIGKILL loses at most that much.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType

import httpx

from fedchain.chain.errors import AnvilError, ChainConfigError

__all__ = ["DEFAULT_MNEMONIC", "AnvilNode", "find_anvil_binary"]

#: Anvil's and Hardhat's well-known development mnemonic (public: never hold real value with it).
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
_NPM_BIN = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
_PR_SET_PDEATHSIG = 1
_live: weakref.WeakSet[AnvilNode] = weakref.WeakSet()


def _search_upward(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / _NPM_BIN
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_anvil_binary() -> Path:
    """Locate the Anvil executable.

    Order: ``$FEDCHAIN_ANVIL_BIN``; ``node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil``
    searched upward from the current directory and from this package; ``anvil`` on ``PATH``.

    Raises:
        AnvilError: not found (the message says how to install it).
    """
    env = os.environ.get("FEDCHAIN_ANVIL_BIN")
    if env:
        path = Path(env).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise AnvilError(f"FEDCHAIN_ANVIL_BIN={env} is not an executable file")
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        found = _search_upward(start)
        if found is not None:
            return found
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise AnvilError(
        "Anvil not found: run 'npm ci' in the project root (installs @foundry-rs/anvil into "
        "node_modules), install Foundry's anvil on PATH, or set FEDCHAIN_ANVIL_BIN"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent(parent_pid: int) -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    os.setpgrp()  # own process group: a Ctrl-C in the terminal is handled by the parent


class AnvilNode:
    """An Anvil process on ``127.0.0.1``.

    Use as a context manager, or call :meth:`start` / :meth:`stop` (idempotent)::

        with AnvilNode(chain_id=31337) as node:
            connect(node.url)

    Args:
        chain_id: the chain id Anvil reports.
        accounts: number of pre-funded development accounts.
        balance_eth: balance of each development account, in ether.
        mnemonic: the mnemonic the development accounts are derived from (BIP-44
            ``m/44'/60'/0'/0/i``); the default is the public development mnemonic.
        block_time: seconds between blocks; None mines one block per transaction.
        gas_limit: the block gas limit (Anvil's default is 30M).
        port: a fixed port; None picks a free one.
        binary: the executable; None uses :func:`find_anvil_binary`.
        startup_timeout: seconds to wait for the node to answer ``eth_chainId``.
        extra_args: further command-line arguments.
        detached: run in a new session, without the parent-death signal and the ``atexit``
            stop, so that the node outlives this process (stop it by PID, or with :meth:`stop`
            while this object lives).
        log_path: a detached node's output file (appended to; created with its parents); None:
            a new temporary file, kept. An attached node always logs to a temporary file that
            :meth:`stop` deletes.
        state_path: keep the chain in this file (``anvil --state``): loaded at start when it
            exists, written on a graceful stop.
        state_interval: with ``state_path``, also write it every this many seconds
            (``--state-interval``).
        stop_grace: seconds :meth:`stop` waits after SIGTERM (while Anvil writes its state)
            before it sends SIGKILL.
    """

    def __init__(
        self,
        *,
        chain_id: int = 31337,
        accounts: int = 10,
        balance_eth: int = 10_000,
        mnemonic: str = DEFAULT_MNEMONIC,
        block_time: float | None = None,
        gas_limit: int | None = None,
        port: int | None = None,
        binary: str | Path | None = None,
        startup_timeout: float = 30.0,
        extra_args: tuple[str, ...] = (),
        detached: bool = False,
        log_path: str | Path | None = None,
        state_path: str | Path | None = None,
        state_interval: int | None = None,
        stop_grace: float = 5.0,
    ) -> None:
        self.chain_id = chain_id
        self.accounts = accounts
        self.balance_eth = balance_eth
        self.mnemonic = mnemonic
        self.block_time = block_time
        self.gas_limit = gas_limit
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        if log_path is not None and not detached:
            raise ChainConfigError("log_path= applies to detached Anvil nodes only")
        self.detached = detached
        if state_interval is not None and (state_path is None or state_interval < 1):
            raise ChainConfigError("state_interval= needs state_path= and at least 1 second")
        self.state_path = Path(state_path) if state_path is not None else None
        self.state_interval = state_interval
        self.stop_grace = stop_grace
        self._log_path = Path(log_path) if log_path is not None else None
        self._fixed_port = port
        self._binary = Path(binary) if binary is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None
        self._detached_log: Path | None = None
        self._lock = threading.Lock()
        self.port: int | None = None

    # -- properties --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (only once started)."""
        if self.port is None:
            raise AnvilError("the Anvil node is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id, or None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        """The file Anvil writes its output to (None before the first start)."""
        if self._detached_log is not None:
            return self._detached_log
        if self._log is not None:
            return Path(self._log.name)
        return self._log_path

    def log_tail(self, max_chars: int = 2000) -> str:
        """The last characters Anvil wrote to stdout/stderr (for diagnostics)."""
        path = self.log_path
        if path is None:
            return ""
        try:
            data = path.read_bytes()
        except OSError:
            return ""
        return data[-max_chars:].decode(errors="replace").strip()

    # -- lifecycle ---------------------------------------------------------------------------

    def _command(self, binary: Path, port: int) -> list[str]:
        cmd = [
            str(binary),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_eth),
            "--mnemonic", self.mnemonic,
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.gas_limit is not None:
            cmd += ["--gas-limit", str(self.gas_limit)]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path)]
            if self.state_interval is not None:
                cmd += ["--state-interval", str(self.state_interval)]
        return cmd + list(self.extra_args)

    def start(self) -> AnvilNode:
        """Start the node and wait until it answers; returns self.

        Raises:
            AnvilError: the binary is missing, or the node exited or did not answer in time
                (the message includes the end of Anvil's output).
        """
        with self._lock:
            if self.running:
                return self
            binary = self._binary or find_anvil_binary()
            attempts = 1 if self._fixed_port is not None else 3
            last_error: AnvilError | None = None
            for _ in range(attempts):
                port = self._fixed_port or _free_port()
                try:
                    self._spawn(binary, port)
                    self._wait_ready()
                    if not self.detached:
                        _live.add(self)
                    return self
                except AnvilError as exc:  # e.g. the free port was taken meanwhile
                    last_error = exc
                    self._terminate()
            assert last_error is not None
            raise last_error

    def _spawn(self, binary: Path, port: int) -> None:
        self._close_log()
        if self.detached:
            self._spawn_detached(binary, port)
            return
        self._log = tempfile.NamedTemporaryFile(prefix="fedchain-anvil-", suffix=".log")  # noqa: SIM115 - closed in stop()
        parent = os.getpid()
        on_main = threading.current_thread() is threading.main_thread()
        try:
            self._proc = subprocess.Popen(
                self._command(binary, port),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                # PDEATHSIG fires when the *thread* that forked exits: only tie it to the main one.
                preexec_fn=(lambda: _die_with_parent(parent)) if on_main else os.setpgrp,
                close_fds=True,
            )
        except OSError as exc:
            raise AnvilError(f"cannot execute {binary}: {exc}") from exc
        self.port = port

    @staticmethod
    def _open_log(path: Path) -> io.BufferedWriter:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return path.open("ab")
        except OSError as exc:
            raise AnvilError(f"cannot write Anvil's log {path}: {exc.strerror or exc}") from None

    def _spawn_detached(self, binary: Path, port: int) -> None:
        path = self._log_path
        if path is None:
            fd, name = tempfile.mkstemp(prefix="fedchain-anvil-", suffix=".log")
            os.close(fd)
            path = Path(name)
        self._detached_log = path
        with self._open_log(path) as log:
            try:
                self._proc = subprocess.Popen(
                    self._command(binary, port),
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,  # no terminal's Ctrl-C, no hang-up, no parent tie
                    close_fds=True,
                )  # fmt: skip
            except OSError as exc:
                raise AnvilError(f"cannot execute {binary}: {exc}") from exc
        self.port = port

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    raise AnvilError(
                        f"Anvil exited with code {code} during startup:\n{self.log_tail()}"
                    )
                try:
                    reply = client.post(self.url, json=payload)
                    if reply.status_code == 200 and "result" in reply.json():
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise AnvilError(
                        f"Anvil did not answer on {self.url} within {self.startup_timeout:.0f} s:"
                        f"\n{self.log_tail()}"
                    )
                time.sleep(0.05)

    def _terminate(self, grace: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=grace)

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def stop(self, *, grace: float | None = None) -> None:
        """Stop the process by PID: SIGTERM (Anvil writes its ``state_path``), then SIGKILL
        after ``grace`` seconds (default ``stop_grace``). Idempotent."""
        with self._lock:
            self._terminate(self.stop_grace if grace is None else grace)
            self._close_log()
            self.port = None
            _live.discard(self)

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid} url={self.url}" if self.running else "stopped"
        return f"AnvilNode(chain_id={self.chain_id}, {state})"


@atexit.register
def _stop_all() -> None:
    for node in list(_live):
        with contextlib.suppress(Exception):
            node.stop(grace=2.0)
