"""The local control plane: version, admin access, RBAC with test users, CRDs, clean shutdown."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config

from shunter_devenv.binaries import KUBE_VERSION
from shunter_devenv.cluster import Cluster
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.kubectl import kubectl
from shunter_devenv.waiting import wait_for as shared_wait_for

DEADLINE = 30.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    shared_wait_for(condition, what=what, timeout=timeout, interval=0.05)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of ``pid``: pid -> command name."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = name
    return found


def require_control_plane(kube: Cluster) -> ControlPlane:
    if not isinstance(kube, ControlPlane):
        pytest.skip("needs the local control plane, not an existing cluster")
    return kube


def test_server_reports_the_built_version(kube: Cluster) -> None:
    require_control_plane(kube)
    version = json.loads(kube.kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == KUBE_VERSION == "v1.35.4"


def test_admin_creates_namespace_and_configmap(kube: Cluster, namespace: str) -> None:
    kube.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  colour: blue\n",
        namespace=namespace,
    )
    got = json.loads(
        kube.kubectl("get", "configmap", "settings", "-n", namespace, "-o=json").stdout
    )
    assert got["data"] == {"colour": "blue"}
    phase = kube.kubectl("get", "namespace", namespace, "-o=jsonpath={.status.phase}").stdout
    assert phase == "Active"


def test_test_user_without_binding_is_forbidden_then_allowed_by_group(
    kube: Cluster, namespace: str
) -> None:
    if not kube.has_test_users:
        pytest.skip("the existing cluster has no test users")
    alice = kube.kubeconfig_for("alice")
    denied = kubectl(alice, "get", "configmaps", "-n", namespace, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr
    assert 'User "alice" cannot list resource "configmaps"' in denied.stderr

    kube.kubectl(
        "create", "role", "read-cm", "--verb=list", "--resource=configmaps", "-n", namespace
    )
    kube.kubectl(
        "create", "rolebinding", "team-a-reads", "--role=read-cm", "--group=team-a", "-n", namespace
    )

    def alice_allowed() -> bool:
        return kubectl(alice, "get", "configmaps", "-n", namespace, check=False).returncode == 0

    wait_for(alice_allowed, "alice (group team-a) to list configmaps")
    bob = kubectl(kube.kubeconfig_for("bob"), "get", "configmaps", "-n", namespace, check=False)
    assert "Forbidden" in bob.stderr


def test_wrong_token_is_unauthorized(kube: Cluster) -> None:
    plane = require_control_plane(kube)
    config = plane.kubeconfig_path.read_text().replace(plane.admin_token, "not-a-token")
    bad = plane.workdir / "kubeconfig-bad"
    bad.write_text(config)
    result = kubectl(bad, "get", "namespaces", check=False)
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr or "must be logged in" in result.stderr


def test_install_crds_waits_until_established(kube: Cluster, tmp_path: Path) -> None:
    assert kube.install_crds(tmp_path) == []
    (tmp_path / "widget.yaml").write_text(
        """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.devenv-test.shunter.io
spec:
  group: devenv-test.shunter.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""
    )
    try:
        assert kube.install_crds(tmp_path) == ["widgets.devenv-test.shunter.io"]
        kube.kubectl("get", "widgets", "--all-namespaces")
    finally:
        kube.kubectl("delete", "crd", "widgets.devenv-test.shunter.io", "--wait=false")


async def test_kubeconfig_works_with_the_kubernetes_python_client(
    kube: Cluster, namespace: str
) -> None:
    kube.kubectl("create", "configmap", "from-kubectl", "-n", namespace, "--from-literal=k=v")
    api = await k8s_config.new_client_from_config(
        config_file=str(kube.kubeconfig_path), persist_config=False
    )
    async with api:
        core = k8s.CoreV1Api(api)
        names = {item.metadata.name for item in (await core.list_namespace()).items}
        config_map = await core.read_namespaced_config_map("from-kubectl", namespace)
    assert {"default", namespace} <= names
    assert config_map.data == {"k": "v"}


# -- shutdown: these start their own control planes -----------------------------------------


def test_controller_manager_deletes_namespaces_and_stop_leaves_no_process() -> None:
    plane = ControlPlane(with_controller_manager=True)
    with plane:
        pids = plane.pids
        workdir = plane.workdir
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert all(pid_alive(pid) for pid in pids.values())
        plane.kubectl("create", "namespace", "doomed")
        plane.kubectl("create", "configmap", "content", "-n", "doomed")
        # Without kube-controller-manager the namespace would stay Terminating.
        plane.kubectl("delete", "namespace", "doomed", f"--timeout={DEADLINE:.0f}s")
    assert not any(pid_alive(pid) for pid in pids.values())
    assert not workdir.exists()
    plane.stop()  # A second stop is harmless.


class ClusterCommand:
    """``python -m shunter_devenv cluster`` as a child process, with its stdout read aside."""

    def __init__(self, crd_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shunter_devenv", "cluster", "--crds", str(crd_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        for line in self.process.stdout or ():
            self.lines.put(line)

    def _read_stderr(self) -> None:
        self.stderr.extend(self.process.stderr or ())

    def kubeconfig(self, timeout: float = 120.0) -> Path:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no export line; stderr: {''.join(self.stderr)}")
        assert line.startswith("export KUBECONFIG="), line
        return Path(line.removeprefix("export KUBECONFIG=").strip())


@pytest.fixture
def cluster_command(tmp_path: Path) -> Iterator[ClusterCommand]:
    command = ClusterCommand(tmp_path)
    yield command
    if command.process.poll() is None:
        command.process.kill()
    command.process.wait()
    for reader in command.readers:
        reader.join(DEADLINE)
    for pipe in (command.process.stdout, command.process.stderr):
        if pipe is not None:
            pipe.close()


def test_cluster_command_stops_servers_on_sigterm(cluster_command: ClusterCommand) -> None:
    kubeconfig = cluster_command.kubeconfig()
    assert kubectl(kubeconfig, "get", "namespace", "default").returncode == 0
    servers = children_of(cluster_command.process.pid)
    assert {"etcd", "kube-apiserver"} <= set(servers.values())

    cluster_command.process.send_signal(signal.SIGTERM)
    assert cluster_command.process.wait(DEADLINE) == 0
    assert not any(pid_alive(pid) for pid in servers)
    assert not kubeconfig.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_servers_die_when_their_parent_is_killed(cluster_command: ClusterCommand) -> None:
    workdir = cluster_command.kubeconfig().parent
    servers = children_of(cluster_command.process.pid)
    assert {"etcd", "kube-apiserver"} <= set(servers.values())

    os.kill(cluster_command.process.pid, signal.SIGKILL)
    cluster_command.process.wait(DEADLINE)
    wait_for(lambda: not any(pid_alive(pid) for pid in servers), "servers to die with the parent")
    shutil.rmtree(workdir)  # Nobody was left to remove it.
