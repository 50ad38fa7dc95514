"""The Helm chart (charts/shunter): lint, rendered manifests, a real install and its RBAC.

``helm install`` goes to the session's API server with the CRDs left out (the session installed
them already), and the ServiceAccount's rights are checked with ``kubectl auth can-i --as``. A
second, fresh control plane takes a complete install (CRDs and admission policies included)
and an uninstall, which must keep the CRDs. No kubelet runs here: the Deployment is created but
its pod never starts (the image is checked by reading the Dockerfile, not by building it).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shunter_devenv.binaries import KUBE_VERSION, binary
from shunter_devenv.cluster import Cluster
from shunter_devenv.controlplane import ControlPlane
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.processes import free_port
from shunter_devenv.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "shunter"
CRD_DIR = ROOT / "crds"
KEEP = {"helm.sh/resource-policy": "keep", "argocd.argoproj.io/sync-options": "Delete=false"}


@pytest.fixture(scope="module")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for helm: its cache/config/data folders in a temporary folder."""
    home = tmp_path_factory.mktemp("helm-home")
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


@pytest.fixture(scope="module")
def helm(helm_env: dict[str, str]) -> Any:
    path = str(binary("helm"))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [path, *args], env=helm_env, capture_output=True, text=True, timeout=180, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    return run


def _render(helm: Any, *sets: str) -> list[dict[str, Any]]:
    args = ["template", "shunter", str(CHART), "--namespace", "shunter-system"]
    args += ["--kube-version", KUBE_VERSION]
    for value in sets:
        args += ["--set", value]
    out = helm(*args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _kinds(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


# -- lint and template ------------------------------------------------------------------------


def test_helm_lint_is_clean(helm: Any) -> None:
    result = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION)
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


def test_template_renders_every_kind(helm: Any) -> None:
    kinds = _kinds(_render(helm, "projectNamespaces={team-a,team-b}"))
    assert set(kinds) == {
        "CustomResourceDefinition",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Namespace",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
    assert len(kinds["CustomResourceDefinition"]) == 9
    assert sorted(rb["metadata"]["namespace"] for rb in kinds["RoleBinding"]) == [
        "kargo-system-resources",
        "shunter-system",  # the webhooks' certificate
        "shunter-system",  # the leader election Lease
        "team-a",
        "team-b",
    ]


def test_rendered_crds_are_the_generated_ones_and_kept(helm: Any) -> None:
    rendered = {
        d["metadata"]["name"]: d for d in _render(helm) if d["kind"] == "CustomResourceDefinition"
    }
    for path in sorted(CRD_DIR.glob("kargo.akuity.io_*.yaml")):
        source = yaml.safe_load(path.read_text())
        ours = rendered.pop(source["metadata"]["name"])
        annotations = ours["metadata"].pop("annotations")
        assert annotations == KEEP
        assert ours == source, path.name
    assert rendered == {}
    not_kept = _render(helm, "crds.keep=false")
    assert all(
        "annotations" not in d["metadata"]
        for d in not_kept
        if d["kind"] == "CustomResourceDefinition"
    )
    left_out = _kinds(_render(helm, "crds.install=false", "validationPolicies.install=false"))
    assert "CustomResourceDefinition" not in left_out
    assert "ValidatingAdmissionPolicy" not in left_out


def test_deployment_runs_shunter_as_non_root_on_a_read_only_root(helm: Any) -> None:
    (deployment,) = _kinds(_render(helm, "watchNamespaces={a,b}"))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["shunter", "run"]
    assert container["args"] == ["--probes", "0.0.0.0:8080"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probes"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SHUNTER_NAMESPACES"] == "a,b"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[env["SHUNTER_WORK_DIR"]] == "work"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["work"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probes"}
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert env["SHUNTER_LEADER_ELECTION"] == "true"
    assert env["SHUNTER_METRICS_ADDRESS"] == ":9090"
    assert env["SHUNTER_PROJECT_CLUSTER_ROLE"] == "shunter-project-resources"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "probes": 8080,
        "metrics": 9090,
        "receivers": 8081,
        "webhooks": 9443,
    }
    (single,) = _kinds(_render(helm, "leaderElection.enabled=false"))["Deployment"]
    assert single["spec"]["replicas"] == 1
    assert single["spec"]["strategy"] == {"type": "Recreate"}


def test_high_availability_sharding_metrics_and_garbage_collection_values(helm: Any) -> None:
    kinds = _kinds(_render(helm, "shardName=east", "metrics.serviceMonitor.enabled=true"))
    (pdb,) = kinds["PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == 1
    (service,) = (s for s in kinds["Service"] if s["metadata"]["name"] == "shunter-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    (monitor,) = kinds["ServiceMonitor"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (role,) = (r for r in kinds["Role"] if r["metadata"]["name"] == "shunter-leader-election")
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update", "patch"],
        }
    ]
    (deployment,) = kinds["Deployment"]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SHUNTER_SHARD_NAME"] == "east"
    assert env["SHUNTER_LEADER_ELECTION_ID"] == "shunter-controller-east"
    assert env["SHUNTER_GC_INTERVAL"] == "1h"
    assert env["SHUNTER_GC_MIN_FREIGHT_DELETION_AGE"] == "336h"
    off = _kinds(_render(helm, "garbageCollector.enabled=false", "metrics.enabled=false"))
    (deployment,) = off["Deployment"]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SHUNTER_GC_INTERVAL"] == "0"
    assert env["SHUNTER_METRICS_ADDRESS"] == ""
    assert "shunter-metrics" not in {s["metadata"]["name"] for s in off.get("Service", [])}


def test_rollouts_crds_only_when_asked_and_never_by_the_operator(helm: Any) -> None:
    names = {
        d["metadata"]["name"]
        for d in _render(helm, "crds.install=false", "rollouts.installCRDs=true")
        if d["kind"] == "CustomResourceDefinition"
    }
    assert names == {
        "analysisruns.argoproj.io",
        "analysistemplates.argoproj.io",
        "clusteranalysistemplates.argoproj.io",
    }
    for role in _kinds(_render(helm, "rollouts.installCRDs=true"))["ClusterRole"]:
        for rule in role["rules"]:
            if "customresourcedefinitions" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}


def test_the_ui_is_off_by_default_and_holds_no_credentials_when_on(helm: Any) -> None:
    assert all(d["metadata"]["name"] != "shunter-ui" for d in _render(helm))
    kinds = _kinds(_render(helm, "ui.enabled=true", "ui.secureCookies=true"))
    deployments = {d["metadata"]["name"]: d for d in kinds["Deployment"]}
    ui = deployments["shunter-ui"]
    pod = ui["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["shunter", "ui"]
    assert container["args"][:2] == ["--auth", "token"]
    assert "--secure-cookies" in container["args"]
    preview = container["args"].index("--preview-seconds")
    assert container["args"][preview + 1] == "120"
    # Previews clone into /tmp: writable although the root filesystem is read-only.
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["tmp"] == "/tmp"
    assert {v["name"]: v for v in pod["volumes"]}["tmp"] == {"name": "tmp", "emptyDir": {}}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "shunter-ui"
    assert {v["name"]: v for v in pod["volumes"]}["cluster-ca"]["configMap"] == {
        "name": "kube-root-ca.crt"
    }
    services = {s["metadata"]["name"]: s for s in kinds["Service"]}
    assert set(services) == {
        "shunter-ui",
        "shunter-receivers",
        "shunter-webhooks",
        "shunter-metrics",
    }
    service = services["shunter-ui"]
    assert service["spec"]["selector"] == ui["spec"]["selector"]["matchLabels"]
    operator_selector = deployments["shunter"]["spec"]["selector"]["matchLabels"]
    ui_labels = ui["spec"]["template"]["metadata"]["labels"]
    assert not all(ui_labels.get(k) == v for k, v in operator_selector.items())
    bound = [
        s
        for b in kinds.get("ClusterRoleBinding", []) + kinds.get("RoleBinding", [])
        for s in b["subjects"]
    ]
    assert all(s["name"] != "shunter-ui" for s in bound)


def test_webhook_receivers_have_their_own_service_and_optional_ingress(helm: Any) -> None:
    kinds = _kinds(_render(helm))
    (deployment,) = kinds["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SHUNTER_RECEIVERS_ADDRESS"] == "0.0.0.0:8081"
    assert env["SHUNTER_RECEIVERS_BASE_URL"] == ""
    assert env["SHUNTER_SYSTEM_RESOURCES_NAMESPACE"] == "kargo-system-resources"
    assert {"name": "receivers", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    (service,) = (s for s in kinds["Service"] if s["metadata"]["name"] == "shunter-receivers")
    assert service["spec"]["ports"] == [
        {"name": "receivers", "port": 80, "targetPort": "receivers", "protocol": "TCP"}
    ]
    assert "Ingress" not in kinds
    (role,) = (r for r in kinds["Role"] if r["metadata"]["name"] == "shunter-system-resources")
    assert role["metadata"]["namespace"] == "kargo-system-resources"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]

    exposed = _kinds(
        _render(
            helm,
            "receivers.ingress.enabled=true",
            "receivers.ingress.host=hooks.example.com",
            "receivers.ingress.tls[0].secretName=hooks-tls",
            "receivers.ingress.tls[0].hosts[0]=hooks.example.com",
        )
    )
    (ingress,) = exposed["Ingress"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "hooks.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "receivers"}
    (deployment,) = exposed["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SHUNTER_RECEIVERS_BASE_URL"] == "https://hooks.example.com"

    off = _kinds(_render(helm, "receivers.enabled=false"))
    assert "shunter-receivers" not in {s["metadata"]["name"] for s in off.get("Service", [])}
    (deployment,) = off["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "SHUNTER_RECEIVERS_ADDRESS" not in {e["name"] for e in container["env"]}


def _grants_secrets(rule: dict[str, Any]) -> bool:
    return rule.get("apiGroups") in ([""], ["*"]) and bool(
        {"secrets", "*"} & set(rule.get("resources", []))
    )


def test_no_cluster_wide_secret_access_unless_asked(helm: Any) -> None:
    kinds = _kinds(_render(helm, "projectNamespaces={team-a}"))
    secret_roles = {
        role["metadata"]["name"]
        for role in kinds["ClusterRole"]
        if any(_grants_secrets(rule) for rule in role["rules"])
    }
    assert secret_roles == {"shunter-project-resources"}
    cluster_bound = {b["roleRef"]["name"] for b in kinds["ClusterRoleBinding"]}
    assert not secret_roles & cluster_bound
    bindings = {
        b["metadata"]["namespace"]: b["roleRef"]
        for b in kinds["RoleBinding"]
        if b["metadata"]["namespace"] != "shunter-system"  # the webhook certificate's Secret
    }
    assert bindings == {
        "team-a": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "shunter-project-resources",
        },
        # ClusterConfig's receivers' Secrets: one namespace, a Role of its own.
        "kargo-system-resources": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "shunter-system-resources",
        },
    }
    for role in kinds["ClusterRole"]:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"], role["metadata"]["name"]
            assert "*" not in rule["resources"], role["metadata"]["name"]
    opened = _kinds(_render(helm, "rbac.clusterWideSecretReading=true"))
    assert "shunter-project-resources" in {
        b["roleRef"]["name"] for b in opened["ClusterRoleBinding"]
    }


def test_argocd_access_can_be_limited_to_its_namespace(helm: Any) -> None:
    kinds = _kinds(_render(helm, "argocd.watchArgocdNamespaceOnly=true", "argocd.namespace=gitops"))
    (role,) = [r for r in kinds["Role"] if r["metadata"]["name"] == "shunter-argocd"]
    assert role["metadata"]["namespace"] == "gitops"
    assert role["rules"][0]["resources"] == ["applications"]
    assert "shunter-argocd" not in {r["metadata"]["name"] for r in kinds["ClusterRole"]}


def test_webhooks_are_the_catalogue_and_spare_kube_system(helm: Any) -> None:
    from shunter.admission.webhooks import WEBHOOKS  # noqa: PLC0415

    kinds = _kinds(_render(helm, "webhooks.excludeNamespaces={kube-system,ops}"))
    hooks = [
        (kind == "MutatingWebhookConfiguration", hook)
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
        for hook in kinds[kind][0]["webhooks"]
    ]
    assert [(m, h["name"], h["clientConfig"]["service"]["path"]) for m, h in hooks] == [
        (w.mutating, w.name, w.path) for w in WEBHOOKS
    ]
    for _, hook in hooks:
        assert hook["failurePolicy"] == "Fail"
        assert hook["clientConfig"]["service"]["name"] == "shunter-webhooks"
        assert "caBundle" not in hook["clientConfig"]  # the operator injects it
        if hook["rules"][0]["scope"] == "Namespaced":
            (expression,) = hook["namespaceSelector"]["matchExpressions"]
            assert expression["operator"] == "NotIn"
            assert sorted(expression["values"]) == ["kube-system", "ops", "shunter-system"]
    (deployment,) = kinds["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SHUNTER_ADMISSION_ADDRESS"] == "0.0.0.0:9443"
    assert env["SHUNTER_ADMISSION_SECRET"] == "shunter-system/shunter-webhook-tls"
    assert env["SHUNTER_ADMISSION_HOSTS"].split(",")[0] == "shunter-webhooks.shunter-system.svc"
    (service,) = (s for s in kinds["Service"] if s["metadata"]["name"] == "shunter-webhooks")
    assert service["spec"]["ports"][0]["targetPort"] == "webhooks"

    managed = _kinds(_render(helm, "webhooks.certManager.enabled=true"))
    (certificate,) = managed["Certificate"]
    assert certificate["spec"]["dnsNames"][0] == "shunter-webhooks.shunter-system.svc"
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        annotations = managed[kind][0]["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == "shunter-system/shunter-webhook"
    (deployment,) = managed["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SHUNTER_ADMISSION_CERT_DIR"] == "/var/run/shunter/webhook-tls"
    assert "SHUNTER_ADMISSION_SECRET" not in env
    off = _kinds(_render(helm, "webhooks.enabled=false"))
    assert "MutatingWebhookConfiguration" not in off
    assert "shunter-webhooks" not in {s["metadata"]["name"] for s in off.get("Service", [])}


def test_user_cluster_roles_carry_the_promote_verb(helm: Any) -> None:
    roles = {r["metadata"]["name"]: r for r in _kinds(_render(helm))["ClusterRole"]}

    def promotes(name: str) -> bool:
        return any(
            "stages" in rule["resources"] and "promote" in rule["verbs"]
            for rule in roles[name]["rules"]
        )

    assert promotes("kargo-admin")
    assert promotes("kargo-promoter")
    assert not promotes("kargo-viewer")
    assert not any(
        "update" in rule["verbs"] and "stages" in rule["resources"]
        for rule in roles["kargo-promoter"]["rules"]
    )
    aggregated = {
        r["metadata"]["name"]: r
        for r in _kinds(_render(helm, "rbac.aggregateToDefaultRoles=true"))["ClusterRole"]
    }
    assert (
        aggregated["kargo-viewer"]["metadata"]["labels"][
            "rbac.authorization.k8s.io/aggregate-to-view"
        ]
        == "true"
    )
    assert "kargo-admin" not in {
        r["metadata"]["name"]
        for r in _kinds(_render(helm, "rbac.installUserClusterRoles=false"))["ClusterRole"]
    }


def test_project_namespaces_can_be_created_and_kept(helm: Any) -> None:
    kinds = _kinds(_render(helm, "projectNamespaces={team-a}", "createProjectNamespaces=true"))
    system, namespace = sorted(kinds["Namespace"], key=lambda n: n["metadata"]["name"])
    assert system["metadata"]["name"] == "kargo-system-resources"
    assert system["metadata"]["annotations"] == KEEP
    assert namespace["metadata"]["labels"]["kargo.akuity.io/project"] == "true"
    assert namespace["metadata"]["annotations"] == KEEP


# -- install into the session's API server, and RBAC ----------------------------------------------


class Install:
    def __init__(self, kube: Cluster, release: str, namespace: str, project: str) -> None:
        self.kube, self.release, self.namespace, self.project = kube, release, namespace, project

    def can(
        self,
        verb: str,
        resource: str,
        namespace: str | None = None,
        *,
        subresource: str = "",
        name: str = "",
    ) -> bool:
        """A SubjectAccessReview for the operator's ServiceAccount, with the groups the API
        server gives a ServiceAccount (``kubectl auth can-i --as`` cannot name the API group
        of a kind the server does not serve, such as Argo CD's)."""
        plural, _, group = resource.partition(".")
        attributes = {"verb": verb, "resource": plural, "group": group}
        if namespace is not None:
            attributes["namespace"] = namespace
        if subresource:
            attributes["subresource"] = subresource
        if name:
            attributes["name"] = name
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{self.namespace}:{self.release}",
                "groups": [
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{self.namespace}",
                    "system:authenticated",
                ],
                "resourceAttributes": attributes,
            },
        }
        out = self.kube.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review))
        return bool(json.loads(out.stdout)["status"].get("allowed"))


@pytest.fixture(scope="module")
def install(kube: Cluster, helm: Any) -> Iterator[Install]:
    suffix = secrets.token_hex(3)
    release, namespace, project = f"shunter-{suffix}", f"shunter-sys-{suffix}", f"proj-{suffix}"
    for ns in (namespace, project):
        kube.kubectl("create", "namespace", ns)
    helm(
        "install", release, str(CHART), "--namespace", namespace,
        "--kubeconfig", str(kube.kubeconfig_path),
        "--set", "crds.install=false", "--set", "validationPolicies.install=false",
        "--set", f"projectNamespaces={{{project}}}",
        # No pod runs here: registered webhooks would refuse every Kargo object of the session.
        "--set", "webhooks.register=false",
    )  # fmt: skip
    try:
        yield Install(kube, release, namespace, project)
    finally:
        helm(
            "uninstall", release, "--namespace", namespace,
            "--kubeconfig", str(kube.kubeconfig_path), check=False,
        )  # fmt: skip
        for ns in (namespace, project):
            kube.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found")


def test_install_creates_the_operator_objects(install: Install) -> None:
    kube, ns, release = install.kube, install.namespace, install.release
    deployment = json.loads(
        kube.kubectl("get", "deployment", release, "-n", ns, "-o", "json").stdout
    )
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == release
    kube.kubectl("get", "serviceaccount", release, "-n", ns)
    names = kube.kubectl(
        "get", "clusterroles,clusterrolebindings", "-l", f"app.kubernetes.io/instance={release}",
        "-o", "name",
    ).stdout.split()  # fmt: skip
    expected = {
        f"clusterrole{kind}.rbac.authorization.k8s.io/{release}{suffix}"
        for kind in ("", "binding")
        for suffix in ("", "-argocd", "-rollouts")
    }
    expected.add(f"clusterrole.rbac.authorization.k8s.io/{release}-project-resources")
    expected |= {
        f"clusterrole.rbac.authorization.k8s.io/kargo-{role}"
        for role in ("admin", "promoter", "viewer")
    }
    assert set(names) == expected
    kube.kubectl("get", "service", f"{release}-webhooks", "-n", ns)
    kube.kubectl("get", "rolebinding", f"{release}-project-resources", "-n", install.project)


@pytest.mark.parametrize(
    ("verb", "resource", "subresource"),
    [
        ("get", "stages.kargo.akuity.io", ""),
        ("list", "stages.kargo.akuity.io", ""),
        ("watch", "stages.kargo.akuity.io", ""),
        ("patch", "stages.kargo.akuity.io", "status"),
        ("update", "stages.kargo.akuity.io", "status"),
        ("create", "promotions.kargo.akuity.io", ""),
        ("patch", "promotions.kargo.akuity.io", "status"),
        ("create", "freights.kargo.akuity.io", ""),
        ("patch", "freights.kargo.akuity.io", "status"),
        ("watch", "warehouses.kargo.akuity.io", ""),
        ("get", "promotiontasks.kargo.akuity.io", ""),
        ("create", "events", ""),
        ("watch", "applications.argoproj.io", ""),
        ("patch", "applications.argoproj.io", ""),
        ("create", "analysisruns.argoproj.io", ""),
        ("patch", "analysisruns.argoproj.io", "status"),
        ("list", "analysistemplates.argoproj.io", ""),
    ],
)
def test_the_service_account_can_run_the_operator(
    install: Install, verb: str, resource: str, subresource: str
) -> None:
    assert install.can(verb, resource, install.project, subresource=subresource)
    assert install.can(verb, resource, subresource=subresource), "cluster-wide"


def test_the_service_account_can_manage_cluster_scoped_kinds(install: Install) -> None:
    assert install.can("get", "projects.kargo.akuity.io")
    assert install.can("watch", "projects.kargo.akuity.io")
    assert install.can("patch", "projects.kargo.akuity.io", subresource="status")
    assert install.can("list", "clusterpromotiontasks.kargo.akuity.io")
    assert install.can("list", "clusteranalysistemplates.argoproj.io")
    for verb in ("get", "create", "patch", "delete"):
        assert install.can(verb, "namespaces")
    assert install.can("get", "customresourcedefinitions.apiextensions.k8s.io")
    assert not install.can("create", "customresourcedefinitions.apiextensions.k8s.io")
    for verb in ("delete", "create"):
        assert install.can(verb, "freights.kargo.akuity.io", install.project)
    assert install.can("delete", "promotions.kargo.akuity.io", install.project)
    assert install.can("create", "rolebindings.rbac.authorization.k8s.io", install.project)
    assert install.can("update", "leases.coordination.k8s.io", install.namespace)
    assert not install.can("update", "leases.coordination.k8s.io", install.project)


def test_secrets_are_readable_only_in_project_namespaces(install: Install) -> None:
    for verb in ("get", "list", "watch"):  # the operator's cache watches credentials Secrets
        assert install.can(verb, "secrets", install.project)
        assert install.can(verb, "configmaps", install.project)
    for namespace in ("kube-system", "default", install.namespace):
        assert not install.can("get", "secrets", namespace), namespace
        assert not install.can("list", "secrets", namespace), namespace
        assert not install.can("watch", "secrets", namespace), namespace
    assert not install.can("list", "secrets")  # every namespace at once
    assert not install.can("watch", "secrets")
    assert not install.can("get", "secrets")
    assert not install.can("create", "secrets", install.project)


def test_kubectl_auth_can_i_agrees(install: Install) -> None:
    who = f"--as=system:serviceaccount:{install.namespace}:{install.release}"

    def can_i(*args: str) -> str:
        result = install.kube.kubectl("auth", "can-i", *args, who, check=False)
        return result.stdout.strip()

    project = ("-n", install.project)
    assert can_i("get", "stages.kargo.akuity.io", *project) == "yes"
    assert can_i("list", "stages.kargo.akuity.io", *project) == "yes"
    assert can_i("watch", "stages.kargo.akuity.io", "--all-namespaces") == "yes"
    assert can_i("patch", "stages.kargo.akuity.io", "--subresource=status", *project) == "yes"
    assert can_i("create", "namespaces") == "yes"
    assert can_i("create", "events", *project) == "yes"
    assert can_i("get", "secrets", *project) == "yes"
    assert can_i("get", "secrets", "-n", "kube-system") == "no"
    assert can_i("get", "secrets", "-n", "default") == "no"
    assert can_i("list", "secrets", "--all-namespaces") == "no"


def test_the_service_account_can_serve_the_admission_webhooks(install: Install) -> None:
    release, ns = install.release, install.namespace
    assert install.can("create", "subjectaccessreviews.authorization.k8s.io")
    for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        resource = f"{kind}.admissionregistration.k8s.io"
        assert install.can("patch", resource, name=release)
        assert not install.can("patch", resource, name="someone-elses")
        assert not install.can("delete", resource, name=release)
    assert install.can("create", "secrets", ns)
    for verb in ("get", "update"):
        assert install.can(verb, "secrets", ns, name=f"{release}-webhook-tls")
        assert not install.can(verb, "secrets", ns, name="other")
    assert not install.can("create", "secrets", "default")


def test_the_service_account_cannot_do_more(install: Install) -> None:
    assert not install.can("delete", "stages.kargo.akuity.io", install.project)
    assert not install.can("bind", "clusterroles.rbac.authorization.k8s.io")  # but its own
    assert not install.can("update", "projectconfigs.kargo.akuity.io", install.project)
    assert not install.can("create", "clusterrolebindings.rbac.authorization.k8s.io")
    assert not install.can("create", "pods", install.project)
    assert not install.can("delete", "customresourcedefinitions.apiextensions.k8s.io")
    assert not install.can("update", "customresourcedefinitions.apiextensions.k8s.io")


# -- a complete install (CRDs, admission policies) into a fresh API server --------------------


@pytest.fixture(scope="module")
def fresh_plane() -> Iterator[ControlPlane]:
    if os.environ.get("SHUNTER_TEST_KUBECONFIG"):
        pytest.skip("needs the local control plane (an existing cluster may hold the CRDs)")
    with ControlPlane() as plane:
        yield plane


def test_full_install_serves_the_api_and_uninstall_keeps_the_crds(
    fresh_plane: ControlPlane, helm: Any, tmp_path: Path
) -> None:
    kubeconfig = str(fresh_plane.kubeconfig_path)
    fresh_plane.kubectl("create", "namespace", "shunter-system")
    helm("install", "shunter", str(CHART), "-n", "shunter-system", "--kubeconfig", kubeconfig)
    # kubectl wait fails at once while a new CRD has no conditions yet: poll it instead.
    wait_for(
        lambda: fresh_plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=10s",
            "crd/stages.kargo.akuity.io", "crd/promotions.kargo.akuity.io", check=False,
        ).returncode == 0,
        timeout=60,
        what="the CRDs to be established",
    )  # fmt: skip
    fresh_plane.kubectl("create", "namespace", "demo")
    stage = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": "prod", "namespace": "demo"},
        "spec": {
            "requestedFreight": [
                {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
            ]
        },
    }
    # No pod serves the webhooks (no kubelet): Kargo objects in "demo" are refused (Fail) ...
    refused = fresh_plane.kubectl("apply", "-f", "-", stdin=json.dumps(stage), check=False)
    assert refused.returncode != 0
    assert "failed calling webhook" in refused.stderr, refused.stderr
    # ... except in the excluded namespaces; other kinds and reads are not affected.
    fresh_plane.kubectl("create", "configmap", "fine", "-n", "demo")
    stage["metadata"]["namespace"] = "shunter-system"
    fresh_plane.apply(json.dumps(stage))
    assert fresh_plane.kubectl("get", "stages", "-A", "-o", "name").stdout.strip()
    misnamed = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": "not-shunter-system", "namespace": "shunter-system"},
    }

    def denial() -> str | None:
        result = fresh_plane.kubectl("apply", "-f", "-", stdin=json.dumps(misnamed), check=False)
        if result.returncode == 0:  # the policy is not loaded yet: undo and try again
            fresh_plane.kubectl(
                "delete", "projectconfig", misnamed["metadata"]["name"], "-n", "shunter-system"
            )
            return None
        return result.stderr

    assert "must be named after its project" in wait_for(
        denial, timeout=30, what="the admission policy to deny a misnamed ProjectConfig"
    )
    _operator_injects_its_ca(fresh_plane, tmp_path)
    helm("uninstall", "shunter", "-n", "shunter-system", "--kubeconfig", kubeconfig)
    crds = fresh_plane.kubectl("get", "crds", "-o", "name").stdout.split()
    assert "customresourcedefinition.apiextensions.k8s.io/stages.kargo.akuity.io" in crds
    assert fresh_plane.kubectl("get", "stage", "prod", "-n", "shunter-system", "-o", "name").stdout
    assert fresh_plane.kubectl("get", "deployments", "-A", "-o", "name").stdout.strip() == ""
    webhooks = fresh_plane.kubectl("get", "validatingwebhookconfigurations", "-o", "name").stdout
    assert "shunter" not in webhooks


def _operator_injects_its_ca(plane: ControlPlane, tmp_path: Path) -> None:
    """The operator, run with the chart's admission settings (outside the cluster: there is
    no kubelet), makes the self-signed certificate Secret and injects the CA bundle into the
    configurations the chart installed."""
    out = plane.kubectl("get", "deployment", "shunter", "-n", "shunter-system", "-o", "json")
    deployment = json.loads(out.stdout)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {
        e["name"]: e["value"] for e in container["env"] if e["name"].startswith("SHUNTER_ADMISSION")
    }
    env["SHUNTER_ADMISSION_ADDRESS"] = f"127.0.0.1:{free_port()}"
    operator = OperatorProcess(
        plane.operator_kubeconfig_path, tmp_path / "work", tmp_path / "operator.log",
        env=env, args=("--namespace", "demo"), admission=False,
    )  # fmt: skip
    with operator:

        def bundle() -> bytes | None:
            found = plane.kubectl(
                "get", "secret", "shunter-webhook-tls", "-n", "shunter-system",
                "-o", "jsonpath={.data.ca\\.crt}", check=False,
            )  # fmt: skip
            return (
                base64.b64decode(found.stdout) if found.returncode == 0 and found.stdout else None
            )

        ca = wait_for(
            bundle, timeout=60, what="the webhook certificate Secret", details=operator.log
        )

        def injected() -> bool:
            for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
                out = plane.kubectl("get", kind, "shunter", "-o", "json").stdout
                hooks = json.loads(out)["webhooks"]
                if {h["clientConfig"].get("caBundle") for h in hooks} != {
                    base64.b64encode(ca).decode()
                }:
                    return False
            return True

        wait_for(
            injected, timeout=60, what="the CA bundle in both configurations", details=operator.log
        )


# -- the Argo CD example ------------------------------------------------------------------------


def _applications() -> dict[str, dict[str, Any]]:
    folder = ROOT / "examples" / "argocd"
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))}


def test_argocd_example_values_render_with_the_chart(helm: Any, tmp_path: Path) -> None:
    app = _applications()["shunter.yaml"]
    assert app["kind"] == "Application"
    source = app["spec"]["source"]
    assert source["path"] == "charts/shunter"
    values = source["helm"]["valuesObject"]
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, value in values.items():  # a typo would be ignored silently by helm
        assert key in defaults, key
        if isinstance(value, dict):
            assert set(value) <= set(defaults[key]), key
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    out = helm(
        "template", "shunter", str(CHART), "--namespace", app["spec"]["destination"]["namespace"],
        "--kube-version", KUBE_VERSION, "-f", str(values_file),
    ).stdout  # fmt: skip
    kinds = _kinds([d for d in yaml.safe_load_all(out) if d])
    names = {n["metadata"]["name"] for n in kinds["Namespace"]}
    assert names == {"sandbox-example", "kargo-system-resources"}
    (deployment,) = kinds["Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/platform/shunter:0.1.0"


def test_argocd_pipeline_example_syncs_the_seed_with_the_project_first() -> None:
    app = _applications()["seed-pipeline.yaml"]
    source = app["spec"]["source"]
    seed = ROOT / source["path"]
    assert seed.is_dir()
    waves: dict[str, str] = {}
    for path in sorted(seed.glob(source["directory"]["include"])):
        # The seed keeps the story's trailing tabs, which Go's YAML accepts and PyYAML does not.
        text = "\n".join(line.rstrip() for line in path.read_text().splitlines())
        for doc in yaml.safe_load_all(text):
            if doc:
                annotations = doc["metadata"].get("annotations") or {}
                waves[doc["kind"]] = annotations.get("argocd.argoproj.io/sync-wave", "0")
    assert waves == {
        "Project": "-1",
        "Warehouse": "0",
        "PromotionTask": "0",
        "Stage": "0",
    }
    assert "retry" in app["spec"]["syncPolicy"]
