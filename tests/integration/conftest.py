"""Fixtures of the integration tests: one real Kubernetes API server per test session.

``kube`` is a local control plane (etcd + kube-apiserver on 127.0.0.1, the repository's
``crds/`` installed), or, when ``SHUNTER_TEST_KUBECONFIG`` names a kubeconfig file, that
existing cluster (e.g. kind). ``namespace`` is a fresh namespace per test and ``client`` a
KubeClient with administrator access. Every test in this folder gets the ``integration``
marker.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shunter.kube import KubeClient
from shunter_devenv.cluster import Cluster, ExistingCluster
from shunter_devenv.controlplane import ControlPlane

HERE = Path(__file__).resolve().parent
CRD_DIR = HERE.parents[1] / "crds"
KUBECONFIG_ENV = "SHUNTER_TEST_KUBECONFIG"

TEST_USERS: dict[str, list[str]] = {"alice": ["team-a"], "bob": ["team-b"]}
"""Users with tokens on the local control plane, and their groups (no RBAC bindings)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


def _uncaptured(config: pytest.Config) -> contextlib.AbstractContextManager[Any]:
    """Let the first (minutes long) build of the binaries show its progress on the terminal."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return contextlib.nullcontext()
    manager: contextlib.AbstractContextManager[Any] = capture.global_and_fixture_disabled()
    return manager


@pytest.fixture(scope="session")
def kube(pytestconfig: pytest.Config) -> Iterator[Cluster]:
    """The session's cluster, administrator access, with the CRDs installed."""
    existing = os.environ.get(KUBECONFIG_ENV)
    if existing:
        if not Path(existing).is_file():
            pytest.fail(f"{KUBECONFIG_ENV}={existing} is not a file")
        cluster = ExistingCluster(Path(existing))
        cluster.install_crds(CRD_DIR)
        yield cluster
        return
    plane = ControlPlane(extra_users=TEST_USERS)
    with _uncaptured(pytestconfig):
        plane.start()
    try:
        plane.install_crds(CRD_DIR)
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def namespace(kube: Cluster) -> Iterator[str]:
    """A new namespace, deleted after the test (it may stay Terminating without a
    kube-controller-manager; nothing waits for it)."""
    name = f"test-{secrets.token_hex(4)}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture
async def client(kube: Cluster) -> AsyncIterator[KubeClient]:
    """A :class:`KubeClient` with administrator access, closed after the test."""
    kube_client = KubeClient.from_kubeconfig(kube.kubeconfig_path)
    yield kube_client
    await kube_client.aclose()
