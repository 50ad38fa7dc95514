"""Argo CD for tests: its real CRDs, and a TEST DOUBLE of its application controller.

A real Argo CD cannot run here (its current releases do not build from the Go module proxy, and
it needs Redis and a repo-server). What shunter needs from Argo CD is small: the ``Application``
API (served by the real kube-apiserver from Argo CD's real CRDs) and the controller's side of
the sync contract, which :class:`ArgoCDControllerDouble` plays.

* :func:`argocd_crd_dir` finds Argo CD's ``Application`` and ``AppProject`` CRDs in the Go module
  cache (``go mod download`` of ``github.com/argoproj/argo-cd/v3`` at :data:`ARGOCD_VERSION`; no
  build), or in the folder named by ``SHUNTER_ARGOCD_CRD_DIR``;
* :func:`install_argocd_crds` applies them server-side (the Application CRD is ~400 KB, too big
  for client-side apply's last-applied annotation) and waits until they are Established;
* :class:`ArgoCDControllerDouble` is a **test double** of Argo CD's application controller (not
  Argo CD): see its docstring and ``docs/testing-doubles.md``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from shunter.kube.client import ConflictError, KubeClient, KubeError, NotFoundError
from shunter_devenv.cluster import Cluster
from shunter_devenv.kubectl import FIELD_MANAGER
from shunter_devenv.waiting import wait_for

__all__ = [
    "ARGOCD_MODULE",
    "ARGOCD_VERSION",
    "CRD_DIR_ENV",
    "CRD_FILES",
    "ArgoCDControllerDouble",
    "ArgoCDSetupError",
    "SyncOutcome",
    "SyncRecord",
    "argocd_crd_dir",
    "install_argocd_crds",
]

_log = logging.getLogger(__name__)

#: The Argo CD release whose CRDs the tests install (pinned; the Go proxy also serves newer
#: v3 releases, up to v3.6.1 when this was written).
ARGOCD_VERSION = "v3.5.1"
ARGOCD_MODULE = "github.com/argoproj/argo-cd/v3"
#: A folder holding the CRD files instead of the Go module cache (machines without Go).
CRD_DIR_ENV = "SHUNTER_ARGOCD_CRD_DIR"
CRD_FILES = ("application-crd.yaml", "appproject-crd.yaml")
_CRD_NAMES = ("applications.argoproj.io", "appprojects.argoproj.io")

_GROUP = "argoproj.io"
_VERSION = "v1alpha1"
_PLURAL = "applications"
_REFRESH = "argocd.argoproj.io/refresh"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_COMPLETED = ("Succeeded", "Failed", "Error")
_MAX_ERRORS = 100


class ArgoCDSetupError(RuntimeError):
    """Argo CD's CRDs could not be found or installed."""


# -- CRDs ----------------------------------------------------------------------------------------


@functools.cache
def _module_crd_dir(version: str) -> Path:
    go = shutil.which("go")
    if go is None:
        raise ArgoCDSetupError(
            f"the go command is needed to download {ARGOCD_MODULE}@{version} "
            f"(or set {CRD_DIR_ENV} to a folder holding {', '.join(CRD_FILES)})"
        )
    with tempfile.TemporaryDirectory(prefix="argocd-crds-") as cwd:  # outside any Go module
        result = subprocess.run(
            [go, "mod", "download", "-json", f"{ARGOCD_MODULE}@{version}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    try:
        info = json.loads(result.stdout or "{}")
    except ValueError:
        info = {}
    if result.returncode != 0 or info.get("Error") or not info.get("Dir"):
        detail = info.get("Error") or result.stderr.strip() or result.stdout.strip()
        raise ArgoCDSetupError(f"go mod download {ARGOCD_MODULE}@{version} failed: {detail}")
    return Path(info["Dir"]) / "manifests" / "crds"


def argocd_crd_dir(version: str = ARGOCD_VERSION) -> Path:
    """The folder holding Argo CD's ``application-crd.yaml`` and ``appproject-crd.yaml``.

    ``SHUNTER_ARGOCD_CRD_DIR`` wins; otherwise the module is downloaded into the Go module cache
    (seconds; nothing is built) and its ``manifests/crds`` folder is returned.
    """
    override = os.environ.get(CRD_DIR_ENV)
    folder = Path(override) if override else _module_crd_dir(version)
    missing = [name for name in CRD_FILES if not (folder / name).is_file()]
    if missing:
        raise ArgoCDSetupError(f"{folder} lacks {', '.join(missing)}")
    return folder


def install_argocd_crds(cluster: Cluster, *, timeout: float = 120.0) -> list[str]:
    """Server-side apply Argo CD's Application and AppProject CRDs and wait until Established.

    Returns the CRD names.
    """
    folder = argocd_crd_dir()
    files = [arg for name in CRD_FILES for arg in ("-f", str(folder / name))]
    cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        *files,
        timeout=timeout,
    )
    # Poll rather than ``kubectl wait``: the latter fails while a new CRD has no conditions yet.
    wait_for(
        lambda: all(_established(cluster, name) for name in _CRD_NAMES),
        timeout=timeout,
        interval=0.1,
        what="Argo CD's CRDs to be Established",
    )
    return list(_CRD_NAMES)


def _established(cluster: Cluster, name: str) -> bool:
    result = cluster.kubectl("get", f"customresourcedefinition/{name}", "-o", "json", check=False)
    if result.returncode != 0:
        return False
    conditions = (json.loads(result.stdout).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


# -- the controller double -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncOutcome:
    """How the double answers a sync operation (and what health it then reports)."""

    #: Final phase of the operation.
    phase: Literal["Succeeded", "Failed", "Error"] = "Succeeded"
    #: ``operationState.message`` (default: Argo CD's usual words for the phase).
    message: str = ""
    #: ``status.health.status`` after the operation (after a failed one: only when not Healthy,
    #: since a failed sync never makes an Application healthy).
    health: str = "Healthy"
    health_message: str = ""
    #: Keep operations Running (not finished) while this outcome applies.
    hold: bool = False


@dataclass(frozen=True)
class SyncRecord:
    """A sync operation the double finished."""

    namespace: str
    name: str
    phase: str
    revisions: tuple[str, ...]
    initiated_by: str
    automated: bool
    info: Mapping[str, str]
    message: str


class _ResolveError(Exception):
    pass


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sources(app: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    spec = app.get("spec") or {}
    if spec.get("sources"):
        return [dict(s) for s in spec["sources"]], True
    source = spec.get("source")
    return ([dict(source)] if isinstance(source, dict) else []), False


@dataclass
class _State:
    default: SyncOutcome = field(default_factory=SyncOutcome)
    per_app: dict[tuple[str, str], SyncOutcome] = field(default_factory=dict)
    health: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


class ArgoCDControllerDouble:
    """A TEST DOUBLE of Argo CD's application controller. It is not Argo CD.

    A background thread polls the Applications of the given namespaces (every ``interval``
    seconds) and plays Argo CD's side of the sync contract:

    1. an Application with ``operation.sync`` and no operation in progress: write
       ``status.operationState = {operation, phase: Running, startedAt}``;
    2. on a later poll (unless the outcome says ``hold``): resolve the revision of each source
       on its git server with ``git ls-remote`` (``operation.sync.revisions[i]`` /
       ``revision`` if given, else the source's ``targetRevision``; a 40-hex SHA is kept as it is,
       ``HEAD``/empty is the remote HEAD, else a branch, then a tag; Helm chart sources keep
       their version), then in one patch: ``operationState`` Succeeded (or the outcome's
       Failed/Error) with ``finishedAt`` and ``syncResult.revision`` / ``revisions`` (+
       ``source`` / ``sources``), and on success ``status.sync`` {Synced, revision(s),
       comparedTo}, ``status.health`` (outcome's health, Healthy by default) and a new
       ``status.history`` entry (at most ``revisionHistoryLimit``, default 10); always
       ``status.reconciledAt`` = ``finishedAt``, ``operation`` cleared and the
       ``argocd.argoproj.io/refresh`` annotation removed. A revision that does not resolve
       ends the operation in Error (``ComparisonError: ...``);
    3. an Application with only the refresh annotation: ``reconciledAt`` = now, the health
       override (if any) applied, the annotation removed;
    4. :meth:`set_health` overrides keep the Application's health at a value (as Argo CD's
       health assessment would after the workload changes).

    Every write carries the ``resourceVersion`` it read, so a concurrent change is never
    overwritten (the next poll sees the new state). Not modelled: AppProjects and sync windows,
    auto-sync and self-heal, hooks, retries, resources and manifests, refresh of sync status
    without an operation.

    Credentials for ``git ls-remote`` are given as ``git_credentials`` (``{server URL:
    (username, password)}``); they go into a private credential store file (mode 0600) in the
    double's own HOME, never into argv or URLs.
    """

    def __init__(
        self,
        kubeconfig: Path | str,
        namespaces: Iterable[str],
        *,
        git_credentials: Mapping[str, tuple[str, str]] | None = None,
        ca_file: Path | None = None,
        interval: float = 0.2,
    ) -> None:
        self._kubeconfig = Path(kubeconfig)
        self._namespaces = list(dict.fromkeys(namespaces))
        self._git_credentials = dict(git_credentials or {})
        self._ca_file = ca_file
        self._interval = interval
        self._lock = threading.Lock()
        self._state = _State()
        self._syncs: list[SyncRecord] = []
        self._errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._home: tempfile.TemporaryDirectory[str] | None = None
        self._polls = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start polling in a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("the Argo CD controller double is already running")
        self._home = tempfile.TemporaryDirectory(prefix="argocd-double-")
        self._write_git_config(Path(self._home.name))
        self._stop.clear()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="argocd-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and remove the double's private HOME."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- switches and observations -------------------------------------------------------------

    def watch(self, namespace: str) -> None:
        """Also poll the Applications of ``namespace``."""
        with self._lock:
            if namespace not in self._namespaces:
                self._namespaces.append(namespace)

    def set_outcome(
        self, outcome: SyncOutcome, *, namespace: str | None = None, name: str | None = None
    ) -> None:
        """Answer future syncs with ``outcome``: of one Application, or (no name) of all."""
        with self._lock:
            if name is None:
                self._state.default = outcome
            else:
                self._state.per_app[(namespace or "", name)] = outcome

    def set_health(self, namespace: str, name: str, status: str, message: str = "") -> None:
        """Keep the health of one Application at ``status`` from now on."""
        with self._lock:
            self._state.health[(namespace, name)] = (status, message)

    @property
    def syncs(self) -> list[SyncRecord]:
        """The sync operations finished so far, oldest first."""
        with self._lock:
            return list(self._syncs)

    def syncs_of(self, namespace: str, name: str) -> list[SyncRecord]:
        """The finished sync operations of one Application."""
        return [s for s in self.syncs if s.namespace == namespace and s.name == name]

    @property
    def errors(self) -> list[str]:
        """Unexpected errors of the polling loop (tests assert there are none)."""
        with self._lock:
            return list(self._errors)

    @property
    def polls(self) -> int:
        """How many polling rounds have completed."""
        with self._lock:
            return self._polls

    def _outcome(self, namespace: str, name: str) -> SyncOutcome:
        with self._lock:
            return self._state.per_app.get((namespace, name), self._state.default)

    def _health_override(self, namespace: str, name: str) -> tuple[str, str] | None:
        with self._lock:
            return self._state.health.get((namespace, name))

    # -- the loop ------------------------------------------------------------------------------

    async def _main(self) -> None:
        kube = KubeClient.from_kubeconfig(self._kubeconfig)
        try:
            while not self._stop.is_set():
                with self._lock:
                    namespaces = list(self._namespaces)
                for namespace in namespaces:
                    await self._poll(kube, namespace)
                with self._lock:
                    self._polls += 1
                await asyncio.to_thread(self._stop.wait, self._interval)
        finally:
            await kube.aclose()

    def _error(self, message: str) -> None:
        _log.warning("argocd double: %s", message)
        with self._lock:
            if len(self._errors) < _MAX_ERRORS:
                self._errors.append(message)

    async def _poll(self, kube: KubeClient, namespace: str) -> None:
        try:
            apps = await kube.list_custom(namespace, _PLURAL, group=_GROUP, version=_VERSION)
        except NotFoundError:
            return
        except KubeError as exc:
            self._error(f"listing Applications in {namespace}: {exc}")
            return
        for app in apps:
            meta = app.get("metadata") or {}
            try:
                await self._reconcile(kube, app)
            except ConflictError:
                continue  # changed since it was listed: the next poll sees the new version
            except NotFoundError:
                continue
            except Exception as exc:  # keep polling; tests read .errors
                self._error(f"{namespace}/{meta.get('name')}: {type(exc).__name__}: {exc}")

    async def _patch(self, kube: KubeClient, app: Mapping[str, Any], patch: dict[str, Any]) -> None:
        meta = app["metadata"]
        patch.setdefault("metadata", {})["resourceVersion"] = meta["resourceVersion"]
        await kube.patch_custom(
            meta["namespace"], _PLURAL, meta["name"], patch, group=_GROUP, version=_VERSION
        )

    async def _reconcile(self, kube: KubeClient, app: dict[str, Any]) -> None:
        meta = app.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        operation = app.get("operation")
        status = app.get("status") or {}
        state = status.get("operationState")
        if isinstance(operation, dict) and operation.get("sync") is not None:
            if not isinstance(state, dict) or state.get("phase") in _COMPLETED:
                await self._start_operation(kube, app, operation)
                return
            if state.get("phase") == "Running":
                outcome = self._outcome(namespace, name)
                if not outcome.hold:
                    await self._finish_operation(kube, app, operation, state, outcome)
                return
        annotations = meta.get("annotations") or {}
        override = self._health_override(namespace, name)
        if _REFRESH in annotations:
            patch: dict[str, Any] = {
                "metadata": {"annotations": {_REFRESH: None}},
                "status": {"reconciledAt": _now()},
            }
            if override is not None:
                patch["status"]["health"] = _health(*override)
            await self._patch(kube, app, patch)
            return
        if override is not None and (status.get("health") or {}).get("status") != override[0]:
            await self._patch(
                kube,
                app,
                {"status": {"health": _health(*override), "reconciledAt": _now()}},
            )

    async def _start_operation(
        self, kube: KubeClient, app: dict[str, Any], operation: dict[str, Any]
    ) -> None:
        state = {"operation": copy.deepcopy(operation), "phase": "Running", "startedAt": _now()}
        await self._patch(kube, app, {"status": {"operationState": state}})

    async def _finish_operation(
        self,
        kube: KubeClient,
        app: dict[str, Any],
        operation: dict[str, Any],
        state: dict[str, Any],
        outcome: SyncOutcome,
    ) -> None:
        meta = app["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        spec = app.get("spec") or {}
        status = app.get("status") or {}
        sources, multi = _sources(app)
        sync = operation.get("sync") or {}
        requested: list[str] = list(sync.get("revisions") or [])
        if not requested and sync.get("revision"):
            requested = [sync["revision"]]
        revisions: list[str] = []
        phase: str = outcome.phase
        message = outcome.message
        try:
            for index, source in enumerate(sources):
                wanted = requested[index] if index < len(requested) else ""
                wanted = wanted or source.get("targetRevision") or "HEAD"
                if source.get("chart"):
                    revisions.append(wanted)
                else:
                    revisions.append(await asyncio.to_thread(self._resolve, source, wanted))
        except _ResolveError as exc:
            phase, message = "Error", f"ComparisonError: {exc}"
            revisions = []
        if not message:
            message = (
                "successfully synced (all tasks run)"
                if phase == "Succeeded"
                else "one or more objects failed to apply (answer of the Argo CD test double)"
            )
        finished = _now()
        result: dict[str, Any] = {"revision": "" if multi else (revisions or [""])[0]}
        if multi:
            result["revisions"] = revisions
            result["sources"] = copy.deepcopy(sources)
        elif sources:
            result["source"] = copy.deepcopy(sources[0])
        new_status: dict[str, Any] = {
            "operationState": {
                "operation": copy.deepcopy(state.get("operation") or operation),
                "phase": phase,
                "message": message,
                "startedAt": state.get("startedAt") or finished,
                "finishedAt": finished,
                "syncResult": result,
            },
            "reconciledAt": finished,
        }
        if phase == "Succeeded":
            synced: dict[str, Any] = {
                "status": "Synced",
                "comparedTo": {"destination": copy.deepcopy(spec.get("destination") or {})},
            }
            entry: dict[str, Any] = {
                "deployStartedAt": state.get("startedAt") or finished,
                "deployedAt": finished,
                "initiatedBy": copy.deepcopy(operation.get("initiatedBy") or {}),
            }
            if multi:
                synced["revisions"] = revisions
                synced["comparedTo"]["sources"] = copy.deepcopy(sources)
                entry.update(revisions=revisions, sources=copy.deepcopy(sources))
            else:
                synced["revision"] = revisions[0] if revisions else ""
                if sources:
                    synced["comparedTo"]["source"] = copy.deepcopy(sources[0])
                    entry["source"] = copy.deepcopy(sources[0])
                entry["revision"] = synced["revision"]
            history = list(status.get("history") or [])
            entry["id"] = (int(history[-1].get("id") or 0) + 1) if history else 0
            limit = spec.get("revisionHistoryLimit")
            limit = limit if isinstance(limit, int) and limit > 0 else 10
            new_status["sync"] = synced
            new_status["history"] = [*history, entry][-limit:]
        override = self._health_override(namespace, name)
        if override is not None:
            new_status["health"] = _health(*override)
        elif phase == "Succeeded" or outcome.health != "Healthy":
            new_status["health"] = _health(outcome.health, outcome.health_message)
        await self._patch(
            kube,
            app,
            {
                "operation": None,
                "metadata": {"annotations": {_REFRESH: None}},
                "status": new_status,
            },
        )
        initiator = operation.get("initiatedBy") or {}
        record = SyncRecord(
            namespace=namespace,
            name=name,
            phase=phase,
            revisions=tuple(revisions),
            initiated_by=str(initiator.get("username") or ""),
            automated=bool(initiator.get("automated")),
            info={
                str(i.get("name")): str(i.get("value"))
                for i in operation.get("info") or []
                if isinstance(i, dict)
            },
            message=message,
        )
        with self._lock:
            self._syncs.append(record)

    # -- git -----------------------------------------------------------------------------------

    def _write_git_config(self, home: Path) -> None:
        store = home / ".git-credentials"
        store.touch(mode=0o600)
        lines = []
        for url, (user, password) in self._git_credentials.items():
            parts = urllib.parse.urlsplit(url)
            quote = urllib.parse.quote
            lines.append(
                f"{parts.scheme}://{quote(user, safe='')}:{quote(password, safe='')}"
                f"@{parts.netloc.rpartition('@')[2]}\n"
            )
        store.write_text("".join(lines), encoding="utf-8")
        config = ["[credential]", f"\thelper = store --file='{store}'"]
        if self._ca_file is not None:
            config += ["[http]", f"\tsslCAInfo = {self._ca_file}"]
        (home / ".gitconfig").write_text("\n".join(config) + "\n", encoding="utf-8")

    def _git_env(self) -> dict[str, str]:
        if self._home is None:
            raise RuntimeError("the Argo CD controller double is not running")
        return {
            "HOME": self._home.name,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def _resolve(self, source: Mapping[str, Any], revision: str) -> str:
        """The commit ``revision`` names in the source's repository (``git ls-remote``)."""
        if _SHA.match(revision):
            return revision
        url = str(source.get("repoURL") or "")
        if not url.startswith(("http://", "https://")):
            raise _ResolveError(f"the test double only resolves http(s) repositories: {url!r}")
        result = subprocess.run(
            ["git", "ls-remote", url],
            env=self._git_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise _ResolveError(
                f"git ls-remote {url} failed ({result.returncode}): {result.stderr.strip()}"
            )
        refs: dict[str, str] = {}
        for line in result.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            refs[ref.strip()] = sha.strip()
        for candidate in (
            ("HEAD",)
            if revision in ("", "HEAD")
            else (
                f"refs/heads/{revision}",
                f"refs/tags/{revision}^{{}}",
                f"refs/tags/{revision}",
                revision,
            )
        ):
            if candidate in refs:
                return refs[candidate]
        raise _ResolveError(f"unable to resolve {revision!r} to a commit SHA in {url}")


def _health(status: str, message: str = "") -> dict[str, Any]:
    health: dict[str, Any] = {"status": status}
    if message:
        health["message"] = message
    return health
