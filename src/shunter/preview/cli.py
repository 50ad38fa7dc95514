"""``shunter promote --dry-run``: the preview, run in the command's own process with the
kubeconfig's identity (the command line's light client, its calls moved off the event loop).

Loaded only for ``--dry-run``: the promotion engine and the steps are not what ``shunter get``
should pay for.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, TextIO

from shunter.api.v1alpha1.group import GROUP, VERSION
from shunter.cliclient.client import ApiError, KubeAPI, NotFoundError
from shunter.preview.engine import Previewer
from shunter.preview.reader import AccessDenied
from shunter.preview.report import render_text

__all__ = ["CliReader", "run_preview"]

JSON = dict[str, Any]


class CliReader:
    """:class:`shunter.preview.reader.Reader` over the command line's synchronous client (one
    call at a time, in a thread)."""

    def __init__(self, api: KubeAPI) -> None:
        self._api = api
        self._lock = threading.Lock()

    def _request(self, path: str, query: dict[str, str] | None = None) -> Any:
        with self._lock:
            return self._api.request("GET", path, query=query)

    async def _get(self, path: str, query: dict[str, str] | None = None) -> Any:
        try:
            return await asyncio.to_thread(self._request, path, query)
        except ApiError as exc:
            if exc.status in (401, 403):
                raise AccessDenied(str(exc)) from None
            raise

    async def get(
        self, plural: str, namespace: str | None, name: str, *, group: str = GROUP
    ) -> JSON | None:
        """One object, or None."""
        version = VERSION if group else "v1"
        path = self._api.path(plural, namespace, name, group=group, version=version)
        try:
            answer = await self._get(path)
        except NotFoundError:
            return None
        return answer if isinstance(answer, dict) else None

    async def list(
        self,
        plural: str,
        namespace: str,
        *,
        label_selector: str | None = None,
        group: str = GROUP,
    ) -> list[JSON]:
        """The objects of a namespace."""
        version = VERSION if group else "v1"
        path = self._api.path(plural, namespace, group=group, version=version)
        query = {"labelSelector": label_selector} if label_selector else None
        answer = await self._get(path, query)
        items = answer.get("items") if isinstance(answer, dict) else None
        return [i for i in items or [] if isinstance(i, dict)]


def run_preview(
    api: KubeAPI,
    out: TextIO,
    project: str,
    stage: str,
    freight: str,
    *,
    actor: str | None,
    allow_credentials_over_http: bool = False,
) -> int:
    """Preview the Promotion and print the report; 0 when every step would go through, 1
    when the Promotion would fail (raises :class:`shunter.preview.PreviewError`)."""
    previewer = Previewer(
        CliReader(api),
        actor=actor or "",
        allow_credentials_over_http=allow_credentials_over_http,
    )
    report = asyncio.run(previewer.preview(project, stage, freight))
    out.write(render_text(report))
    out.flush()
    return 0 if report.phase == "Succeeded" else 1
