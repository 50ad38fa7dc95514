"""How long ``shunter get stages`` takes, next to kubectl and a bare Python script, in one run.

Starts the local control plane with the CRDs and a project of 12 Stages, then runs each command
RUNS times (default 11) as a new process, the way a user runs it, and prints the median, the
fastest and the ratio to kubectl and to the bare limit:

* ``shunter get stages -n bench`` (the console script of this virtualenv);
* ``kubectl get stages -n bench`` (the binary the tests use; its discovery cache warmed first);
* the bare limit: a plain Python script doing the same work (read the kubeconfig YAML, one TLS
  request with the token, print the names), i.e. interpreter start-up, yaml, ssl and one GET.

Each command runs once before the timed runs so that Python's bytecode cache and kubectl's
discovery cache exist, as they do on a user's machine (``PYTHONDONTWRITEBYTECODE`` is unset
for the shunter and bare runs for that reason).

Measured (2 cores shared with other work, medians of 11): shunter 0.13 s, kubectl 0.07 s,
bare script 0.09 s: shunter is 1.9x kubectl and 1.4x the bare limit (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shunter_devenv.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[1]
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 11
PROJECT = "bench"
STAGES = 12

BARE = """
import base64, http.client, json, ssl, sys
import yaml
config = yaml.load(open(sys.argv[1]), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
cluster = config["clusters"][0]["cluster"]
token = config["users"][0]["user"]["token"]
host, port = cluster["server"].removeprefix("https://").rsplit(":", 1)
ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
connection = http.client.HTTPSConnection(
    host, int(port), context=ssl.create_default_context(cadata=ca)
)
connection.request(
    "GET",
    f"/apis/kargo.akuity.io/v1alpha1/namespaces/{sys.argv[2]}/stages",
    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
)
items = json.loads(connection.getresponse().read())["items"]
print("NAME")
for item in items:
    print(item["metadata"]["name"])
"""


def _objects() -> str:
    docs: list[dict[str, object]] = [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Project",
            "metadata": {"name": PROJECT},
        },
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PROJECT}},
    ]
    for index in range(STAGES):
        sources = {"direct": True} if index == 0 else {"stages": [f"stage-{index - 1:02d}"]}
        docs.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Stage",
                "metadata": {"name": f"stage-{index:02d}", "namespace": PROJECT},
                "spec": {
                    "requestedFreight": [
                        {"origin": {"kind": "Warehouse", "name": "images"}, "sources": sources}
                    ],
                    "promotionTemplate": {"spec": {"steps": [{"uses": "git-clone"}]}},
                },
            }
        )
    return "\n---\n".join(json.dumps(d) for d in docs)


def _time(argv: list[str], env: dict[str, str]) -> list[float]:
    subprocess.run(argv, env=env, check=True, capture_output=True)  # warm the caches
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    shunter = str(Path(sys.executable).with_name("shunter"))
    with ControlPlane() as plane, tempfile.TemporaryDirectory() as tmp:
        plane.install_crds(ROOT / "crds")
        plane.apply(_objects())
        kubeconfig = str(plane.kubeconfig_path)
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        kubectl = [
            str(plane.bin_dir / "kubectl"),
            "--kubeconfig", kubeconfig, "--cache-dir", str(Path(tmp) / "kube-cache"),
        ]  # fmt: skip
        commands = {
            "shunter get stages": [
                shunter,
                "--kubeconfig",
                kubeconfig,
                "get",
                "stages",
                "-n",
                PROJECT,
            ],
            "kubectl get stages": [*kubectl, "get", "stages", "-n", PROJECT],
            "bare Python script": [sys.executable, str(bare), kubeconfig, PROJECT],
        }
        results = {name: _time(argv, env) for name, argv in commands.items()}
    medians = {name: statistics.median(times) for name, times in results.items()}
    print(f"{RUNS} runs each, {STAGES} Stages, local kube-apiserver (seconds)")
    print(f"{'command':<22} {'median':>7} {'fastest':>8} {'x kubectl':>10} {'x bare':>7}")
    for name, times in results.items():
        median = medians[name]
        print(
            f"{name:<22} {median:7.3f} {min(times):8.3f} "
            f"{median / medians['kubectl get stages']:10.2f} "
            f"{median / medians['bare Python script']:7.2f}"
        )


if __name__ == "__main__":
    main()
