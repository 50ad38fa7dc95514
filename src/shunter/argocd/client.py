"""Reading and patching Argo CD Applications through the Kubernetes API.

:class:`ArgoCDClient` finds Applications by name or label selector in a namespace (the
operator's Argo CD namespace unless one is given), filters them by the Stage's authorization
(:mod:`shunter.argocd.authorization`), applies merge patches (:mod:`shunter.argocd.patch`),
requests refreshes and records the Kubernetes Events Argo CD's API server would record.

Authorization follows Kargo: an Application named explicitly must authorize the Stage or the
call fails; Applications matched by a selector that do not authorize the Stage are skipped,
and the call fails only when none is left (the message names the annotation to add).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shunter.argocd.authorization import AUTHORIZED_STAGE, authorize
from shunter.argocd.errors import ApplicationNotFoundError, ArgoCDError, AuthorizationError
from shunter.argocd.models import (
    APPLICATION_GROUP,
    APPLICATION_PLURAL,
    APPLICATION_VERSION,
    Application,
)
from shunter.argocd.patch import REFRESH_ANNOTATION
from shunter.kube.client import KubeClient, KubeError, NotFoundError

__all__ = ["DEFAULT_NAMESPACE", "ArgoCDClient"]

_log = logging.getLogger(__name__)

#: Where Argo CD keeps its Applications unless the operator is configured otherwise.
DEFAULT_NAMESPACE = "argocd"


class ArgoCDClient:
    """Argo CD Applications seen through a :class:`KubeClient`."""

    def __init__(self, kube: KubeClient, *, default_namespace: str = DEFAULT_NAMESPACE) -> None:
        self._kube = kube
        self.default_namespace = default_namespace

    def namespace(self, namespace: str | None) -> str:
        """``namespace``, or the default Argo CD namespace when empty."""
        return namespace or self.default_namespace

    async def get(self, namespace: str | None, name: str) -> Application:
        """One Application (raises :class:`ApplicationNotFoundError`, :class:`ArgoCDError`)."""
        ns = self.namespace(namespace)
        try:
            obj = await self._kube.get_custom(
                ns, APPLICATION_PLURAL, name, group=APPLICATION_GROUP, version=APPLICATION_VERSION
            )
        except NotFoundError:
            raise ApplicationNotFoundError(
                f"unable to find Argo CD Application {name!r} in namespace {ns!r}"
            ) from None
        except KubeError as exc:
            raise ArgoCDError(
                f"error finding Argo CD Application {name!r} in namespace {ns!r}: {exc}"
            ) from exc
        return Application.from_object(obj)

    async def list_matching(self, namespace: str | None, selector: str) -> list[Application]:
        """The Applications of a namespace matching a label selector string, sorted by name."""
        ns = self.namespace(namespace)
        try:
            items = await self._kube.list_custom(
                ns,
                APPLICATION_PLURAL,
                label_selector=selector,
                group=APPLICATION_GROUP,
                version=APPLICATION_VERSION,
            )
        except KubeError as exc:
            raise ArgoCDError(
                f"error listing Argo CD Applications matching selector in namespace {ns!r}: {exc}"
            ) from exc
        apps = [Application.from_object(item) for item in items]
        return sorted(apps, key=lambda a: a.name)

    async def find(
        self, namespace: str | None, *, name: str | None = None, selector: str | None = None
    ) -> list[Application]:
        """The Application called ``name``, or those matching ``selector`` (at least one).

        Raises:
            ApplicationNotFoundError: nothing found.
        """
        if (name is None) == (selector is None):
            raise ValueError("exactly one of name and selector is required")
        if name is not None:
            return [await self.get(namespace, name)]
        selector = selector or ""
        apps = await self.list_matching(namespace, selector)
        if not apps:
            raise ApplicationNotFoundError(
                "no Argo CD Applications found matching selector "
                f"{selector!r} in namespace {self.namespace(namespace)!r}"
            )
        return apps

    async def find_authorized(
        self,
        namespace: str | None,
        *,
        project: str,
        stage: str,
        name: str | None = None,
        selector: str | None = None,
    ) -> list[Application]:
        """:meth:`find`, keeping the Applications that authorize ``project:stage``.

        Raises:
            ApplicationNotFoundError: nothing found.
            AuthorizationError: the named Application, or every matched one, refuses the Stage.
        """
        apps = await self.find(namespace, name=name, selector=selector)
        allowed: list[Application] = []
        refusals: list[str] = []
        for app in apps:
            try:
                authorize(app, project, stage)
            except AuthorizationError as exc:
                if name is not None:
                    raise
                _log.info("skipping unauthorized Argo CD Application: %s", exc)
                refusals.append(app.name)
                continue
            allowed.append(app)
        if not allowed:
            raise AuthorizationError(
                f"found {len(apps)} Argo CD Application(s) matching selector {selector!r} in "
                f"namespace {self.namespace(namespace)!r} ({', '.join(refusals)}), but none "
                f"permits mutation by Kargo Stage {stage!r} of project {project!r}: add the "
                f'annotation {AUTHORIZED_STAGE}: "{project}:{stage}" to the Application(s) '
                "this Stage may change"
            )
        return allowed

    async def patch(self, app: Application, patch: Mapping[str, Any]) -> Application:
        """Merge-patch ``app`` and return it as stored (raises ``KubeError`` subclasses,
        e.g. ``ConflictError`` when the patch carries a stale ``resourceVersion``)."""
        obj = await self._kube.patch_custom(
            app.namespace,
            APPLICATION_PLURAL,
            app.name,
            patch,
            group=APPLICATION_GROUP,
            version=APPLICATION_VERSION,
        )
        return Application.from_object(obj)

    async def request_refresh(self, app: Application, kind: str = "hard") -> None:
        """Ask Argo CD to refresh ``app`` (best effort: failures are logged)."""
        if app.annotations.get(REFRESH_ANNOTATION) == kind:
            return
        try:
            await self.patch(app, {"metadata": {"annotations": {REFRESH_ANNOTATION: kind}}})
        except KubeError as exc:
            _log.warning(
                "could not request a refresh of Argo CD Application %s/%s: %s",
                app.namespace,
                app.name,
                exc,
            )

    async def record_event(self, app: Application, *, user: str, reason: str, message: str) -> None:
        """Record a Normal Event on ``app`` as Argo CD's API server does (best effort)."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{app.name}.{time.time_ns():x}",
                "namespace": app.namespace,
                "annotations": {"user": user},
            },
            "involvedObject": {
                "apiVersion": f"{APPLICATION_GROUP}/{APPLICATION_VERSION}",
                "kind": "Application",
                "namespace": app.namespace,
                "name": app.name,
                "uid": app.metadata.uid,
                "resourceVersion": app.metadata.resource_version,
            },
            "source": {"component": user},
            "reason": reason,
            "message": f"{user} {message}",
            "type": "Normal",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._kube.create_event(app.namespace, event)
        except KubeError as exc:
            _log.warning("could not record an event on %s/%s: %s", app.namespace, app.name, exc)
