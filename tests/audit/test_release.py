"""A request with a DP release (M3 + M4c, 002 eq. 5): the requester publishes the final model
perturbed with Laplace noise, the cache serves it, and the audit measures the noise against
the declared epsilon; a requester that skips the noise is named."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedchain.audit import EXIT_MISMATCH, EXIT_OK
from fedchain.roles import requester as requester_module
from fedchain.roles.blobs import RELEASE_KEY, fetch_model
from fedchain.roles.cache import cached_answer
from fedchain.roles.taskfile import RequestConfig
from fedchain.storage import cid_to_digest, open_store

from .simrun import simulate, task_file

EPSILON, SENSITIVITY = 20.0, 0.05


def _request_task() -> Any:
    release = RequestConfig(("digits", "handwriting"), EPSILON, SENSITIVITY)
    return dataclasses.replace(task_file(), request=release)


def test_the_cache_serves_the_perturbed_release_and_the_audit_measures_its_noise(
    tmp_path: Path,
) -> None:
    task = _request_task()
    with simulate(tmp_path / "store", task=task) as run:
        dep = run.deployment
        requester = run.result.summary["requester"]
        answer = cached_answer(dep, requester, task.request_key())
        assert answer is not None and answer.task_id == run.task_id and answer.perturbed
        assert run.result.summary["request"] == {
            "request_key": "0x" + task.request_key().hex(), "requester": requester,
            "task_id": run.task_id, "cid": answer.cid, "perturbed": True,
        }  # fmt: skip
        assert cached_answer(dep, run.clients[0], task.request_key()) is None  # not theirs
        store = open_store(f"local:{run.store_dir}")
        try:
            served = fetch_model(store, *cid_to_digest(answer.cid), spec=task.model)
            final = fetch_model(store, *dep.models.finalModel(run.task_id), spec=task.model)
        finally:
            store.close()
        assert RELEASE_KEY in served.metadata.extra
        noise = np.concatenate([
            (served.state[k].astype(np.float64) - final.state[k]).ravel() for k in final.state
            if not k.endswith(("running_mean", "running_var"))
        ])  # fmt: skip
        assert np.mean(np.abs(noise)) == pytest.approx(SENSITIVITY / EPSILON, rel=0.1)
        report = run.audit()
    assert report.exit_code() == EXIT_OK, [f.to_json() for f in report.mismatches]
    assert report.check_table()["privacy.release"]["ok"] == 1


def test_a_requester_that_skips_the_noise_is_named_by_the_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker: a requester that declares epsilon 20 but publishes the final model as is
    (its consumers believe it is private)."""

    def no_noise(state: Any, **_: Any) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in state.items()}

    monkeypatch.setattr(requester_module, "perturb_model", no_noise)
    with simulate(tmp_path / "store", task=_request_task()) as run:
        report = run.audit()
    assert report.exit_code() == EXIT_MISMATCH
    (finding,) = [f for f in report.mismatches if f.check == "privacy.release"]
    assert finding.found["mean_abs_noise"] == 0.0
    assert finding.expected["mean_abs_noise"] == pytest.approx(SENSITIVITY / EPSILON)
    assert finding.tx_hash is not None
