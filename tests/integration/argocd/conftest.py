"""Fixtures of the Argo CD integration tests: Argo CD's real CRDs and a controller double.

``argocd`` (session) installs Argo CD's real ``Application`` and ``AppProject`` CRDs into the
session's API server and creates the ``argocd`` namespace. Per test: a real git server with
Basic auth, the :class:`~shunter_devenv.argocd.ArgoCDControllerDouble` (a TEST DOUBLE of Argo CD's
application controller, polling every 0.2 s) watching the test's namespace, and an async
:class:`~shunter.kube.KubeClient`. Tests keep their Applications in their own namespace.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.common import FreightCollection, FreightReference
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import StaticCredentialsDatabase
from shunter.kube.client import KubeClient
from shunter.promotion.step import Capabilities, StepContext, StepResult, StepRunner
from shunter_devenv.argocd import ARGOCD_VERSION, ArgoCDControllerDouble, install_argocd_crds
from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.waiting import wait_for_async

GIT_USER = "argocd-repo-reader"
GIT_PASSWORD = "argocd-Git-Secret-3f9c"
ARGOCD_NAMESPACE = "argocd"


@dataclass(frozen=True)
class ArgoCDInstall:
    """What the ``argocd`` fixture installed."""

    version: str
    namespace: str
    crds: list[str]
    install_seconds: float


@pytest.fixture(scope="session")
def argocd(kube: Cluster) -> ArgoCDInstall:
    """Argo CD's CRDs (installed once) and the ``argocd`` namespace."""
    started = time.monotonic()
    crds = install_argocd_crds(kube)
    elapsed = time.monotonic() - started
    kube.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ARGOCD_NAMESPACE}\n")
    return ArgoCDInstall(ARGOCD_VERSION, ARGOCD_NAMESPACE, crds, elapsed)


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    with GitServer(users={GIT_USER: GIT_PASSWORD}, workdir=tmp_path / "git") as server:
        yield server


@pytest.fixture
def argocd_double(
    kube: Cluster, argocd: ArgoCDInstall, namespace: str, git_server: GitServer
) -> Iterator[ArgoCDControllerDouble]:
    """The controller double, watching the test's namespace."""
    double = ArgoCDControllerDouble(
        kube.kubeconfig_path,
        [namespace],
        git_credentials={git_server.base_url: (GIT_USER, GIT_PASSWORD)},
        interval=0.2,
    )
    with double:
        yield double
    assert double.errors == []


@pytest.fixture
async def kube_client(kube: Cluster) -> AsyncIterator[KubeClient]:
    client = KubeClient.from_kubeconfig(kube.kubeconfig_path)
    try:
        yield client
    finally:
        await client.aclose()


PROJECT = "demo"
STAGE = "preprod"
PROMOTION = "preprod.01abc.1234567"
AUTHORIZED = f"{PROJECT}:{STAGE}"


class Harness:
    """Applications in the test's namespace, step contexts, and running steps to the end."""

    def __init__(self, kube: Cluster, client: KubeClient, namespace: str, work_dir: Path) -> None:
        self.kube = kube
        self.client = client
        self.namespace = namespace
        self.work_dir = work_dir
        self.promotion = PROMOTION

    def application(
        self,
        name: str,
        *,
        repo_url: str | None = None,
        target_revision: str = "main",
        sources: list[dict[str, Any]] | None = None,
        authorized: str | None = AUTHORIZED,
        labels: Mapping[str, str] | None = None,
        status: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create an Application (``authorized=None``: no authorized-stage annotation)."""
        spec: dict[str, Any] = {
            "project": "default",
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
        }
        if sources is not None:
            spec["sources"] = sources
        else:
            spec["source"] = {
                "repoURL": repo_url,
                "targetRevision": target_revision,
                "path": "guestbook",
                "directory": {"recurse": True},
            }
        metadata: dict[str, Any] = {"name": name, "namespace": self.namespace}
        if authorized is not None:
            metadata["annotations"] = {"kargo.akuity.io/authorized-stage": authorized}
        if labels:
            metadata["labels"] = dict(labels)
        app: dict[str, Any] = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": metadata,
            "spec": spec,
        }
        if status is not None:
            app["status"] = status
        self.kube.kubectl("create", "-f", "-", stdin=json.dumps(app))
        return app

    async def get(self, name: str) -> dict[str, Any]:
        return await self.client.get_custom(
            self.namespace, "applications", name, group="argoproj.io", version="v1alpha1"
        )

    async def patch(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return await self.client.patch_custom(
            self.namespace, "applications", name, patch, group="argoproj.io", version="v1alpha1"
        )

    def context(
        self,
        *,
        stage: str = STAGE,
        promotion: str = PROMOTION,
        alias: str = "step",
        actor: str | None = None,
        kube: bool = True,
        state: Mapping[str, Any] | None = None,
    ) -> StepContext:
        """A step context whose Argo CD namespace is the test's namespace."""
        return StepContext(
            project=PROJECT,
            stage=stage,
            promotion=promotion,
            alias=alias,
            work_dir=self.work_dir,
            capabilities=Capabilities(
                credentials=StaticCredentialsDatabase(),
                argocd_namespace=self.namespace,
                extras={"kube": self.client} if kube else {},
            ),
            target_freight=FreightReference(),
            freight=FreightCollection(id="fc"),
            state=dict(state or {}),
            actor=actor,
        )

    @staticmethod
    async def run_once(
        step: type[StepRunner], ctx: StepContext, raw: Mapping[str, Any]
    ) -> StepResult:
        """Validate ``raw`` with the step's model (as the engine does) and run the step once."""
        config = step.config_model.model_validate(dict(raw))
        return await step().run(ctx, config)

    async def run_until_done(
        self,
        step: type[StepRunner],
        ctx: StepContext,
        raw: Mapping[str, Any],
        *,
        deadline_s: float = 30.0,
    ) -> tuple[StepResult, int]:
        """Run the step (polling every 0.1 s) until it is no longer Running.

        Each run sees the previous run's output in ``ctx.state[alias]``, as under the engine.
        Returns the final result and the number of runs.
        """
        deadline = time.monotonic() + deadline_s
        runs = 0
        state = dict(ctx.state)
        while True:
            result = await self.run_once(step, dataclasses.replace(ctx, state=dict(state)), raw)
            runs += 1
            state[ctx.alias] = result.output
            if result.status is not PromotionStepStatus.RUNNING:
                return result, runs
            if time.monotonic() > deadline:
                raise AssertionError(f"step still Running after {deadline_s}s: {result.message}")
            await asyncio.sleep(0.1)

    async def wait_app(
        self, name: str, probe: Callable[[dict[str, Any]], bool], *, deadline_s: float = 20.0
    ) -> dict[str, Any]:
        """Poll the Application until ``probe`` accepts it."""

        async def matching() -> dict[str, Any] | None:
            app = await self.get(name)
            return app if probe(app) else None

        return await wait_for_async(
            matching, within=deadline_s, what=f"Application {name} to match"
        )


@pytest.fixture
def harness(
    kube: Cluster, kube_client: KubeClient, namespace: str, argocd: ArgoCDInstall, tmp_path: Path
) -> Harness:
    work = tmp_path / "work"
    work.mkdir()
    return Harness(kube, kube_client, namespace, work)
