"""``fedchain request TASK.toml``: the cached model of an identical request (M3, 001).

A task file with a ``[request]`` section asks a question; its canonical request key
(:meth:`~fedchain.roles.taskfile.TaskFile.request_key`) travels with ``fedchain task create``.
Once a task answering it has finished, ``fedchain request`` hands out its model instead of
training again: it looks the key up for each requester given with ``--from`` (default: the
user's own key, from ``$FEDCHAIN_PRIVATE_KEY`` or ``--keystore``), fetches the blob from the
store, checks it against its CID and decodes it under the task file's model spec, and writes it
to ``--out``. The contract binds every request key to its requester, so a stranger's task can
never answer a request the user trusts someone else with.

Exit codes: 0 an answer was found (and written), :data:`NOT_CACHED_EXIT` no trusted requester's
task has answered the request yet (create one with ``fedchain task create``), 1 bad input, 3
the node went away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

from fedchain.cli.common import (
    DeploymentOpt,
    JsonOpt,
    KeystoreOpt,
    Output,
    RpcUrlOpt,
    StoreOpt,
    load_key,
    open_session,
)
from fedchain.errors import ConfigError

__all__ = ["NOT_CACHED_EXIT", "register", "request_command"]

#: Exit code when no trusted requester's task has answered the request.
NOT_CACHED_EXIT: Final = 4
_DEFAULT_DEPLOYMENT: Final = Path("deployment.json")


def _requesters(values: list[str] | None, keystore: Path | None) -> list[str]:
    from eth_utils import is_address, to_checksum_address

    if values:
        bad = [v for v in values if not is_address(v)]
        if bad:
            raise ConfigError(f"--from {bad[0]!r} is not an Ethereum address")
        return [to_checksum_address(v) for v in values]
    return [load_key(keystore).address]


def request_command(
    task_file: Annotated[
        Path,
        typer.Argument(help="The TOML task file with a [request] section.", show_default=False),
    ],
    trusted: Annotated[
        list[str] | None,
        typer.Option(
            "--from",
            help="A requester whose answers you trust (repeatable, tried in order; default: "
            "your own key's address).",
            show_default=False,
        ),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the model blob (safetensors) here.", show_default=False),
    ] = None,
    deployment: DeploymentOpt = _DEFAULT_DEPLOYMENT,
    rpc_url: RpcUrlOpt = None,
    keystore: KeystoreOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hand out the model a finished task left for TASK_FILE's request, instead of training."""
    from fedchain.learning import state_shapes
    from fedchain.roles.cache import find_cached_answer
    from fedchain.roles.taskfile import load_task_file
    from fedchain.storage import decode_model

    task = load_task_file(task_file)
    if task.request is None:
        raise ConfigError(
            f"{task_file} has no [request] section: add one (terms = [...]) to make it a request"
        )
    if out_file is not None and out_file.exists():
        raise ConfigError(f"{out_file} exists; remove it or pick another --out")
    requesters = _requesters(trusted, keystore)
    key = task.request_key()
    out = Output(as_json)
    with open_session(deployment, rpc_url, store=store, with_store=out_file is not None) as s:
        answer = find_cached_answer(s.deployment, requesters, key)
        result: dict[str, object] = {
            "request_key": "0x" + key.hex(), "requesters": requesters, "cached": answer is not None,
        }  # fmt: skip
        if answer is None:
            whose = ", ".join(requesters)
            out.line(
                f"no finished task of {whose} has answered this request yet: create one with "
                f"'fedchain task create {task_file}'"
            )
            out.result(result)
            raise typer.Exit(NOT_CACHED_EXIT)
        kind = "DP-perturbed final model" if answer.perturbed else "final model"
        out.line(
            f"request answered by task {answer.task_id} of {answer.requester}: {kind} {answer.cid}"
        )
        result |= {"task_id": answer.task_id, "requester": answer.requester, "cid": answer.cid,
                   "perturbed": answer.perturbed}  # fmt: skip
        if out_file is not None:
            assert s.store is not None
            blob = s.store.get(answer.cid)  # checked against its CID
            decode_model(blob, expected_shapes=state_shapes(task.model))  # or StorageError
            out_file.write_bytes(blob)
            out.line(f"wrote {out_file} ({len(blob):,} bytes)")
            result["out"] = str(out_file)
    out.result(result)


def register(root: typer.Typer) -> None:
    """Attach the top-level ``request`` command to the root app."""
    root.command("request")(request_command)
