"""Who the API server says the caller is (a SelfSubjectReview), as Kargo's actor string."""

from __future__ import annotations

from shunter.cliclient.client import ApiError, KubeAPI

__all__ = ["caller_actor"]


def caller_actor(api: KubeAPI) -> str | None:
    """``kubernetes:<user>``, or None when the API server does not say."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        answer = api.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body)
    except ApiError:
        return None
    user = ((answer or {}).get("status") or {}).get("userInfo") or {}
    name = user.get("username")
    return f"kubernetes:{name}" if isinstance(name, str) and name else None
