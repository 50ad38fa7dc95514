"""An async client for the few Kubernetes API calls shunter makes, over ``kubernetes_asyncio``.

One aiohttp connection pool per client, on the event loop that first uses it (no threads).
``kubernetes_asyncio`` supplies configuration loading, authentication (certificates, tokens,
exec plugins) and the HTTP session; requests are made by path and answers are plain JSON dicts
exactly as the API server sent them (a Secret's ``data`` values stay base64-encoded), so callers
never import the library. API errors become :class:`KubeError` subclasses; a server that cannot
be reached is a :class:`KubeError` without a status.

Writes carry the field manager ``shunter``. :meth:`KubeClient.list_page` and
:meth:`KubeClient.watch` are the building blocks of the informers (:mod:`shunter.kube.informer`).

The client is where Secrets enter the operator and where statuses and Events leave it, so it is
the choke point of redaction (:mod:`shunter._internal.redaction`): every Secret it receives (a
GET, a LIST, a watch event, whoever asked) is registered, and every status and Event it writes
has every registered value (and URL credentials) masked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from kubernetes_asyncio.client import ApiClient, Configuration

from shunter._internal.redaction import redact_data, register_secret_object
from shunter.kube.config import (
    ConfigException,
    ConfigLoader,
    in_cluster_loader,
    kubeconfig_loader,
)

__all__ = [
    "FIELD_MANAGER",
    "KARGO_GROUP",
    "KARGO_VERSION",
    "ConflictError",
    "GoneError",
    "KubeClient",
    "KubeError",
    "NotFoundError",
    "resource_path",
]

KARGO_GROUP = "kargo.akuity.io"
KARGO_VERSION = "v1alpha1"
FIELD_MANAGER = "shunter"
_REQUEST_TIMEOUT = 30.0
_POOL_SIZE = 100
_THROTTLE_RETRIES = 5
_MAX_RETRY_AFTER = 5.0
_CRD_GROUP = "apiextensions.k8s.io"
_MERGE_PATCH = "application/merge-patch+json"
_STRATEGIC_PATCH = "application/strategic-merge-patch+json"

JSON = dict[str, Any]


class KubeError(Exception):
    """A Kubernetes API call failed (``status`` is the HTTP status, if there was a response)."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFoundError(KubeError):
    """The object (or its namespace, or its kind) does not exist (HTTP 404)."""


class ConflictError(KubeError):
    """The object already exists, or changed since it was read (HTTP 409)."""


class GoneError(KubeError):
    """The resourceVersion asked for is too old (HTTP 410): list again."""


def resource_path(
    group: str,
    version: str,
    plural: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The API path of a collection or an object (``group`` "" is the core API)."""
    parts = ["/api/v1"] if not group else ["/apis", quote(group), quote(version)]
    if namespace is not None:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(quote(plural, safe=""))
    if name is not None:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


def _status_message(body: bytes) -> str:
    """The ``message`` of the Status object the API server returned, if any."""
    try:
        status = json.loads(body)
    except ValueError:
        return body[:500].decode("utf-8", "replace")
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return str(status["message"])
    return ""


def _error(status: int, reason: str, body: bytes, what: str) -> KubeError:
    message = f"{what}: {status} {_status_message(body) or reason}".rstrip()
    kind: type[KubeError] = KubeError
    if status == 404:
        kind = NotFoundError
    elif status == 409:
        kind = ConflictError
    elif status == 410:
        kind = GoneError
    return kind(message, status=status, reason=reason)


def _retry_delay(retry_after: str) -> float:
    """Seconds to wait for a ``Retry-After`` header (capped; 1 s when absent or odd)."""
    try:
        return min(max(float(retry_after), 0.1), _MAX_RETRY_AFTER)
    except ValueError:
        return 1.0


def _object(body: bytes, what: str) -> JSON:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise KubeError(f"{what}: the API server answered something that is not JSON") from exc
    if not isinstance(data, dict):
        raise KubeError(f"{what}: unexpected API response of type {type(data).__name__}")
    return data


def _items(answer: JSON) -> list[JSON]:
    return [item for item in answer.get("items") or [] if isinstance(item, dict)]


def _register_secrets(answer: Any) -> None:
    """Register the Secrets in an API answer (a Secret, a SecretList, or neither)."""
    if not isinstance(answer, dict):
        return
    kind = answer.get("kind")
    if kind == "Secret":
        register_secret_object(answer)
    elif kind == "SecretList":
        for item in answer.get("items") or []:
            if isinstance(item, dict):
                register_secret_object(item)


def _redacted_status(body: Mapping[str, Any]) -> JSON:
    """``body`` with its ``status`` redacted (the rest is identity and must stay as is)."""
    out = dict(body)
    if "status" in out:
        out["status"] = redact_data(out["status"])
    return out


def _redacted_event(body: Mapping[str, Any]) -> JSON:
    out = dict(body)
    for key in ("message", "note", "reason", "action"):
        if isinstance(out.get(key), str):
            out[key] = redact_data(out[key])
    metadata = out.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("annotations"), Mapping):
        out["metadata"] = {**metadata, "annotations": redact_data(metadata["annotations"])}
    return out


class KubeClient:
    """Typed async access to the Kubernetes API (one connection pool, one event loop)."""

    def __init__(self, load: ConfigLoader, *, field_manager: str = FIELD_MANAGER) -> None:
        self._load = load
        self._field_manager = field_manager
        self._api: ApiClient | None = None
        self._starting: asyncio.Lock | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path | str, *, context: str | None = None) -> KubeClient:
        """A client authenticated by a kubeconfig file (raises :class:`KubeError` when the file
        or its context is unusable)."""
        try:
            return cls(kubeconfig_loader(path, context=context))
        except ConfigException as exc:
            raise KubeError(f"cannot use kubeconfig {path}: {exc}") from exc

    @classmethod
    def in_cluster(cls) -> KubeClient:
        """A client using the pod's service account (raises :class:`KubeError` outside a pod)."""
        try:
            return cls(in_cluster_loader())
        except ConfigException as exc:
            raise KubeError(f"not running in a cluster: {exc}") from exc

    @classmethod
    def from_configuration(cls, configuration: Configuration) -> KubeClient:
        """A client for an already filled ``kubernetes_asyncio`` Configuration."""

        async def load() -> Configuration:
            return configuration

        return cls(load)

    async def aclose(self) -> None:
        """Close the connection pool (the client can be used again afterwards)."""
        api, self._api = self._api, None
        if api is not None:
            await api.close()

    async def api_client(self) -> ApiClient:
        """The ``kubernetes_asyncio`` ApiClient under this client (for library helpers such as
        leader election; stays inside :mod:`shunter.kube`)."""
        return await self._client()

    async def server_version(self) -> str:
        """The API server's version (``v1.35.4``): the first call, which tells whether the
        cluster can be reached and the credentials are accepted (raises :class:`KubeError`)."""
        answer = await self.request("GET", "/version", "get /version")
        return str(answer.get("gitVersion") or "unknown")

    async def _client(self) -> ApiClient:
        if self._api is not None:
            return self._api
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._api is None:
                try:
                    configuration = await self._load()
                except (ConfigException, OSError, ValueError) as exc:
                    raise KubeError(f"cannot load the cluster configuration: {exc}") from exc
                # Every informer holds one connection for its watch: leave room for requests.
                configuration.connection_pool_maxsize = max(
                    configuration.connection_pool_maxsize or 0, _POOL_SIZE
                )
                api = ApiClient(configuration)
                api.user_agent = "shunter"
                self._api = api
            return self._api

    async def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        limits: Any = _REQUEST_TIMEOUT,
    ) -> aiohttp.ClientResponse:
        api = await self._client()
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        if method in ("POST", "PUT", "PATCH"):
            params.append(("fieldManager", self._field_manager))
        response: aiohttp.ClientResponse = await api.call_api(
            path,
            method,
            query_params=params,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=limits,
        )
        return response

    async def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON:
        """One API call; returns the JSON object answered (raises :class:`KubeError`).

        A 429 answer (the server is busy, or a new kind's storage is still starting) is retried
        after its ``Retry-After``, a few times, as client-go does."""
        for attempt in range(_THROTTLE_RETRIES + 1):
            try:
                response = await self._send(
                    method, path, query=query, body=body, content_type=content_type
                )
                async with response:
                    data = await response.read()
                    status, reason = response.status, response.reason or ""
                    retry_after = response.headers.get("Retry-After", "")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise KubeError(f"{what}: {type(exc).__name__}: {exc}") from None
            if status != 429 or attempt == _THROTTLE_RETRIES:
                break
            await asyncio.sleep(_retry_delay(retry_after))
        if not 200 <= status < 300:
            raise _error(status, reason, data, what)
        answer = _object(data, what)
        _register_secrets(answer)
        return answer

    # -- informer building blocks ----------------------------------------------------------

    async def list_page(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> JSON:
        """One page of a LIST (the whole list object: ``items``, ``metadata.continue``,
        ``metadata.resourceVersion``)."""
        return await self.request(
            "GET",
            path,
            f"list {path}",
            query={
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": limit,
                "continue": continue_token,
            },
        )

    async def watch(
        self,
        path: str,
        *,
        resource_version: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[JSON]:
        """The events of one WATCH from ``resource_version`` (with bookmarks), until the server
        ends it. An ``ERROR`` event is raised as :class:`KubeError` (:class:`GoneError` for 410);
        a broken stream as :class:`KubeError` without a status."""
        what = f"watch {path}"
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        # No total timeout: the server ends the watch; a silent connection is broken after
        # the server's timeout plus a margin (bookmarks arrive about once a minute).
        limits = aiohttp.ClientTimeout(
            total=None, sock_connect=_REQUEST_TIMEOUT, sock_read=timeout_seconds + 30
        )
        try:
            response = await self._send("GET", path, query=query, limits=limits)
            async with response:
                if not 200 <= response.status < 300:
                    body = await response.read()
                    raise _error(response.status, response.reason or "", body, what)
                while True:
                    line = await response.content.readline()
                    if not line:
                        return
                    if not line.strip():
                        continue
                    event = _object(line, what)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        code = int(status.get("code") or 500)
                        raise _error(code, str(status.get("reason") or ""), line, what)
                    _register_secrets(event.get("object"))
                    yield event
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise KubeError(f"{what}: {type(exc).__name__}: {exc}") from None

    # -- Secrets -------------------------------------------------------------------------

    async def list_secrets(self, namespace: str, label_selector: str | None = None) -> list[JSON]:
        """Secrets of a namespace (optionally filtered by a label selector), as JSON dicts."""
        path = resource_path("", "v1", "secrets", namespace=namespace)
        return _items(
            await self.request(
                "GET",
                path,
                f"list secrets in {namespace}",
                query={"labelSelector": label_selector},
            )
        )

    async def get_secret(self, namespace: str, name: str) -> JSON:
        """One Secret as a JSON dict (raises :class:`NotFoundError`)."""
        path = resource_path("", "v1", "secrets", namespace=namespace, name=name)
        return await self.request("GET", path, f"get secret {namespace}/{name}")

    async def create_secret(self, namespace: str, body: Mapping[str, Any]) -> JSON:
        """Create a Secret (raises :class:`ConflictError` when it exists)."""
        name = body.get("metadata", {}).get("name", "")
        path = resource_path("", "v1", "secrets", namespace=namespace)
        return await self.request(
            "POST", path, f"create secret {namespace}/{name}", body=dict(body)
        )

    async def replace_secret(self, namespace: str, name: str, body: Mapping[str, Any]) -> JSON:
        """Replace a Secret (``body`` carries ``resourceVersion``: a stale write fails with
        :class:`ConflictError`)."""
        path = resource_path("", "v1", "secrets", namespace=namespace, name=name)
        return await self.request(
            "PUT", path, f"replace secret {namespace}/{name}", body=dict(body)
        )

    # -- custom objects (Kargo's kinds by default) ----------------------------------------

    async def get_custom(
        self,
        namespace: str,
        plural: str,
        name: str,
        *,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> JSON:
        """One custom object (raises :class:`NotFoundError`)."""
        return await self.request(
            "GET",
            resource_path(group, version, plural, namespace=namespace, name=name),
            f"get {plural}.{group} {namespace}/{name}",
        )

    async def list_custom(
        self,
        namespace: str,
        plural: str,
        *,
        label_selector: str | None = None,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> list[JSON]:
        """Custom objects of one kind in a namespace."""
        return _items(
            await self.request(
                "GET",
                resource_path(group, version, plural, namespace=namespace),
                f"list {plural}.{group} in {namespace}",
                query={"labelSelector": label_selector},
            )
        )

    async def create_custom(
        self,
        namespace: str,
        plural: str,
        body: Mapping[str, Any],
        *,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> JSON:
        """Create a custom object; return it as stored (raises :class:`ConflictError`)."""
        meta = body.get("metadata", {})
        name = meta.get("name") or meta.get("generateName", "")
        return await self.request(
            "POST",
            resource_path(group, version, plural, namespace=namespace),
            f"create {plural}.{group} {namespace}/{name}",
            body=dict(body),
        )

    async def patch_custom(
        self,
        namespace: str,
        plural: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        status: bool = False,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> JSON:
        """JSON-merge-patch a custom object (its redacted ``status`` when ``status``)."""
        sub = "status" if status else None
        return await self.request(
            "PATCH",
            resource_path(group, version, plural, namespace=namespace, name=name, subresource=sub),
            f"patch {plural}.{group} {namespace}/{name}{'/status' if status else ''}",
            body=_redacted_status(patch) if status else dict(patch),
            content_type=_MERGE_PATCH,
        )

    async def delete_cluster_custom(
        self, plural: str, name: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> None:
        """Delete a cluster-scoped object of any API group (a missing one is not an error)."""
        try:
            await self.request(
                "DELETE",
                resource_path(group, version, plural, name=name),
                f"delete {plural}.{group} {name}",
            )
        except NotFoundError:
            return

    async def replace_status_custom(
        self,
        namespace: str,
        plural: str,
        name: str,
        body: Mapping[str, Any],
        *,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> JSON:
        """Replace a custom object's whole ``status`` (``body`` carries ``resourceVersion``, so a
        stale write fails with :class:`ConflictError`); the status is redacted."""
        return await self.request(
            "PUT",
            resource_path(
                group, version, plural, namespace=namespace, name=name, subresource="status"
            ),
            f"update {plural}.{group} {namespace}/{name}/status",
            body=_redacted_status(body),
        )

    async def delete_custom(
        self,
        namespace: str,
        plural: str,
        name: str,
        *,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> None:
        """Delete a custom object (a missing object is not an error)."""
        try:
            await self.request(
                "DELETE",
                resource_path(group, version, plural, namespace=namespace, name=name),
                f"delete {plural}.{group} {namespace}/{name}",
            )
        except NotFoundError:
            return

    async def list_custom_all_namespaces(
        self, plural: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> list[JSON]:
        """Custom objects of one namespaced kind in every namespace."""
        return _items(
            await self.request(
                "GET",
                resource_path(group, version, plural),
                f"list {plural}.{group} in all namespaces",
            )
        )

    # -- cluster-scoped custom objects -----------------------------------------------------

    async def get_cluster_custom(
        self, plural: str, name: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> JSON:
        """One cluster-scoped custom object (raises :class:`NotFoundError`)."""
        return await self.request(
            "GET", resource_path(group, version, plural, name=name), f"get {plural}.{group} {name}"
        )

    async def create_cluster_custom(
        self,
        plural: str,
        body: Mapping[str, Any],
        *,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> JSON:
        """Create a cluster-scoped custom object (raises :class:`ConflictError`)."""
        name = body.get("metadata", {}).get("name", "")
        return await self.request(
            "POST",
            resource_path(group, version, plural),
            f"create {plural}.{group} {name}",
            body=dict(body),
        )

    async def list_cluster_custom(
        self, plural: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> list[JSON]:
        """Every cluster-scoped custom object of one kind."""
        return _items(
            await self.request(
                "GET", resource_path(group, version, plural), f"list {plural}.{group}"
            )
        )

    async def patch_cluster_custom(
        self,
        plural: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        status: bool = False,
        group: str = KARGO_GROUP,
        version: str = KARGO_VERSION,
    ) -> JSON:
        """JSON-merge-patch a cluster-scoped custom object (or its status, redacted)."""
        sub = "status" if status else None
        return await self.request(
            "PATCH",
            resource_path(group, version, plural, name=name, subresource=sub),
            f"patch {plural}.{group} {name}{'/status' if status else ''}",
            body=_redacted_status(patch) if status else dict(patch),
            content_type=_MERGE_PATCH,
        )

    # -- namespaces, config maps and events ------------------------------------------------

    async def get_namespace(self, name: str) -> JSON:
        """One Namespace (raises :class:`NotFoundError`)."""
        path = resource_path("", "v1", "namespaces", name=name)
        return await self.request("GET", path, f"get namespace {name}")

    async def create_namespace(self, body: Mapping[str, Any]) -> JSON:
        """Create a Namespace (raises :class:`ConflictError` when it exists)."""
        name = body.get("metadata", {}).get("name", "")
        path = resource_path("", "v1", "namespaces")
        return await self.request("POST", path, f"create namespace {name}", body=dict(body))

    async def patch_namespace(self, name: str, patch: Mapping[str, Any]) -> JSON:
        """Strategic-merge-patch a Namespace (labels, annotations)."""
        path = resource_path("", "v1", "namespaces", name=name)
        return await self.request(
            "PATCH",
            path,
            f"patch namespace {name}",
            body=dict(patch),
            content_type=_STRATEGIC_PATCH,
        )

    async def delete_namespace(self, name: str) -> None:
        """Delete a Namespace and everything in it (a missing one is not an error)."""
        path = resource_path("", "v1", "namespaces", name=name)
        try:
            await self.request("DELETE", path, f"delete namespace {name}")
        except NotFoundError:
            return

    # -- RBAC --------------------------------------------------------------------------------

    async def get_role_binding(self, namespace: str, name: str) -> JSON:
        """One RoleBinding (raises :class:`NotFoundError`)."""
        path = resource_path(
            "rbac.authorization.k8s.io", "v1", "rolebindings", namespace=namespace, name=name
        )
        return await self.request("GET", path, f"get rolebinding {namespace}/{name}")

    async def create_role_binding(self, namespace: str, body: Mapping[str, Any]) -> JSON:
        """Create a RoleBinding (raises :class:`ConflictError` when it exists)."""
        name = body.get("metadata", {}).get("name", "")
        path = resource_path("rbac.authorization.k8s.io", "v1", "rolebindings", namespace=namespace)
        return await self.request(
            "POST", path, f"create rolebinding {namespace}/{name}", body=dict(body)
        )

    async def replace_role_binding(self, namespace: str, body: Mapping[str, Any]) -> JSON:
        """Replace a RoleBinding (``body`` carries its resourceVersion)."""
        name = body.get("metadata", {}).get("name", "")
        path = resource_path(
            "rbac.authorization.k8s.io", "v1", "rolebindings", namespace=namespace, name=name
        )
        return await self.request(
            "PUT", path, f"update rolebinding {namespace}/{name}", body=dict(body)
        )

    async def delete_role_binding(self, namespace: str, name: str) -> None:
        """Delete a RoleBinding (a missing one is not an error)."""
        path = resource_path(
            "rbac.authorization.k8s.io", "v1", "rolebindings", namespace=namespace, name=name
        )
        try:
            await self.request("DELETE", path, f"delete rolebinding {namespace}/{name}")
        except NotFoundError:
            return

    async def allowed(self, verb: str, resource: str, namespace: str, *, group: str = "") -> bool:
        """Whether this client may ``verb`` ``resource`` in ``namespace`` (a
        SelfSubjectAccessReview: any authenticated user may ask)."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    "namespace": namespace,
                }
            },
        }
        path = resource_path("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
        answer = await self.request("POST", path, f"review access to {resource}", body=review)
        return bool((answer.get("status") or {}).get("allowed"))

    async def get_config_map(self, namespace: str, name: str) -> JSON:
        """One ConfigMap (raises :class:`NotFoundError`)."""
        path = resource_path("", "v1", "configmaps", namespace=namespace, name=name)
        return await self.request("GET", path, f"get configmap {namespace}/{name}")

    async def create_event(self, namespace: str, body: Mapping[str, Any]) -> JSON:
        """Create a core/v1 Event (its texts and annotations redacted)."""
        path = resource_path("", "v1", "events", namespace=namespace)
        return await self.request(
            "POST", path, f"create event in {namespace}", body=_redacted_event(body)
        )

    # -- CustomResourceDefinitions (apiextensions.k8s.io/v1) -------------------------------

    async def get_crd(self, name: str) -> JSON:
        """One CustomResourceDefinition, e.g. ``analysisruns.argoproj.io`` (raises
        :class:`NotFoundError`)."""
        path = resource_path(_CRD_GROUP, "v1", "customresourcedefinitions", name=name)
        return await self.request("GET", path, f"get customresourcedefinition {name}")

    async def create_crd(self, body: Mapping[str, Any]) -> JSON:
        """Create a CustomResourceDefinition (raises :class:`ConflictError` when it exists)."""
        name = body.get("metadata", {}).get("name", "")
        path = resource_path(_CRD_GROUP, "v1", "customresourcedefinitions")
        return await self.request(
            "POST", path, f"create customresourcedefinition {name}", body=dict(body)
        )
