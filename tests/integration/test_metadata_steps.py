"""set-metadata and set-freight-alias against a real kube-apiserver with the Kargo CRDs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shunter.api.v1alpha1.common import FreightCollection, FreightReference
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import StaticCredentialsDatabase
from shunter.kube import KubeClient
from shunter.promotion.step import (
    Capabilities,
    StepContext,
    StepError,
    StepResult,
    StepRunner,
    TerminalStepError,
)
from shunter.steps.set_freight_alias import SetFreightAliasStep
from shunter.steps.set_metadata import SetMetadataStep
from shunter_devenv.cluster import Cluster

ALIAS_LABEL = "kargo.akuity.io/alias"


@pytest.fixture
def ctx(client: KubeClient, namespace: str, tmp_path: Path) -> StepContext:
    return StepContext(
        project=namespace,
        stage="test",
        promotion="promo-1",
        alias="step-1",
        work_dir=tmp_path,
        capabilities=Capabilities(credentials=StaticCredentialsDatabase(), extras={"kube": client}),
        target_freight=FreightReference(),
        freight=FreightCollection(id="fc"),
    )


def freight(namespace: str, name: str, alias: str | None = None) -> str:
    body: dict[str, Any] = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {"name": name, "namespace": namespace},
        "origin": {"kind": "Warehouse", "name": "w"},
        "images": [{"repoURL": "example/app", "tag": "1.0.0"}],
    }
    if alias:
        body["alias"] = alias
        body["metadata"]["labels"] = {ALIAS_LABEL: alias}
    return json.dumps(body)


def stage(namespace: str, name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"direct": True}}
                ]
            },
        }
    )


async def run(step: type[StepRunner], ctx: StepContext, raw: dict[str, Any]) -> StepResult:
    config = step.config_model.model_validate(raw)
    return await step().run(ctx, config)


async def test_set_metadata_merges_into_status(
    kube: Cluster, namespace: str, client: KubeClient, ctx: StepContext
) -> None:
    kube.apply(stage(namespace, "uat"))
    kube.apply(freight(namespace, "f1"))
    await client.patch_custom(
        namespace,
        "stages",
        "uat",
        {"status": {"metadata": {"keep": "me", "nested": {"a": 1, "b": 2}}}},
        status=True,
    )
    result = await run(
        SetMetadataStep,
        ctx,
        {
            "updates": [
                {
                    "kind": "Stage",
                    "name": "uat",
                    "values": {"nested": {"a": 3}, "list": [1, "x"], "flag": True},
                },
                {"kind": "Freight", "name": "f1", "values": {"approvedBy": "alice"}},
            ]
        },
    )
    assert result.status is PromotionStepStatus.SUCCEEDED
    got_stage = await client.get_custom(namespace, "stages", "uat")
    assert got_stage["status"]["metadata"] == {
        "keep": "me",
        "nested": {"a": 3},  # replaced whole, as Kargo does
        "list": [1, "x"],
        "flag": True,
    }
    assert got_stage["spec"]["requestedFreight"][0]["origin"]["name"] == "w"
    got_freight = await client.get_custom(namespace, "freights", "f1")
    assert got_freight["status"]["metadata"] == {"approvedBy": "alice"}
    again = await run(
        SetMetadataStep,
        ctx,
        {"updates": [{"kind": "Freight", "name": "f1", "values": {"approvedBy": "alice"}}]},
    )
    assert again.status is PromotionStepStatus.SUCCEEDED


async def test_set_metadata_missing_object(kube: Cluster, namespace: str, ctx: StepContext) -> None:
    with pytest.raises(StepError, match=f"Stage 'ghost' in project '{namespace}' not found"):
        await run(
            SetMetadataStep,
            ctx,
            {"updates": [{"kind": "Stage", "name": "ghost", "values": {"k": "v"}}]},
        )
    with pytest.raises(StepError, match=r"Freight 'ghost'.*not found"):
        await run(
            SetMetadataStep,
            ctx,
            {"updates": [{"kind": "Freight", "name": "ghost", "values": {"k": "v"}}]},
        )


async def test_set_freight_alias(
    kube: Cluster, namespace: str, client: KubeClient, ctx: StepContext
) -> None:
    kube.apply(freight(namespace, "f1", "old-alias"))
    kube.apply(freight(namespace, "f2", "taken-alias"))
    result = await run(SetFreightAliasStep, ctx, {"name": "f1", "alias": "release-1.0"})
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert "'old-alias' to 'release-1.0'" in result.message
    got = await client.get_custom(namespace, "freights", "f1")
    assert got["alias"] == "release-1.0"
    assert got["metadata"]["labels"][ALIAS_LABEL] == "release-1.0"
    # Setting the alias it already has is fine.
    same = await run(SetFreightAliasStep, ctx, {"name": "f1", "alias": "release-1.0"})
    assert same.status is PromotionStepStatus.SUCCEEDED
    with pytest.raises(TerminalStepError, match="already used by Freight 'f2'") as caught:
        await run(SetFreightAliasStep, ctx, {"name": "f1", "alias": "taken-alias"})
    assert caught.value.failed
    assert (await client.get_custom(namespace, "freights", "f1"))["alias"] == "release-1.0"
    with pytest.raises(TerminalStepError, match=r"Freight 'ghost'.*not found"):
        await run(SetFreightAliasStep, ctx, {"name": "ghost", "alias": "free-alias"})
