"""The seed pipeline running for tests: git server, registry, operator, manifests applied.

:func:`seed_pipeline` starts a git server holding the GitOps repository, an OCI registry with
the first image tags, and the operator as a process (watching the seed's namespace only), then
applies ``examples/seed`` with its URLs substituted and the credential Secrets. It yields a
:class:`SeedPipeline` with helpers to read objects and push new tags; everything stops when the
``with`` block ends. The integration tests of the pipeline and of the UI share it. The namespace
outlives a run (nothing deletes namespaces without kube-controller-manager), so a run finds the
objects of earlier runs there; :meth:`SeedPipeline.freight_for_tag` looks only at its own
registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shunter_devenv.cluster import Cluster
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.registry import Registry
from shunter_devenv.seed import SEED_IMAGE_PATH, render_seed
from shunter_devenv.waiting import wait_for

__all__ = ["FIRST_TAG", "SEED_NAMESPACE", "SEED_REPO", "SeedPipeline", "seed_pipeline"]

SEED_NAMESPACE = "sandbox-example"
SEED_REPO = "test/sandbox"
_WAREHOUSE = "example-container"
_GIT_LOGIN = ("kargo", "git-pass")
_REGISTRY_LOGIN = ("ci", "reg-pass")
#: The one tag matching the seed's ``allowTags`` that the registry holds at the start.
FIRST_TAG = "2026-11-01_0900-1111111"


@dataclass
class SeedPipeline:
    """The running seed pipeline and the servers behind it."""

    kube: Cluster
    git: GitServer
    registry: Registry
    operator: OperatorProcess
    namespace: str = SEED_NAMESPACE

    def get(self, kind: str, name: str | None = None) -> Any:
        """``kubectl get <kind> [name] -o json`` in the seed's namespace."""
        args = ["get", kind, "-n", self.namespace, "-o", "json"]
        if name:
            args.insert(2, name)
        return json.loads(self.kube.kubectl(*args).stdout)

    def promotions(self, stage: str | None = None) -> list[dict[str, Any]]:
        """The Promotions (of one Stage)."""
        items = self.get("promotions")["items"]
        return [p for p in items if stage is None or p["spec"]["stage"] == stage]

    def freight_for_tag(self, tag: str) -> dict[str, Any] | None:
        """The Freight carrying image tag ``tag`` of this run's registry, if any."""
        repo = f"{self.registry.host}/{SEED_IMAGE_PATH}"
        for f in self.get("freight")["items"]:
            if any(i.get("tag") == tag and i.get("repoURL") == repo for i in f.get("images", [])):
                return dict(f)
        return None

    def current_freight(self, stage: str) -> str | None:
        """``status.freightSummary`` of a Stage."""
        summary: str | None = self.get("stage", stage).get("status", {}).get("freightSummary")
        return summary

    def push(self, tag: str, created: datetime) -> None:
        """Push an image tag to the seed's repository."""
        self.registry.push_image(SEED_IMAGE_PATH, tag, created)

    def refresh_warehouse(self) -> None:
        """Ask for a discovery now."""
        self.kube.kubectl(
            "annotate", "warehouse", _WAREHOUSE, "-n", self.namespace,
            f"kargo.akuity.io/refresh={time.monotonic_ns()}", "--overwrite",
        )  # fmt: skip

    def add_old_freight(self, name: str, alias: str, tag: str, digest: str) -> None:
        """Freight made by hand, discovered in 2020 (older than anything the Warehouse found)."""
        body = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Freight",
            "metadata": {"name": name, "namespace": self.namespace},
            "alias": alias,
            "discoveredAt": "2020-01-01T00:00:00Z",
            "origin": {"kind": "Warehouse", "name": _WAREHOUSE},
            "images": [
                {"repoURL": f"{self.registry.host}/{SEED_IMAGE_PATH}", "tag": tag, "digest": digest}
            ],
        }
        self.kube.apply(json.dumps(body), server_side=False)

    def diagnostics(self) -> str:
        """The objects and the operator's log tail, for failure messages."""
        out = self.kube.kubectl(
            "get", "warehouse,freight,stages,promotions", "-n", self.namespace, check=False
        )
        return f"{out.stdout}\n--- operator log tail ---\n{self.operator.log()[-4000:]}"


def _secret(namespace: str, name: str, cred_type: str, url: str, login: tuple[str, str]) -> str:
    user, password = login
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"kargo.akuity.io/cred-type": cred_type},
            },
            "stringData": {"repoURL": url, "username": user, "password": password},
        }
    )


@contextmanager
def seed_pipeline(
    kube: Cluster,
    work: Path,
    values: str,
    env: Mapping[str, str] | None = None,
    project: str = SEED_NAMESPACE,
    *,
    operator_kubeconfig: Path | None = None,
    operator_args: tuple[str, ...] | None = None,
    admission: bool = True,
) -> Iterator[SeedPipeline]:
    """Start everything and apply the seed; ``values`` is both environments' values.yaml.

    ``project`` renames the seed's Project (and so its namespace), which keeps the objects of
    one run away from another's in the same cluster. The operator runs with the cluster's
    administrator kubeconfig and watches the project's namespace, unless
    ``operator_kubeconfig`` (e.g. a ServiceAccount's token) and ``operator_args`` say otherwise.
    ``admission=False``: the operator serves no admission webhooks (it registers them itself,
    which an identity without rights on webhook configurations cannot do).
    """
    git_server = GitServer(users=dict([_GIT_LOGIN]))
    with git_server as git, Registry(users=dict([_REGISTRY_LOGIN])) as reg:
        git.create_repo(
            SEED_REPO, {"preprod/values.yaml": values, "prod/values.yaml": values}, branch="master"
        )
        base = datetime.now(UTC) - timedelta(days=10)
        reg.push_image(SEED_IMAGE_PATH, FIRST_TAG, base)
        reg.push_image(SEED_IMAGE_PATH, "latest", base + timedelta(days=1))
        reg.push_image(SEED_IMAGE_PATH, "v1.2.3", base + timedelta(days=2))
        operator = OperatorProcess(
            operator_kubeconfig or kube.operator_kubeconfig_path,
            work / "work",
            work / "operator.log",
            env={
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                "SHUNTER_MIN_STEP_REQUEUE_SECONDS": "0.5",
                **(env or {}),
            },
            args=("--namespace", project) if operator_args is None else operator_args,
            admission=admission,
        )
        with operator:
            text = render_seed(reg.host, git.base_url)
            if project != SEED_NAMESPACE:
                text = text.replace(f"name: {SEED_NAMESPACE}\n", f"name: {project}\n")
                text = text.replace(f"namespace: {SEED_NAMESPACE}\n", f"namespace: {project}\n")
            # The first apply creates the Project; the operator then creates its namespace.
            kube.kubectl("apply", "-f", "-", stdin=text, check=False)
            wait_for(
                lambda: kube.kubectl("get", "namespace", project, check=False).returncode == 0,
                what="the project namespace",
            )
            repo = f"{reg.host}/{SEED_IMAGE_PATH}"
            kube.apply(_secret(project, "sandbox-git", "git", git.url(SEED_REPO), _GIT_LOGIN))
            kube.apply(_secret(project, "registry", "image", repo, _REGISTRY_LOGIN))
            kube.kubectl("apply", "-f", "-", stdin=text)
            yield SeedPipeline(kube, git, reg, operator, project)
