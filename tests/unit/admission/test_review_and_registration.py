"""AdmissionReview parsing and answers, JSON patches, request actors, configuration bodies."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shunter._internal.jsondiff import json_patch, merge_patch
from shunter.admission.context import stamp_request_actor
from shunter.admission.registration import ClientConfig, configurations
from shunter.admission.review import (
    AdmissionError,
    AdmissionRequest,
    FieldError,
    UserInfo,
    Verdict,
    invalid,
)
from shunter.admission.webhooks import WEBHOOKS


def _review(**request: Any) -> dict[str, Any]:
    base = {
        "uid": "u-1",
        "kind": {"group": "kargo.akuity.io", "version": "v1alpha1", "kind": "Freight"},
        "resource": {"resource": "freights"},
        "operation": "CREATE",
        "namespace": "team",
        "userInfo": {"username": "alice", "groups": ["devs"], "extra": {"scopes": ["a"]}},
        "object": {"metadata": {"name": "x"}},
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": base | request,
    }


def test_request_is_parsed() -> None:
    request = AdmissionRequest.from_review(_review(dryRun=True, subResource="status"))
    assert (request.uid, request.kind, request.operation, request.namespace) == (
        "u-1",
        "Freight",
        "CREATE",
        "team",
    )
    assert request.user == UserInfo("alice", ("devs",), "", {"scopes": ["a"]})
    assert request.dry_run
    assert request.sub_resource == "status"
    assert request.current == {"metadata": {"name": "x"}}
    assert AdmissionRequest.from_review(_review(object=None, oldObject={"a": 1})).current == {
        "a": 1
    }


@pytest.mark.parametrize("review", [{}, {"kind": "AdmissionReview"}, _review(uid="")])
def test_what_is_not_a_review_is_refused(review: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"AdmissionReview|uid"):
        AdmissionRequest.from_review(review)


def test_answers_carry_the_uid_a_status_and_a_patch() -> None:
    request = AdmissionRequest.from_review(_review())
    denial = invalid("Freight", "x", [FieldError("alias", "already used", "a-b")])
    answer = Verdict(allowed=False, denial=denial).response(request)["response"]
    assert answer == {
        "uid": "u-1",
        "allowed": False,
        "status": {
            "code": 422,
            "reason": "Invalid",
            "message": 'Freight "x" is invalid: alias: Invalid value: "a-b": already used',
        },
    }
    patched = Verdict(mutated={"metadata": {"name": "y", "labels": {"a/b": "c"}}}).response(request)
    ops = json.loads(base64.b64decode(patched["response"]["patch"]))
    assert patched["response"]["patchType"] == "JSONPatch"
    assert ops == [
        {"op": "replace", "path": "/metadata/name", "value": "y"},
        {"op": "add", "path": "/metadata/labels", "value": {"a/b": "c"}},
    ]
    assert "patch" not in Verdict(mutated=request.object).response(request)["response"]


def test_json_patch_and_merge_patch_escape_and_remove() -> None:
    before = {"metadata": {"annotations": {"k/x": "1", "gone": "2"}}, "spec": [1]}
    after = {"metadata": {"annotations": {"k/x": "3", "t~": "4"}}, "spec": [2]}
    assert json_patch(before, after) == [
        {"op": "remove", "path": "/metadata/annotations/gone"},
        {"op": "replace", "path": "/metadata/annotations/k~1x", "value": "3"},
        {"op": "add", "path": "/metadata/annotations/t~0", "value": "4"},
        {"op": "replace", "path": "/spec", "value": [2]},
    ]
    assert merge_patch(before, after) == {
        "metadata": {"annotations": {"gone": None, "k/x": "3", "t~": "4"}},
        "spec": [2],
    }
    assert merge_patch(after, after) == {}


def test_abort_and_reverify_requests_record_the_user() -> None:
    bob = UserInfo("bob")
    stamped = stamp_request_actor("terminate", None, key="action", user=bob, from_operator=False)
    assert json.loads(stamped or "") == {
        "action": "terminate",
        "actor": "kubernetes:bob",
        "controlPlane": False,
    }
    assert (
        stamp_request_actor(stamped, stamped, key="action", user=bob, from_operator=False) is None
    )
    by_operator = stamp_request_actor(
        '{"id": "v1", "actor": "admin"}', None, key="id", user=bob, from_operator=True
    )
    assert json.loads(by_operator or "") == {"id": "v1", "actor": "admin", "controlPlane": True}
    assert stamp_request_actor(None, "x", key="id", user=bob, from_operator=False) is None


def test_a_restricted_operator_registers_only_its_namespaces() -> None:
    client = ClientConfig(ca_bundle=b"CA", url="https://127.0.0.1:9443/")
    mutating, validating = configurations("dev", client, namespaces=["b", "a"])
    assert mutating["kind"] == "MutatingWebhookConfiguration"
    names = [w["name"] for w in validating["webhooks"]]
    assert "clusterconfig.kargo.akuity.io" not in names
    assert "clusterpromotiontask.kargo.akuity.io" not in names
    for webhook in mutating["webhooks"] + validating["webhooks"]:
        assert webhook["failurePolicy"] == "Fail"
        assert webhook["clientConfig"]["url"].startswith("https://127.0.0.1:9443/")
        assert base64.b64decode(webhook["clientConfig"]["caBundle"]) == b"CA"
        if webhook["name"] == "project.kargo.akuity.io":
            assert webhook["matchConditions"][0]["expression"] == 'request.name in ["a", "b"]'
        else:
            assert webhook["namespaceSelector"]["matchExpressions"] == [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["a", "b"]}
            ]


def test_a_cluster_wide_operator_excludes_kube_system() -> None:
    client = ClientConfig(service_namespace="ops", service_name="hooks")
    mutating, validating = configurations("prod", client, exclude_namespaces=["kube-system", "ops"])
    assert len(mutating["webhooks"]) + len(validating["webhooks"]) == len(WEBHOOKS)
    stage = next(w for w in validating["webhooks"] if w["name"] == "stage.kargo.akuity.io")
    assert stage["clientConfig"] == {
        "service": {
            "namespace": "ops",
            "name": "hooks",
            "path": stage["clientConfig"]["service"]["path"],
            "port": 443,
        }
    }
    assert stage["namespaceSelector"]["matchExpressions"][0]["operator"] == "NotIn"
    assert stage["clientConfig"]["service"]["path"] == "/validate-kargo-akuity-io-v1alpha1-stage"
    project = next(w for w in validating["webhooks"] if w["name"] == "project.kargo.akuity.io")
    assert "namespaceSelector" not in project
    assert "matchConditions" not in project


def test_admission_errors_keep_their_status() -> None:
    error = AdmissionError(409, "Conflict", "taken")
    assert (error.code, error.reason, str(error)) == (409, "Conflict", "taken")
