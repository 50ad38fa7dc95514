"""``make demo``: the seed pipeline on this machine, start to finish.

Starts a local control plane (etcd + kube-apiserver, the CRDs installed), a git server and an
OCI registry on 127.0.0.1, creates the GitOps repository from ``examples/seed/gitops/``,
pushes a first image, starts the operator (with its webhook receiver server), applies
``examples/seed`` (URLs substituted) and a ProjectConfig with a webhook receiver for the
registry's notifications, waits for preprod to be promoted, then pushes a new image tag - the
registry notifies the receiver, which refreshes the Warehouse - and shows its Freight and the
preprod promotion landing in git. It then prints the receiver's URL, the web UI's URL
(``shunter ui`` with the demo's kubeconfig) and the command that promotes prod, and keeps
everything running until Ctrl-C (``--exit`` stops at once: for tests and CI). Whatever
happens, nothing is left running.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shunter.receivers.paths import receiver_path
from shunter_devenv.binaries import find_binaries, repo_root
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.gitserver import GitServer
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.processes import free_port
from shunter_devenv.registry import Registry
from shunter_devenv.seed import SEED_DIR, SEED_IMAGE_PATH, render_seed
from shunter_devenv.ui import UiProcess
from shunter_devenv.waiting import wait_for
from shunter_devenv.webhooks import registry_receiver

__all__ = ["Demo", "run_demo"]

PROJECT = "sandbox-example"
REPO = "test/sandbox"
GIT_USER, GIT_PASSWORD = "kargo", "demo-git-password"
REGISTRY_USER, REGISTRY_PASSWORD = "ci", "demo-registry-password"
FIRST_TAG = "2026-11-01_0900-1a2b3c4"
RECEIVER = "registry"
RECEIVER_SECRET = "registry-webhook"  # noqa: S105 - the Secret's name


def _say(message: str) -> None:
    sys.stderr.write(f"[demo] {message}\n")
    sys.stderr.flush()


@dataclass
class Demo:
    """The running demo environment."""

    work: Path
    #: Extra environment of the operator (the benchmarks set their own log level).
    operator_env: dict[str, str] = field(default_factory=dict)
    plane: ControlPlane = field(init=False)
    git: GitServer = field(init=False)
    registry: Registry = field(init=False)
    operator: OperatorProcess = field(init=False)
    ui: UiProcess = field(init=False)
    stack: ExitStack = field(default_factory=ExitStack)
    #: The receiver the registry notifies (a generic receiver of the project).
    receiver_url: str = field(init=False)
    _receiver_secret: str = field(init=False, default_factory=lambda: secrets.token_urlsafe(24))

    def start(self) -> None:
        """Bring everything up and apply the seed; preprod gets its first Freight."""
        self.work.mkdir(parents=True, exist_ok=True)
        _say("building or finding etcd, kube-apiserver and kubectl (the first build takes minutes)")
        find_binaries(("etcd", "kube-apiserver", "kubectl"))
        began = time.monotonic()
        self.plane = self.stack.enter_context(ControlPlane())
        self.plane.install_crds(repo_root() / "crds")
        _say(f"control plane ready at {self.plane.server} ({time.monotonic() - began:.1f}s)")
        (self.work / "kubeconfig").write_text(self.plane.kubeconfig_path.read_text())
        (self.work / "kubeconfig").chmod(0o600)
        self.git = self.stack.enter_context(GitServer(users={GIT_USER: GIT_PASSWORD}))
        files = {
            str(p.relative_to(SEED_DIR / "gitops")): p.read_text()
            for p in sorted((SEED_DIR / "gitops").rglob("values.yaml"))
        }
        self.git.create_repo(REPO, files, branch="master")
        _say(f"git server at {self.git.base_url}; repository {self.git.url(REPO)}")
        receivers_port = free_port()
        receivers_base = f"http://127.0.0.1:{receivers_port}"
        # Kargo's receiver path is known in advance: the registry is told where to notify.
        self.receiver_url = receivers_base + receiver_path(
            "", PROJECT, "generic", RECEIVER, self._receiver_secret.encode()
        )
        self.registry = self.stack.enter_context(
            Registry(users={REGISTRY_USER: REGISTRY_PASSWORD}, notify_url=self.receiver_url)
        )
        self.registry.push_image(SEED_IMAGE_PATH, FIRST_TAG, datetime.now(UTC) - timedelta(days=1))
        self.registry.push_image(SEED_IMAGE_PATH, "latest", datetime.now(UTC))
        _say(f"registry at {self.registry.host}; pushed {FIRST_TAG} and latest")
        self.operator = OperatorProcess(
            self.plane.operator_kubeconfig_path,
            self.work / "promotions",
            self.work / "operator.log",
            env={
                "SHUNTER_ALLOW_CREDENTIALS_OVER_HTTP": "true",
                "SHUNTER_LOG_LEVEL": "INFO",
                "SHUNTER_RECEIVERS_ADDRESS": f"127.0.0.1:{receivers_port}",
                "SHUNTER_RECEIVERS_BASE_URL": receivers_base,
                **self.operator_env,
            },
        )
        self.stack.callback(self.operator.stop)
        self.operator.start()
        _say(f"operator started (log: {self.operator.log_path})")
        text = render_seed(self.registry.host, self.git.base_url)
        self.plane.kubectl("apply", "-f", "-", stdin=text, check=False)
        wait_for(
            lambda: self.plane.kubectl("get", "namespace", PROJECT, check=False).returncode == 0,
            what=f"namespace {PROJECT}",
            details=self._details,
        )
        self._credentials()
        self._receiver()
        self.plane.kubectl("apply", "-f", "-", stdin=text)
        _say("applied examples/seed (Project, Warehouse, PromotionTask, Stages preprod and prod)")
        published = wait_for(
            self._published_receiver, what="the webhook receiver's URL", details=self._details
        )
        if published != self.receiver_url:
            raise RuntimeError(f"receiver published at {published}, not {self.receiver_url}")
        _say(f"webhook receiver for the registry's notifications: {self.receiver_url}")
        first = wait_for(
            lambda: self.freight_with_tag(FIRST_TAG),
            what="the first Freight",
            details=self._details,
        )
        self.wait_in_stage("preprod", first["metadata"]["name"])
        _say(f"preprod runs Freight {first['alias']} ({FIRST_TAG})")
        self.ui = self.stack.enter_context(
            UiProcess(self.work / "kubeconfig", self.work / "ui.log")
        )
        _say(f"web UI at {self.ui.base_url} (log: {self.ui.log_path})")

    def _credentials(self) -> None:
        secrets = [
            ("gitops-repo", "git", self.git.url(REPO), GIT_USER, GIT_PASSWORD),
            (
                "registry",
                "image",
                f"{self.registry.host}/{SEED_IMAGE_PATH}",
                REGISTRY_USER,
                REGISTRY_PASSWORD,
            ),
        ]
        for name, cred_type, url, user, password in secrets:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": PROJECT,
                    "labels": {"kargo.akuity.io/cred-type": cred_type},
                },
                "stringData": {"repoURL": url, "username": user, "password": password},
            }
            self.plane.apply(json.dumps(body))

    def _receiver(self) -> None:
        """The receiver's Secret, and a ProjectConfig with the seed's promotion policies (a
        ProjectConfig takes over from the Project's legacy ones) and the registry's receiver."""
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": RECEIVER_SECRET, "namespace": PROJECT},
            "stringData": {"secret": self._receiver_secret},
        }
        config = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": PROJECT, "namespace": PROJECT},
            "spec": {
                "promotionPolicies": [
                    {"stage": "preprod", "autoPromotionEnabled": True},
                    {"stage": "prod", "autoPromotionEnabled": False},
                ],
                "webhookReceivers": [registry_receiver(RECEIVER, RECEIVER_SECRET)],
            },
        }
        self.plane.apply(json.dumps(secret))
        self.plane.apply(json.dumps(config))

    def _published_receiver(self) -> str | None:
        config = self.kubectl_json("get", "projectconfig", PROJECT)
        for receiver in config.get("status", {}).get("webhookReceivers") or []:
            if receiver.get("name") == RECEIVER:
                return str(receiver["url"])
        return None

    def _details(self) -> str:
        out = self.plane.kubectl(
            "get", "warehouse,freight,stages,promotions", "-n", PROJECT, check=False
        )
        return f"{out.stdout}\n{self.operator.log()[-3000:]}"

    def kubectl_json(self, *args: str) -> Any:
        """``kubectl ... -o json`` in the project namespace, parsed."""
        return json.loads(self.plane.kubectl(*args, "-n", PROJECT, "-o", "json").stdout)

    def freight_with_tag(self, tag: str) -> dict[str, Any] | None:
        """The Freight carrying image tag ``tag``, if it exists."""
        for freight in self.kubectl_json("get", "freight")["items"]:
            if any(i.get("tag") == tag for i in freight.get("images", [])):
                return dict(freight)
        return None

    def wait_in_stage(self, stage: str, freight: str) -> None:
        """Wait until ``stage`` holds ``freight``."""
        wait_for(
            lambda: (
                self.kubectl_json("get", "stage", stage).get("status", {}).get("freightSummary")
                == freight
            ),
            what=f"{stage} to hold Freight {freight}",
            timeout=120,
            details=self._details,
        )

    def promote_new_image(self, tag: str) -> dict[str, Any]:
        """Push ``tag`` (the registry notifies the receiver, which refreshes the Warehouse), and
        wait for preprod to run it."""
        self.registry.push_image(SEED_IMAGE_PATH, tag, datetime.now(UTC))
        _say(f"pushed image tag {tag}; the registry notified {self.receiver_url}")
        freight = wait_for(
            lambda: self.freight_with_tag(tag), what=f"Freight for {tag}", details=self._details
        )
        _say(f"Freight {freight['alias']} ({freight['metadata']['name'][:12]}...) created")
        self.wait_in_stage("preprod", freight["metadata"]["name"])
        _say(f"preprod promoted to {freight['alias']}")
        return freight

    def show(self, tag: str) -> None:
        """Print the Freight, the Stages, the Promotions and the git history."""
        out = self.plane.kubectl("get", "freight,stages,promotions", "-n", PROJECT)
        sys.stdout.write(out.stdout + "\n")
        sys.stdout.write("git log of master in the GitOps repository:\n")
        for sha, subject in self.git.log(REPO, "master"):
            sys.stdout.write(f"  {sha[:10]} {subject}\n")
        values = self.git.read_file(REPO, "master", "preprod/values.yaml").decode()
        line = next(ln for ln in values.splitlines() if ln.strip().startswith("lmsImageTag:"))
        sys.stdout.write(f"preprod/values.yaml now has: {line.strip()}  (expected {tag})\n")

    def promote_prod_command(self, freight: dict[str, Any]) -> str:
        """The command a user runs to promote prod."""
        kubeconfig = self.work / "kubeconfig"
        return (
            f"KUBECONFIG={kubeconfig} {sys.executable} -m shunter promote "
            f"--project {PROJECT} --stage prod --freight {freight['alias']}"
        )

    def stop(self) -> None:
        """Stop everything that was started."""
        self.stack.close()


def run_demo(
    work: Path, *, wait: bool = True, on_ready: Callable[[Demo, dict[str, Any]], None] | None = None
) -> int:
    """The whole demo; ``wait`` keeps it running until Ctrl-C."""
    demo = Demo(work)
    try:
        demo.start()
        tag = datetime.now(UTC).strftime("%Y-%m-%d_%H%M") + "-c0ffee1"
        freight = demo.promote_new_image(tag)
        demo.show(tag)
        command = demo.promote_prod_command(freight)
        sys.stdout.write(
            f"\nThe registry delivers its pushes to the webhook receiver\n  {demo.receiver_url}\n"
        )
        sys.stdout.write(f"\nOpen the web UI (pipeline, Freight, promote prod):\n  {demo.ui.url}\n")
        sys.stdout.write(f"\nTo promote prod, run:\n  {command}\n")
        sys.stdout.flush()
        if on_ready is not None:
            on_ready(demo, freight)
        if wait:
            _say("everything keeps running; Ctrl-C stops it and leaves nothing behind")
            threading.Event().wait()
    except KeyboardInterrupt:
        _say("interrupted")
    finally:
        demo.stop()
        _say("stopped every server")
    return 0
