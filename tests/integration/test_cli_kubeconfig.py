"""The command line's kubeconfig loader and client against the real API server, one auth kind each.

Every test builds a kubeconfig the way users have them (token, tokenFile, client certificate
files or data, CA file or data, insecure-skip-tls-verify, tls-server-name, an exec credential
plugin, several files in $KUBECONFIG, the pod's service account) and asks the API server who
it is talking to (a SelfSubjectReview), so a passing test means the server authenticated the
credentials, not just that a file was parsed. Needs the local control plane (its client CA and
test users); an existing cluster skips them.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shunter.cliclient.client import KubeAPI, UnreachableError
from shunter.cliclient.kubeconfig import ClusterAccess, KubeconfigError, in_cluster, load
from shunter_devenv.cluster import Cluster
from shunter_devenv.controlplane import ControlPlane


@pytest.fixture
def plane(kube: Cluster) -> ControlPlane:
    if not isinstance(kube, ControlPlane):
        pytest.skip("needs the local control plane (its client CA and token users)")
    return kube


def whoami(access: ClusterAccess) -> str:
    """The user name the API server authenticated ``access``'s credentials as."""
    api = KubeAPI(access, timeout=10)
    try:
        review = api.request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    finally:
        api.close()
    name: str = review["status"]["userInfo"]["username"]
    return name


def _kubeconfig(
    cluster: dict[str, Any],
    user: dict[str, Any],
    *,
    namespace: str | None = None,
    extra_contexts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"cluster": "local", "user": "me"}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": "me", "user": user}],
        "contexts": [{"name": "main", "context": context}, *(extra_contexts or [])],
        "current-context": "main",
    }


def _write(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def _ca_data(plane: ControlPlane) -> str:
    return base64.b64encode(plane.ca_path.read_bytes()).decode()


def _cluster(plane: ControlPlane, **extra: Any) -> dict[str, Any]:
    return {"server": plane.server, "certificate-authority-data": _ca_data(plane), **extra}


# -- credentials -----------------------------------------------------------------------------


def test_a_token(plane: ControlPlane, tmp_path: Path) -> None:
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), {"token": plane.admin_token}))
    assert whoami(load(str(path))) == "admin"


def test_a_token_file_relative_to_the_kubeconfig(plane: ControlPlane, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(plane.token_for("alice") + "\n")
    config = _kubeconfig(_cluster(plane), {"tokenFile": "secrets/token"})
    path = _write(tmp_path / "config", config)
    assert whoami(load(str(path))) == "alice"


def test_a_client_certificate_from_files(plane: ControlPlane, tmp_path: Path) -> None:
    issued = plane.client_certificate("carol", ["release-managers"])
    (tmp_path / "carol.crt").write_bytes(issued.cert_pem())
    (tmp_path / "carol.key").write_bytes(issued.key_pem())
    user = {"client-certificate": "carol.crt", "client-key": "carol.key"}
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    assert whoami(load(str(path))) == "carol"


def test_a_client_certificate_from_data(plane: ControlPlane, tmp_path: Path) -> None:
    issued = plane.client_certificate("dave")
    user = {
        "client-certificate-data": base64.b64encode(issued.cert_pem()).decode(),
        "client-key-data": base64.b64encode(issued.key_pem()).decode(),
    }
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    assert whoami(load(str(path))) == "dave"


def test_a_ca_file_and_an_untrusted_server(plane: ControlPlane, tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(plane.ca_path.read_bytes())
    cluster = {"server": plane.server, "certificate-authority": "ca.crt"}
    path = _write(tmp_path / "config", _kubeconfig(cluster, {"token": plane.admin_token}))
    assert whoami(load(str(path))) == "admin"
    other = plane.client_certificate("not-a-ca")  # a certificate that did not sign the server's
    (tmp_path / "ca.crt").write_bytes(other.cert_pem())
    with pytest.raises(UnreachableError, match="TLS certificate is not trusted"):
        whoami(load(str(path)))


def test_insecure_skip_tls_verify(plane: ControlPlane, tmp_path: Path) -> None:
    cluster = {"server": plane.server, "insecure-skip-tls-verify": True}
    path = _write(tmp_path / "config", _kubeconfig(cluster, {"token": plane.admin_token}))
    assert whoami(load(str(path))) == "admin"


def test_tls_server_name(plane: ControlPlane, tmp_path: Path) -> None:
    # The apiserver's own certificate names "kubernetes.default"; another name is refused.
    good = _kubeconfig(
        _cluster(plane, **{"tls-server-name": "kubernetes.default"}), {"token": plane.admin_token}
    )
    assert whoami(load(str(_write(tmp_path / "good", good)))) == "admin"
    bad = _kubeconfig(
        _cluster(plane, **{"tls-server-name": "elsewhere.example"}), {"token": plane.admin_token}
    )
    with pytest.raises(UnreachableError, match="not trusted"):
        whoami(load(str(_write(tmp_path / "bad", bad))))


# -- exec credential plugins -----------------------------------------------------------------


def _plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "credential-plugin"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_an_exec_plugin_token_with_cluster_info(plane: ControlPlane, tmp_path: Path) -> None:
    _plugin(
        tmp_path,
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "open(os.environ['SEEN'], 'w').write(json.dumps(info))\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {'token': os.environ['TOKEN'], "
        "'expirationTimestamp': '2999-01-01T00:00:00Z'}}))",
    )
    seen = tmp_path / "seen.json"
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "./bin/credential-plugin",  # relative to the kubeconfig's folder
            "env": [
                {"name": "TOKEN", "value": plane.token_for("alice")},
                {"name": "SEEN", "value": str(seen)},
            ],
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        }
    }
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    assert whoami(load(str(path))) == "alice"
    info = json.loads(seen.read_text())
    assert info["kind"] == "ExecCredential"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == plane.server
    assert "certificate-authority-data" in info["spec"]["cluster"]


def test_an_exec_plugin_certificate(plane: ControlPlane, tmp_path: Path) -> None:
    issued = plane.client_certificate("erin")
    _plugin(
        tmp_path,
        f"cert, key = {issued.cert_pem().decode()!r}, {issued.key_pem().decode()!r}\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
        "'kind': 'ExecCredential', 'status': {'clientCertificateData': cert, "
        "'clientKeyData': key}}))",
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": str(tmp_path / "bin" / "credential-plugin"),
        }
    }
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    assert whoami(load(str(path))) == "erin"


def test_an_exec_plugin_is_asked_again_after_a_401(plane: ControlPlane, tmp_path: Path) -> None:
    # First answer: a token the server rejects; second answer: a good one.
    _plugin(
        tmp_path,
        "count = os.environ['COUNT']\n"
        "n = int(open(count).read()) if os.path.exists(count) else 0\n"
        "open(count, 'w').write(str(n + 1))\n"
        "token = 'expired' if n == 0 else os.environ['TOKEN']\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        "'kind': 'ExecCredential', 'status': {'token': token}}))",
    )
    count = tmp_path / "count"
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "bin/credential-plugin",
            "env": [
                {"name": "TOKEN", "value": plane.token_for("bob")},
                {"name": "COUNT", "value": str(count)},
            ],
            "interactiveMode": "IfAvailable",
        }
    }
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    assert whoami(load(str(path))) == "bob"
    assert count.read_text() == "2"


def test_a_failing_exec_plugin_is_reported_with_its_install_hint(
    plane: ControlPlane, tmp_path: Path
) -> None:
    _plugin(tmp_path, "sys.exit(3)")
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "bin/credential-plugin",
            "interactiveMode": "Never",
            "installHint": "install it from the intranet",
        }
    }
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    with pytest.raises(KubeconfigError, match="failed with exit code 3\ninstall it from"):
        whoami(load(str(path)))
    user["exec"]["command"] = "no-such-plugin-anywhere"
    path = _write(tmp_path / "config", _kubeconfig(_cluster(plane), user))
    with pytest.raises(KubeconfigError, match="no-such-plugin-anywhere not found"):
        whoami(load(str(path)))


# -- contexts, merging, the pod's service account --------------------------------------------


def test_context_namespace_and_context_choice(plane: ControlPlane, tmp_path: Path) -> None:
    config = _kubeconfig(
        _cluster(plane),
        {"token": plane.admin_token},
        namespace="team-a",
        extra_contexts=[{"name": "as-alice", "context": {"cluster": "local", "user": "alice"}}],
    )
    config["users"].append({"name": "alice", "user": {"token": plane.token_for("alice")}})
    path = _write(tmp_path / "config", config)
    access = load(str(path))
    assert access.namespace == "team-a"
    assert whoami(access) == "admin"
    other = load(str(path), "as-alice")
    assert other.namespace is None
    assert whoami(other) == "alice"
    with pytest.raises(KubeconfigError, match=r"context 'nope' .* its contexts: as-alice, main"):
        load(str(path), "nope")


def test_kubeconfig_files_merge_the_first_setting_wins(plane: ControlPlane, tmp_path: Path) -> None:
    first = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "work",
        "users": [{"name": "me", "user": {"token": plane.token_for("alice")}}],
        "contexts": [{"name": "work", "context": {"cluster": "local", "user": "me"}}],
    }
    second = _kubeconfig(_cluster(plane), {"token": plane.admin_token})  # its "me" is admin
    second["current-context"] = "main"
    listed = os.pathsep.join(
        [
            str(_write(tmp_path / "a" / "config", first)),
            str(tmp_path / "missing" / "config"),  # skipped, as kubectl skips it
            str(_write(tmp_path / "b" / "config", second)),
        ]
    )
    access = load(environ={"KUBECONFIG": listed, "HOME": str(tmp_path)})
    assert "context 'work'" in access.source
    assert whoami(access) == "alice"
    assert whoami(load(context="main", environ={"KUBECONFIG": listed})) == "alice"


def test_the_pods_service_account(plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    plane.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = plane.kubectl("create", "token", "robot", "-n", namespace).stdout.strip()
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(token)
    (sa_dir / "ca.crt").write_bytes(plane.ca_path.read_bytes())
    (sa_dir / "namespace").write_text(namespace)
    host, port = plane.server.removeprefix("https://").rsplit(":", 1)
    env = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "HOME": str(tmp_path)}
    access = load(environ=env, service_account_dir=sa_dir)  # no kubeconfig anywhere
    assert access.namespace == namespace
    assert whoami(access) == f"system:serviceaccount:{namespace}:robot"
    assert in_cluster(env, sa_dir).server == plane.server


def test_unusable_kubeconfigs_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        load(environ={"HOME": str(tmp_path)})
    with pytest.raises(KubeconfigError, match="none of the files in KUBECONFIG"):
        load(environ={"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "gone")})
    with pytest.raises(KubeconfigError, match="does not exist; check --kubeconfig"):
        load(str(tmp_path / "nope"))
    cluster = {"server": "https://127.0.0.1:6443", "proxy-url": "http://proxy:3128"}
    path = _write(tmp_path / "proxy", _kubeconfig(cluster, {}))
    with pytest.raises(KubeconfigError, match="proxy-url"):
        load(str(path))
    user = {"client-certificate": "missing.crt", "client-key": "missing.key"}
    path = _write(tmp_path / "cert", _kubeconfig({"server": "https://127.0.0.1:6443"}, user))
    with pytest.raises(KubeconfigError, match=r"client-certificate .*missing\.crt does not exist"):
        load(str(path))


@pytest.fixture(autouse=True)
def _no_inherited_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
