"""Deleting a Stage removes it from every Freight's currentlyIn, verifiedIn and approvedFor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shunter.freight import freight_id
from shunter_devenv.cluster import Cluster
from shunter_devenv.operator import OperatorProcess
from shunter_devenv.waiting import wait_for

NS = "stage-deletion"


def test_deleted_stage_is_forgotten_by_freight(kube: Cluster, tmp_path: Path) -> None:
    images = [{"repoURL": "127.0.0.1:1/app", "tag": "1.0.0", "digest": "sha256:" + "ab" * 32}]
    name = freight_id("Warehouse", "w", [], images, [])
    operator = OperatorProcess(
        kube.operator_kubeconfig_path,
        tmp_path / "work",
        tmp_path / "operator.log",
        args=("--namespace", NS),
    )
    with operator:
        kube.create_project(NS, details=operator.log)
        # Freight comes from an existing Warehouse (the admission webhook checks its origin).
        warehouse = {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "w", "namespace": NS},
            "spec": {
                "freightCreationPolicy": "Manual",
                "interval": "1h",
                "subscriptions": [{"image": {"repoURL": images[0]["repoURL"]}}],
            },
        }
        kube.apply(json.dumps(warehouse), server_side=False)
        for stage in ("gone", "kept"):
            kube.apply(
                json.dumps(
                    {
                        "apiVersion": "kargo.akuity.io/v1alpha1",
                        "kind": "Stage",
                        "metadata": {"name": stage, "namespace": NS},
                        "spec": {
                            "requestedFreight": [
                                {
                                    "origin": {"kind": "Warehouse", "name": "w"},
                                    "sources": {"stages": ["upstream"]},
                                }
                            ]
                        },
                    }
                ),
                server_side=False,
            )
        kube.apply(
            json.dumps(
                {
                    "apiVersion": "kargo.akuity.io/v1alpha1",
                    "kind": "Freight",
                    "metadata": {"name": name, "namespace": NS},
                    "alias": "to-forget",
                    "origin": {"kind": "Warehouse", "name": "w"},
                    "images": images,
                }
            ),
            server_side=False,
        )
        status = {
            "status": {
                "verifiedIn": {"gone": {}, "kept": {}},
                "approvedFor": {"gone": {}},
                "currentlyIn": {"gone": {}},
            }
        }
        kube.kubectl(
            "patch", "freight", name, "-n", NS, "--subresource=status", "--type=merge",
            "-p", json.dumps(status),
        )  # fmt: skip
        kube.kubectl("delete", "stage", "gone", "-n", NS)

        def freight_status() -> dict[str, Any]:
            out = kube.kubectl("get", "freight", name, "-n", NS, "-o", "json").stdout
            return dict(json.loads(out).get("status") or {})

        def forgotten() -> bool:
            st = freight_status()
            return all("gone" not in (st.get(k) or {}) for k in st)

        wait_for(forgotten, what="the deleted Stage to be forgotten", details=operator.log)
        assert "kept" in freight_status()["verifiedIn"]
