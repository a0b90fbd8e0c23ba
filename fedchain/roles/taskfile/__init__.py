"""The TOML task file a requester writes, and the manifest that tells participants the rest.

A task file (``task.toml``, see ``docs/taskfile.md``) describes one training task: its shape on
chain (rounds, clients, committee, deadlines), its money (reward policy, escrow, mortgage,
stake) and what the clients train (model, data set, hyper-parameters, privacy) and how the
committee judges (verification rule, tolerance)::

    tf = load_task_file("task.toml")             # TaskFileError names file, section and key
    spec = tf.onchain_spec(initial_model=digest, initial_codec=0x55,
                           join_deadline=chain.timestamp() + tf.join_window)
    deployment.tasks.createTask(spec, sender=requester, value=tf.escrow)
    manifest_json = tf.manifest().to_json()      # travels inside the initial model blob

Everything is checked when the file is read, against the same bounds the contracts enforce
(field widths of ``ITaskTypes.TaskSpec``, ``TaskManager._validateSpec``), the registered models,
DP mechanisms and verification rules: a task file that loads is one ``createTask`` accepts on a
deployment with the default parameters (γmax = 100, h = 5).

The modules, each with one job (import from this package, not from them):

- :mod:`.errors` — :class:`TaskFileError` and how messages name file, section and key;
- :mod:`.amounts` — wei amounts: :func:`parse_wei`, :func:`format_wei`;
- :mod:`.reader` — typed, range-checked reads of one table;
- :mod:`.configs` — :class:`TrainingConfig`, :class:`VerificationConfig`, :class:`TaskManifest`;
- :mod:`.request` — the M3 ``[request]``: :class:`RequestConfig`, the canonical request key and
  :func:`bound_request_key`;
- :mod:`.spec` — :class:`TaskFile`, :func:`load_task_file`, ``TaskSpec`` and TOML output.
"""

from fedchain.roles.taskfile.amounts import format_wei, parse_wei
from fedchain.roles.taskfile.configs import (
    MANIFEST_FORMAT,
    TaskManifest,
    TrainingConfig,
    VerificationConfig,
)
from fedchain.roles.taskfile.errors import TaskFileError
from fedchain.roles.taskfile.request import RequestConfig, bound_request_key
from fedchain.roles.taskfile.spec import (
    DEFAULT_TASK_TOML,
    POLICIES,
    TaskFile,
    category_id,
    load_task_file,
)

__all__ = [
    "DEFAULT_TASK_TOML",
    "MANIFEST_FORMAT",
    "POLICIES",
    "RequestConfig",
    "TaskFile",
    "TaskFileError",
    "TaskManifest",
    "TrainingConfig",
    "VerificationConfig",
    "bound_request_key",
    "category_id",
    "format_wei",
    "load_task_file",
    "parse_wei",
]
