"""Who is asking: the actor string Kargo records, whether a request comes from the operator
itself (the control plane), and whether the requester may ``promote`` a Stage.

The operator learns its own user name at start-up with a SelfSubjectReview; every replica
runs as the same ServiceAccount, so one name covers them all. Kubernetes' own garbage
collector and namespace controller are recognised too: their deletions are never refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shunter.admission.review import UserInfo
from shunter.kube.client import KubeClient, KubeError

__all__ = [
    "CONTROLLER_ACTOR_PREFIX",
    "KUBERNETES_ACTOR_PREFIX",
    "PROMOTE_VERB",
    "Authorizer",
    "ControlPlane",
    "kubernetes_actor",
    "who_am_i",
]

log = logging.getLogger(__name__)

#: Kargo's actor prefixes (``kargo.akuity.io/create-actor``, abort and reverify requests).
KUBERNETES_ACTOR_PREFIX = "kubernetes:"
CONTROLLER_ACTOR_PREFIX = "controller:"
#: The custom RBAC verb on ``stages`` that gates promoting and approving.
PROMOTE_VERB = "promote"
_GARBAGE_COLLECTORS = frozenset(
    {
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:kube-system:generic-garbage-collector",
        "system:kube-controller-manager",
    }
)


def kubernetes_actor(user: UserInfo) -> str:
    """``kubernetes:<username>``, as Kargo's webhooks record a Kubernetes user."""
    return f"{KUBERNETES_ACTOR_PREFIX}{user.username}"


async def who_am_i(kube: KubeClient) -> str:
    """The user name the API server knows this process by (a SelfSubjectReview)."""
    answer = await kube.create_cluster_custom(
        "selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        group="authentication.k8s.io",
        version="v1",
    )
    name = ((answer.get("status") or {}).get("userInfo") or {}).get("username")
    if not isinstance(name, str) or not name:
        raise KubeError("the SelfSubjectReview named no user")
    return name


@dataclass(frozen=True)
class ControlPlane:
    """The user names whose requests are the operator's own."""

    usernames: frozenset[str]

    def is_operator(self, user: UserInfo) -> bool:
        """The request comes from the operator (auto-promotion, status writes)."""
        return user.username in self.usernames

    @staticmethod
    def is_garbage_collector(user: UserInfo) -> bool:
        """The request comes from Kubernetes' garbage collector or namespace controller."""
        return user.username in _GARBAGE_COLLECTORS


class Authorizer:
    """Asks the API server (SubjectAccessReview) whether a user may ``promote`` a Stage."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def may_promote(self, user: UserInfo, namespace: str, stage: str) -> bool:
        """Whether ``user`` holds the ``promote`` verb on ``stages/<stage>`` in ``namespace``.

        Raises:
            KubeError: the review could not be made (the caller refuses the request).
        """
        spec: dict[str, object] = {
            "user": user.username,
            "groups": list(user.groups),
            "resourceAttributes": {
                "group": "kargo.akuity.io",
                "resource": "stages",
                "name": stage,
                "verb": PROMOTE_VERB,
                "namespace": namespace,
            },
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        answer = await self._kube.create_cluster_custom(
            "subjectaccessreviews",
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
            group="authorization.k8s.io",
            version="v1",
        )
        return bool((answer.get("status") or {}).get("allowed"))
