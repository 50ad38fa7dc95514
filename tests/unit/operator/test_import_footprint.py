"""What the operator process imports: the Kubernetes client library's generated API and model
classes only when used, the admission webhooks' server (``cryptography``) only when the
webhooks are served, and the webhook receivers' server only when receivers are served. Each
check runs in a fresh interpreter (pytest has imported more)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
{setup}
mods = set(sys.modules)
print(json.dumps({{
    "kubernetes_asyncio": len([m for m in mods if m.startswith("kubernetes_asyncio.")]),
    "models": sorted(m for m in mods if m.startswith("kubernetes_asyncio.client.models.")),
    "apis": sorted(m for m in mods if m.startswith("kubernetes_asyncio.client.api.")),
    "cryptography": "cryptography" in mods,
    "receiver_server": "shunter.receivers.server" in mods or "aiohttp.web" in mods,
    "extra": {extra},
}}))
"""


def _probe(setup: str, extra: str = "None") -> dict[str, object]:
    code = _PROBE.format(setup=setup, extra=extra)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    found: dict[str, object] = json.loads(result.stdout)
    return found


def test_the_operator_imports_no_generated_api_or_model_it_does_not_use() -> None:
    found = _probe("import shunter.cli, shunter.operator.app")
    # The HTTP client, its configuration, kubeconfig loading and leader election (whose Lease
    # lock names the Lease models): a few dozen modules, not the library's ~850.
    assert found["apis"] == []
    assert set(found["models"]) <= {  # type: ignore[arg-type]
        "kubernetes_asyncio.client.models.v1_lease",
        "kubernetes_asyncio.client.models.v1_lease_spec",
        "kubernetes_asyncio.client.models.v1_object_meta",
    }
    assert found["kubernetes_asyncio"] < 60  # type: ignore[operator]


@pytest.mark.parametrize(
    ("package", "name", "module", "marker"),
    [
        # The admission webhooks' server and certificates (cryptography).
        ("shunter.admission", "AdmissionService", "shunter.admission.service", "cryptography"),
        # The webhook receivers' server (aiohttp.web, the providers).
        ("shunter.receivers", "ReceiverServer", "shunter.receivers.server", "receiver_server"),
    ],
)
def test_a_server_is_imported_only_when_the_operator_serves_it(
    package: str, name: str, module: str, marker: str
) -> None:
    assert _probe("import shunter.cli, shunter.operator.app")[marker] is False
    served = _probe(
        f"import shunter.operator.app\nfrom {package} import {name}", extra=f"{name}.__module__"
    )
    assert served[marker] is True
    assert served["extra"] == module


def test_every_name_the_library_exports_still_resolves() -> None:
    found = _probe(
        "import shunter.kube\n"
        "import kubernetes_asyncio, kubernetes_asyncio.client as k8s\n"
        "from kubernetes_asyncio.client import V1Pod, CoreV1Api, ApiClient, ApiException\n"
        "from kubernetes_asyncio.client.models import V1ConfigMap\n"
        "assert kubernetes_asyncio.client is k8s and k8s.V1Pod is V1Pod\n"
        "assert V1Pod.__module__ == 'kubernetes_asyncio.client.models.v1_pod'\n"
        "assert CoreV1Api.__module__ == 'kubernetes_asyncio.client.api.core_v1_api'\n"
        "assert k8s.__version__ and 'V1Pod' in dir(k8s) and 'V1Pod' in k8s.__all__\n"
        "assert kubernetes_asyncio.watch.Watch and kubernetes_asyncio.config.ConfigException\n"
        "try:\n"
        "    k8s.NoSuchThing\n"
        "except AttributeError as exc:\n"
        "    assert 'NoSuchThing' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no error')\n",
        extra="sorted(m.rsplit('.', 1)[1] for m in mods if '.client.models.' in m)",
    )
    # Exactly the models asked for (and what they refer to), nothing else.
    assert "v1_pod" in found["extra"]  # type: ignore[operator]
    assert "v1_config_map" in found["extra"]  # type: ignore[operator]
    assert "v1_deployment" not in found["extra"]  # type: ignore[operator]
    assert found["apis"] == ["kubernetes_asyncio.client.api.core_v1_api"]


def test_a_star_import_still_gets_every_name() -> None:
    found = _probe(
        "import shunter.kube\nfrom kubernetes_asyncio.client import *\n"
        "assert V1Deployment and AppsV1Api\n",
    )
    assert len(found["models"]) > 500  # type: ignore[arg-type]
