"""The UI's door to the Kubernetes API: every call made with the user's own identity.

:class:`Cluster` knows where the API server is and how to trust it; it hands out one
:class:`UserApi` per identity: the kubeconfig's own credentials (``shunter ui`` on a laptop) or
a bearer token (a signed-in user, or the ``Authorization`` header of an authenticating proxy).
The UI has no credentials of its own for reading or writing Kargo objects. Answers come back as
plain JSON dicts; failures become :class:`ApiError` with the API server's status and message,
so a "forbidden" reaches the page as the API server said it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

SERVICE_ACCOUNT_CA = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")

__all__ = ["GROUP", "VERSION", "ApiError", "Cluster", "UserApi", "WatchEvent"]

GROUP = "kargo.akuity.io"
VERSION = "v1alpha1"
JSON = dict[str, Any]
_TIMEOUT = 30.0
#: Seconds a watch runs before the API server ends it and it is started again.
WATCH_SECONDS = 240


class ApiError(Exception):
    """An API call failed: ``status`` is the HTTP status (0: the server was not reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def forbidden(self) -> bool:
        """The API server refused the identity (401 or 403)."""
        return self.status in (401, 403)


def _status_message(raw: bytes, status: int) -> str:
    """The ``message`` of a Status the API server answered with, else the body's start."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    text = raw.decode("utf-8", "replace").strip()[:500]
    return text or f"HTTP {status}"


def _translate(exc: ApiException) -> ApiError:
    status = int(exc.status) if exc.status else 0
    body: object = exc.body
    raw = body if isinstance(body, bytes) else str(body or exc.reason or "").encode()
    return ApiError(status, _status_message(raw, status))


@dataclass(frozen=True)
class WatchEvent:
    """One change seen by a watch: ``type`` is ADDED, MODIFIED or DELETED."""

    type: str
    object: JSON


class UserApi:
    """The few Kubernetes calls the UI makes, all as one identity."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._client = api_client
        self._custom = k8s.CustomObjectsApi(api_client)

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.close()

    async def _json(self, coro: Any) -> JSON:
        try:
            response = await coro
            try:
                raw = await response.read()
                status = int(response.status)
            finally:
                response.release()
        except ApiException as exc:
            raise _translate(exc) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ApiError(0, f"cannot reach the API server: {exc}") from None
        # Unread answers (_preload_content=False) are not checked by the library: check here.
        if not 200 <= status <= 299:
            raise ApiError(status, _status_message(raw, status))
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError(0, "the API server sent something that is not a JSON object")
        return data

    async def list_kind(self, plural: str, namespace: str) -> tuple[list[JSON], str]:
        """The objects of one Kargo kind in a namespace, and the list's resourceVersion."""
        body = await self._json(
            self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, _preload_content=False, _request_timeout=_TIMEOUT
            )
        )
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def may_list(self, plural: str, namespace: str) -> None:
        """Raise :class:`ApiError` unless the identity may list ``plural`` now (one item read)."""
        await self._json(
            self._custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                plural,
                limit=1,
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            )
        )

    async def list_projects(self) -> tuple[list[JSON], str]:
        """Every Project (cluster-scoped), and the list's resourceVersion."""
        body = await self._json(
            self._custom.list_cluster_custom_object(
                GROUP, VERSION, "projects", _preload_content=False, _request_timeout=_TIMEOUT
            )
        )
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    async def get(self, plural: str, namespace: str, name: str) -> JSON:
        """One object of a Kargo kind."""
        return await self.read(plural, namespace, name)

    async def create(self, plural: str, namespace: str, body: JSON) -> JSON:
        """Create an object."""
        return await self._json(
            self._custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                plural,
                body,
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            )
        )

    async def patch(
        self, plural: str, namespace: str, name: str, patch: JSON, *, status: bool = False
    ) -> JSON:
        """A JSON merge patch of an object (``status``: of its status subresource)."""
        method = (
            self._custom.patch_namespaced_custom_object_status
            if status
            else self._custom.patch_namespaced_custom_object
        )
        return await self._json(
            method(
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                patch,
                _content_type="application/merge-patch+json",
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            )  # type: ignore[call-arg]
        )

    def _core_call(self, plural: str, namespace: str, name: str | None, **kw: Any) -> Any:
        core = k8s.CoreV1Api(self._client)
        calls = {
            "secrets": (core.read_namespaced_secret, core.list_namespaced_secret),
            "configmaps": (core.read_namespaced_config_map, core.list_namespaced_config_map),
        }
        if plural not in calls:
            raise ApiError(400, f"the UI does not read {plural} of the core API")
        read, listing = calls[plural]
        if name is None:
            return listing(namespace, **kw)
        return read(name, namespace, **kw)

    async def read(
        self, plural: str, namespace: str | None, name: str, *, group: str = GROUP
    ) -> JSON:
        """One object of a Kargo kind (``namespace`` None: cluster-scoped) or, with ``group``
        ``""``, a Secret or ConfigMap."""
        options: dict[str, Any] = {"_preload_content": False, "_request_timeout": _TIMEOUT}
        if not group:
            return await self._json(self._core_call(plural, namespace or "", name, **options))
        if namespace is None:
            call = self._custom.get_cluster_custom_object(group, VERSION, plural, name, **options)
            return await self._json(call)
        return await self._json(
            self._custom.get_namespaced_custom_object(
                group, VERSION, namespace, plural, name, **options
            )
        )

    async def select(
        self, plural: str, namespace: str, label_selector: str | None, *, group: str = GROUP
    ) -> list[JSON]:
        """The objects of a namespace that match ``label_selector`` (``group`` as in
        :meth:`read`)."""
        options: dict[str, Any] = {"_preload_content": False, "_request_timeout": _TIMEOUT}
        if label_selector:
            options["label_selector"] = label_selector
        if not group:
            body = await self._json(self._core_call(plural, namespace, None, **options))
        else:
            body = await self._json(
                self._custom.list_namespaced_custom_object(
                    group, VERSION, namespace, plural, **options
                )
            )
        return [i for i in body.get("items") or [] if isinstance(i, dict)]

    async def whoami(self) -> str | None:
        """The user name the API server sees (a SelfSubjectReview), or None if unknown."""
        try:
            review = await k8s.AuthenticationV1Api(self._client).create_self_subject_review(
                k8s.V1SelfSubjectReview(
                    api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"
                ),
                _request_timeout=_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status in (401, 403):
                raise _translate(exc) from None
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ApiError(0, f"cannot reach the API server: {exc}") from None
        status: Any = review.status
        info: Any = status.user_info if status is not None else None
        return str(info.username) if info is not None and info.username else None

    async def watch(
        self, plural: str, namespace: str | None, resource_version: str
    ) -> AsyncIterator[WatchEvent]:
        """Changes after ``resource_version`` until the API server ends the watch
        (``namespace`` None: a cluster-scoped kind).

        Raises :class:`ApiError` (status 410 when ``resource_version`` is too old).
        """
        options: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "resource_version": resource_version,
            "timeout_seconds": WATCH_SECONDS,
            "_preload_content": False,
            "_request_timeout": WATCH_SECONDS + 30,
        }
        try:
            if namespace is None:
                call = self._custom.list_cluster_custom_object(GROUP, VERSION, plural, **options)
            else:
                call = self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, **options
                )
            response = await call
        except ApiException as exc:
            raise _translate(exc) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ApiError(0, f"cannot reach the API server: {exc}") from None
        if not 200 <= int(response.status) <= 299:
            try:
                raw = await response.read()
            finally:
                response.release()
            raise ApiError(int(response.status), _status_message(raw, int(response.status)))
        try:
            while True:
                try:
                    line = await response.content.readline()
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    raise ApiError(0, f"watch interrupted: {exc}") from None
                if not line:
                    return
                try:
                    event = json.loads(line)
                except ValueError:
                    raise ApiError(
                        0, "the API server sent a watch event that is not JSON"
                    ) from None
                if not isinstance(event, dict):
                    raise ApiError(0, "the API server sent a watch event that is not an object")
                kind, obj = event.get("type"), event.get("object")
                if kind == "ERROR":
                    obj = obj if isinstance(obj, dict) else {}
                    raise ApiError(int(obj.get("code") or 0), str(obj.get("message") or "error"))
                if isinstance(kind, str) and isinstance(obj, dict):
                    yield WatchEvent(kind, obj)
        finally:
            response.release()


class Cluster:
    """Where the API server is; makes :class:`UserApi` objects for identities."""

    def __init__(self, base: k8s.Configuration, *, kubeconfig_client: bool) -> None:
        self._base = base
        self._kubeconfig_client = kubeconfig_client
        self._own: UserApi | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def from_kubeconfig(cls, path: Path | None, context: str | None = None) -> Cluster:
        """The cluster of a kubeconfig, whose credentials :meth:`own_identity` uses."""
        configuration = k8s.Configuration()
        try:
            await k8s_config.load_kube_config(
                config_file=str(path) if path else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError) as exc:
            raise ApiError(0, f"cannot read the kubeconfig: {exc}") from None
        return cls(configuration, kubeconfig_client=True)

    @classmethod
    def in_cluster(cls, ca_file: Path = SERVICE_ACCOUNT_CA) -> Cluster:
        """The cluster the pod runs in, trusted through ``ca_file``; no credentials at all.

        Users bring their own tokens, so the pod needs no ServiceAccount token: the cluster's
        CA certificate (e.g. the ``kube-root-ca.crt`` ConfigMap, mounted) is enough.
        """
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise ApiError(0, "not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
        if not ca_file.is_file():
            raise ApiError(0, f"the cluster's CA certificate {ca_file} does not exist")
        configuration = k8s.Configuration()
        host = f"[{host}]" if ":" in host else host
        configuration.host = f"https://{host}:{port}"
        configuration.ssl_ca_cert = str(ca_file)
        return cls(configuration, kubeconfig_client=False)

    @property
    def server(self) -> str:
        """The API server's URL."""
        return str(self._base.host)

    @property
    def has_own_identity(self) -> bool:
        """Whether the kubeconfig's credentials may be used (local mode)."""
        return self._kubeconfig_client

    async def own_identity(self) -> UserApi:
        """The kubeconfig's identity (only for ``shunter ui`` run by the user themselves)."""
        if not self._kubeconfig_client:
            raise ApiError(401, "this UI has no kubeconfig identity: sign in with a token")
        async with self._lock:
            if self._own is None:
                self._own = UserApi(k8s.ApiClient(configuration=self._base))
            return self._own

    def for_token(self, token: str) -> UserApi:
        """An identity authenticated by a bearer token, none of the kubeconfig's credentials."""
        configuration = copy.deepcopy(self._base)
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.refresh_api_key_hook = None
        configuration.cert_file = None
        configuration.key_file = None
        configuration.username = None
        configuration.password = None
        return UserApi(k8s.ApiClient(configuration=configuration))

    async def close(self) -> None:
        """Close the kubeconfig identity's connections."""
        if self._own is not None:
            await self._own.close()
            self._own = None
