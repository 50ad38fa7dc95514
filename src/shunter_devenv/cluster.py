"""A Kubernetes cluster reached through a kubeconfig, as the tests and the demo see it.

:class:`Cluster` is the common face of the local control plane
(:class:`shunter_devenv.controlplane.ControlPlane`) and of an existing cluster named by a
kubeconfig file (:class:`ExistingCluster`, e.g. a kind cluster on a machine with Docker).
"""

from __future__ import annotations

import abc
import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shunter_devenv import kubectl as _kubectl
from shunter_devenv.waiting import wait_for

__all__ = ["Cluster", "ExistingCluster", "UnknownUserError"]


class UnknownUserError(LookupError):
    """The cluster has no token for the requested user."""


class Cluster(abc.ABC):
    """kubectl, manifests and CRDs bound to one kubeconfig, plus the cluster's test users."""

    @property
    @abc.abstractmethod
    def kubeconfig_path(self) -> Path:
        """The kubeconfig of a cluster administrator."""

    @property
    def operator_kubeconfig_path(self) -> Path:
        """The kubeconfig an operator process runs with: an identity of its own where the
        cluster has one (so that the admission webhooks tell its requests from a user's), else
        the administrator's."""
        return self.kubeconfig_path

    @property
    def has_test_users(self) -> bool:
        """Whether :meth:`token_for` and :meth:`kubeconfig_for` know any test user."""
        return False

    def token_for(self, user: str) -> str:
        """The bearer token of a test user (see :attr:`has_test_users`)."""
        raise UnknownUserError(f"this cluster has no test user {user!r}")

    def kubeconfig_for(self, user: str) -> Path:
        """A kubeconfig that authenticates as a test user (see :attr:`has_test_users`)."""
        raise UnknownUserError(f"this cluster has no test user {user!r}")

    def _kubectl_binary(self) -> Path | None:
        """The kubectl to run (None: the one built by tools/build-binaries.sh)."""
        return None

    def _kubectl_cache_dir(self) -> Path | None:
        """kubectl's cache folder (None: kubectl's default, under ~/.kube)."""
        return None

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl as the administrator; see :func:`shunter_devenv.kubectl.kubectl`."""
        return _kubectl.kubectl(
            self.kubeconfig_path,
            *args,
            stdin=stdin,
            check=check,
            timeout=timeout,
            binary_path=self._kubectl_binary(),
            cache_dir=self._kubectl_cache_dir(),
        )

    def apply(
        self,
        manifest: Path | str,
        *,
        server_side: bool = True,
        namespace: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Apply a manifest (Path: file or folder; str: YAML text) as the administrator."""
        return _kubectl.apply(
            self.kubeconfig_path,
            manifest,
            server_side=server_side,
            namespace=namespace,
            timeout=timeout,
            binary_path=self._kubectl_binary(),
            cache_dir=self._kubectl_cache_dir(),
        )

    def create_project(
        self,
        name: str,
        spec: Mapping[str, Any] | None = None,
        *,
        details: Callable[[], str] | None = None,
    ) -> None:
        """Create a Kargo Project and wait for the namespace a running operator makes for it."""
        project: dict[str, Any] = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Project",
            "metadata": {"name": name},
        }
        if spec is not None:
            project["spec"] = dict(spec)
        self.apply(json.dumps(project), server_side=False)
        wait_for(
            lambda: self.kubectl("get", "namespace", name, check=False).returncode == 0,
            what=f"the namespace of Project {name}",
            details=details,
        )

    def install_crds(self, crd_dir: Path, *, timeout: float = 60.0) -> list[str]:
        """Install every CRD in ``crd_dir`` and wait until they are Established."""
        return _kubectl.install_crds(
            self.kubeconfig_path,
            crd_dir,
            timeout=timeout,
            binary_path=self._kubectl_binary(),
            cache_dir=self._kubectl_cache_dir(),
        )


class ExistingCluster(Cluster):
    """A cluster started by someone else, named by an administrator's kubeconfig file."""

    def __init__(self, kubeconfig_path: Path) -> None:
        if not kubeconfig_path.is_file():
            raise FileNotFoundError(f"kubeconfig {kubeconfig_path} does not exist")
        self._kubeconfig_path = kubeconfig_path

    @property
    def kubeconfig_path(self) -> Path:
        return self._kubeconfig_path
