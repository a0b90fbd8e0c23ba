"""The M3 request cache (001): the model a finished task left for a request, looked up on chain.

``TaskSetup`` files a task's request key bound to its requester
(:func:`~fedchain.roles.taskfile.bound_request_key`) and ``ModelRegistry`` caches the first
finished task per bound key. Looking a request up therefore names whose answers one trusts: a
stranger who creates a task with the same request fills only its own entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fedchain.chain.deploy import Deployment
from fedchain.roles.taskfile import bound_request_key
from fedchain.storage.multiformats import digest_to_cid

__all__ = ["CachedAnswer", "cached_answer", "find_cached_answer"]


@dataclass(frozen=True)
class CachedAnswer:
    """A cached answer to a request.

    Attributes:
        requester: whose task answered it.
        task_id: the task.
        cid: the model handed out: the task's DP-perturbed final model when its requester
            published one, else its final model.
        perturbed: which of the two ``cid`` is.
    """

    requester: str
    task_id: int
    cid: str
    perturbed: bool


def cached_answer(
    deployment: Deployment, requester: str, request_key: bytes
) -> CachedAnswer | None:
    """The answer ``requester``'s tasks left for ``request_key``, or None."""
    bound = bound_request_key(requester, request_key)
    if not any(bound):
        return None
    found = deployment.models.cachedModel(bound)
    task_id, digest, codec = int(found.taskId), bytes(found.digest), int(found.codec)
    if not any(digest):
        return None
    perturbed = any(bytes(deployment.models.perturbedModel(task_id)[0]))
    return CachedAnswer(requester, task_id, digest_to_cid(digest, codec), perturbed)


def find_cached_answer(
    deployment: Deployment, requesters: Iterable[str], request_key: bytes
) -> CachedAnswer | None:
    """The first cached answer among ``requesters`` (in the order given), or None."""
    for requester in requesters:
        answer = cached_answer(deployment, requester, request_key)
        if answer is not None:
            return answer
    return None
