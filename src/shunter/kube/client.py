"""An async facade over the synchronous ``kubernetes`` client library.

Every call runs in a worker thread (``asyncio.to_thread``), so the event loop never waits on the
network. Objects come back as plain JSON dicts exactly as the API server sent them (a Secret's
``data`` values stay base64-encoded). API errors become :class:`KubeError` subclasses, so callers
never import the ``kubernetes`` package.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

__all__ = [
    "KARGO_GROUP",
    "KARGO_VERSION",
    "ConflictError",
    "KubeClient",
    "KubeError",
    "NotFoundError",
]

KARGO_GROUP = "kargo.akuity.io"
KARGO_VERSION = "v1alpha1"
_REQUEST_TIMEOUT = 30.0

T = TypeVar("T")
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


def _api_message(exc: ApiException) -> str:
    """The ``message`` of the Status object the API server returned, if any."""
    body = exc.body
    if body:
        try:
            status = json.loads(body)
        except ValueError:
            return body[:500]
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            return str(status["message"])
    return str(exc.reason or "")


def _translate(exc: ApiException, what: str) -> KubeError:
    status = int(exc.status) if exc.status is not None else None
    message = f"{what}: {status} {_api_message(exc)}".rstrip()
    kind: type[KubeError] = KubeError
    if status == 404:
        kind = NotFoundError
    elif status == 409:
        kind = ConflictError
    return kind(message, status=status, reason=str(exc.reason or ""))


def _json(response: Any) -> JSON:
    data = json.loads(response.data)
    if not isinstance(data, dict):
        raise KubeError(f"unexpected API response of type {type(data).__name__}")
    return data


class KubeClient:
    """Typed async access to the few Kubernetes API calls shunter makes."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._api = api_client
        self._core = k8s.CoreV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)

    @classmethod
    def from_kubeconfig(cls, path: Path | str, *, context: str | None = None) -> KubeClient:
        """A client authenticated by a kubeconfig file."""
        api = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(path), context=context, persist_config=False
        )
        return cls(api)

    @classmethod
    def in_cluster(cls) -> KubeClient:
        """A client using the pod's service account (raises :class:`KubeError` outside a pod)."""
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except ConfigException as exc:
            raise KubeError(f"not running in a cluster: {exc}") from exc
        return cls(k8s.ApiClient(configuration))

    def close(self) -> None:
        """Release the connection pool."""
        self._api.close()  # type: ignore[no-untyped-call]

    async def _call(self, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        kwargs.setdefault("_request_timeout", _REQUEST_TIMEOUT)
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ApiException as exc:
            raise _translate(exc, what) from None

    async def _object(self, what: str, fn: Callable[..., Any], /, *args: Any, **kw: Any) -> JSON:
        """Call ``fn`` and return the JSON object the API server answered."""
        return _json(await self._call(what, fn, *args, _preload_content=False, **kw))

    async def _items(
        self, what: str, fn: Callable[..., Any], /, *args: Any, **kw: Any
    ) -> list[JSON]:
        """Call a list endpoint and return its ``items``."""
        items = (await self._object(what, fn, *args, **kw)).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    # -- Secrets -------------------------------------------------------------------------

    async def list_secrets(self, namespace: str, label_selector: str | None = None) -> list[JSON]:
        """Secrets of a namespace (optionally filtered by a label selector), as JSON dicts."""
        return await self._items(
            f"list secrets in {namespace}",
            self._core.list_namespaced_secret,
            namespace,
            label_selector=label_selector,
        )

    async def get_secret(self, namespace: str, name: str) -> JSON:
        """One Secret as a JSON dict (raises :class:`NotFoundError`)."""
        return await self._object(
            f"get secret {namespace}/{name}",
            self._core.read_namespaced_secret,
            name,
            namespace,
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
        return await self._object(
            f"get {plural}.{group} {namespace}/{name}",
            self._custom.get_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
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
        return await self._items(
            f"list {plural}.{group} in {namespace}",
            self._custom.list_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            label_selector=label_selector,
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
        name = body.get("metadata", {}).get("name") or body.get("metadata", {}).get(
            "generateName", ""
        )
        return await self._object(
            f"create {plural}.{group} {namespace}/{name}",
            self._custom.create_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            dict(body),
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
        """JSON-merge-patch a custom object (its ``status`` subresource when ``status``)."""
        method = (
            self._custom.patch_namespaced_custom_object_status
            if status
            else self._custom.patch_namespaced_custom_object
        )
        return await self._object(
            f"patch {plural}.{group} {namespace}/{name}{'/status' if status else ''}",
            method,
            group,
            version,
            namespace,
            plural,
            name,
            dict(patch),
            _content_type="application/merge-patch+json",
        )

    # -- cluster-scoped custom objects -----------------------------------------------------

    async def get_cluster_custom(
        self, plural: str, name: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> JSON:
        """One cluster-scoped custom object (raises :class:`NotFoundError`)."""
        return await self._object(
            f"get {plural}.{group} {name}",
            self._custom.get_cluster_custom_object,
            group,
            version,
            plural,
            name,
        )

    async def list_cluster_custom(
        self, plural: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> list[JSON]:
        """Every cluster-scoped custom object of one kind."""
        return await self._items(
            f"list {plural}.{group}",
            self._custom.list_cluster_custom_object,
            group,
            version,
            plural,
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
        """JSON-merge-patch a cluster-scoped custom object (or its status)."""
        method = (
            self._custom.patch_cluster_custom_object_status
            if status
            else self._custom.patch_cluster_custom_object
        )
        return await self._object(
            f"patch {plural}.{group} {name}{'/status' if status else ''}",
            method,
            group,
            version,
            plural,
            name,
            dict(patch),
            _content_type="application/merge-patch+json",
        )

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
        stale write fails with :class:`ConflictError`)."""
        return await self._object(
            f"update {plural}.{group} {namespace}/{name}/status",
            self._custom.replace_namespaced_custom_object_status,
            group,
            version,
            namespace,
            plural,
            name,
            dict(body),
        )

    # -- namespaces, config maps and events ------------------------------------------------

    async def get_namespace(self, name: str) -> JSON:
        """One Namespace (raises :class:`NotFoundError`)."""
        return await self._object(
            f"get namespace {name}",
            self._core.read_namespace,
            name,
        )

    async def create_namespace(self, body: Mapping[str, Any]) -> JSON:
        """Create a Namespace (raises :class:`ConflictError` when it exists)."""
        name = body.get("metadata", {}).get("name", "")
        return await self._object(
            f"create namespace {name}",
            self._core.create_namespace,
            dict(body),
        )

    async def patch_namespace(self, name: str, patch: Mapping[str, Any]) -> JSON:
        """Strategic-merge-patch a Namespace (labels, annotations)."""
        return await self._object(
            f"patch namespace {name}",
            self._core.patch_namespace,
            name,
            dict(patch),
        )

    async def get_config_map(self, namespace: str, name: str) -> JSON:
        """One ConfigMap (raises :class:`NotFoundError`)."""
        return await self._object(
            f"get configmap {namespace}/{name}",
            self._core.read_namespaced_config_map,
            name,
            namespace,
        )

    async def create_event(self, namespace: str, body: Mapping[str, Any]) -> JSON:
        """Create a core/v1 Event."""
        return await self._object(
            f"create event in {namespace}",
            self._core.create_namespaced_event,
            namespace,
            dict(body),
        )

    # -- CustomResourceDefinitions (apiextensions.k8s.io/v1) -------------------------------

    async def get_crd(self, name: str) -> JSON:
        """One CustomResourceDefinition, e.g. ``analysisruns.argoproj.io`` (raises
        :class:`NotFoundError`)."""
        api = k8s.ApiextensionsV1Api(self._api)
        return await self._object(
            f"get customresourcedefinition {name}",
            api.read_custom_resource_definition,
            name,
        )

    async def create_crd(self, body: Mapping[str, Any]) -> JSON:
        """Create a CustomResourceDefinition (raises :class:`ConflictError` when it exists)."""
        api = k8s.ApiextensionsV1Api(self._api)
        name = body.get("metadata", {}).get("name", "")
        return await self._object(
            f"create customresourcedefinition {name}",
            api.create_custom_resource_definition,
            dict(body),
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
            await self._call(
                f"delete {plural}.{group} {namespace}/{name}",
                self._custom.delete_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                name,
                _preload_content=False,
            )
        except NotFoundError:
            return

    async def list_custom_all_namespaces(
        self, plural: str, *, group: str = KARGO_GROUP, version: str = KARGO_VERSION
    ) -> list[JSON]:
        """Custom objects of one namespaced kind in every namespace."""
        return await self._items(
            f"list {plural}.{group} in all namespaces",
            self._custom.list_cluster_custom_object,
            group,
            version,
            plural,
        )
