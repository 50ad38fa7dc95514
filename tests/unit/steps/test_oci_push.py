"""Tests of the ``oci-push`` step against real registries (htpasswd auth)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.promotion.step import Capabilities, StepContext, StepResult, TerminalStepError
from shunter.steps.oci_push import OCIPushConfig, OCIPushStep, split_annotations
from shunter_devenv.registry import Registry

USER = "pusher"
PASSWORD = "push-Secret-4d1e"
OTHER_USER = "other"
OTHER_PASSWORD = "other-Secret-88b0"
CREATED = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)


def entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with Registry(users={USER: PASSWORD}) as reg:
        yield reg


@pytest.fixture(scope="module")
def other() -> Iterator[Registry]:
    with Registry(users={OTHER_USER: OTHER_PASSWORD}) as reg:
        yield reg


def with_creds(
    ctx: StepContext, registry: Registry, other: Registry, password: str = PASSWORD
) -> StepContext:
    """Image credentials for every repository of ``registry``'s tests, helm ones for ``other``."""
    mine = Credentials(USER, SecretStr(password))
    theirs = Credentials(OTHER_USER, SecretStr(OTHER_PASSWORD))
    table: dict[tuple[CredentialType, str], Credentials] = {}
    for repo in ("src/app", "dst/app", "src/multi", "dst/multi", "src/app2"):
        table[CredentialType.IMAGE, f"{registry.host}/{repo}"] = mine
    for repo in ("copy/app", "copy/multi"):
        table[CredentialType.HELM, f"oci://{other.host}/{repo}"] = theirs
    database = StaticCredentialsDatabase(table)
    return dataclasses.replace(ctx, capabilities=Capabilities(credentials=database))


async def run(ctx: StepContext, raw: dict[str, object], **kwargs: int) -> StepResult:
    config = OCIPushConfig.model_validate(raw)
    return await OCIPushStep(**kwargs).run(ctx, config)


async def test_retag_within_a_registry_keeps_the_digest(
    registry: Registry, other: Registry, ctx: StepContext, work_dir: Path
) -> None:
    digest = registry.push_image("src/app", "1.0.0", CREATED)
    raw = {
        "srcRef": registry.image("src/app", "1.0.0"),
        "destRef": registry.image("dst/app", "prod"),
    }
    registry.reset_requests()
    result = await run(with_creds(ctx, registry, other), raw)
    assert result.status == PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "image": registry.image("dst/app", "prod"),
        "digest": digest,
        "tag": "prod",
    }
    assert registry.get_manifest("dst/app", "prod").digest == digest
    # Config and layer were mounted (201), not uploaded: no blob PUT, no blob GET.
    assert registry.request_count("blob-upload", method="POST", status=201) == 2
    assert registry.request_count("blob-upload", method="PUT") == 0
    assert registry.request_count("blob", method="GET") == 0
    assert entries(work_dir) == []


async def test_push_to_a_second_registry_by_digest_with_annotations(
    registry: Registry, other: Registry, ctx: StepContext, work_dir: Path
) -> None:
    digest = registry.push_image("src/app", "2.0.0", CREATED)
    raw = {
        "srcRef": f"{registry.host}/src/app@{digest}",
        "destRef": f"oci://{other.host}/copy/app:v2",
        "annotations": {"org.opencontainers.image.source": "https://example.test/app"},
    }
    other.reset_requests()
    result = await run(with_creds(ctx, registry, other), raw)
    assert result.status == PromotionStepStatus.SUCCEEDED
    assert other.request_count("blob-upload", method="PUT", status=201) == 2
    copied = other.get_manifest("copy/app", "v2")
    assert result.output["digest"] == copied.digest != digest
    assert result.output["image"] == f"{other.host}/copy/app:v2"
    document = copied.json()
    assert document["annotations"] == {
        "org.opencontainers.image.source": "https://example.test/app"
    }
    source = registry.get_manifest("src/app", digest).json()
    assert document["layers"] == source["layers"]
    for blob in [source["config"], *source["layers"]]:
        assert other.pusher.get_blob("copy/app", blob["digest"]) == registry.pusher.get_blob(
            "src/app", blob["digest"]
        )
    assert entries(work_dir) == []  # the temporary blob folder is gone

    # Without annotations a cross-registry copy is byte for byte.
    raw = {
        "srcRef": registry.image("src/app", "2.0.0"),
        "destRef": f"oci://{other.host}/copy/app:plain",
    }
    result = await run(with_creds(ctx, registry, other), raw)
    assert result.output["digest"] == digest


async def test_index_with_scoped_annotations(
    registry: Registry, other: Registry, ctx: StepContext
) -> None:
    index_digest = registry.push_index("src/multi", "1.0", ["linux/amd64", "linux/arm64"], CREATED)
    raw = {
        "srcRef": registry.image("src/multi", "1.0"),
        "destRef": f"oci://{other.host}/copy/multi:1.0",
        "annotations": {"index:team": "platform", "manifest:stage": "prod", "built": "yes"},
    }
    result = await run(with_creds(ctx, registry, other), raw)
    index = other.get_manifest("copy/multi", "1.0")
    assert result.output["digest"] == index.digest != index_digest
    document = index.json()
    assert document["annotations"] == {"team": "platform"}
    assert len(document["manifests"]) == 2
    for entry in document["manifests"]:
        child = other.get_manifest("copy/multi", entry["digest"])
        assert child.json()["annotations"] == {"stage": "prod", "built": "yes"}
        assert len(child.body) == entry["size"]

    # Unannotated, within the same registry: the index digest is kept.
    raw = {
        "srcRef": registry.image("src/multi", "1.0"),
        "destRef": registry.image("dst/multi", "x"),
    }
    result = await run(with_creds(ctx, registry, other), raw)
    assert result.output["digest"] == index_digest


async def test_size_limit_applies_across_repositories(
    registry: Registry, other: Registry, ctx: StepContext
) -> None:
    registry.push_image("src/app", "big", CREATED)
    raw = {"srcRef": registry.image("src/app", "big"), "destRef": registry.image("dst/app", "big")}
    with pytest.raises(TerminalStepError, match="exceeds the maximum of 10 bytes"):
        await run(with_creds(ctx, registry, other), raw, max_artifact_bytes=10)
    with pytest.raises(TerminalStepError, match="cross-repository push is disabled"):
        await run(with_creds(ctx, registry, other), raw, max_artifact_bytes=0)
    assert "big" not in registry.list_tags("dst/app")
    # Retagging inside the same repository is not limited.
    same = {"srcRef": raw["srcRef"], "destRef": registry.image("src/app", "big-copy")}
    result = await run(with_creds(ctx, registry, other), same, max_artifact_bytes=0)
    assert result.status == PromotionStepStatus.SUCCEEDED


async def test_bad_references_are_terminal(
    registry: Registry, other: Registry, ctx: StepContext
) -> None:
    src = registry.image("src/app", "1.0.0")
    registry.push_image("src/app", "1.0.0", CREATED)
    for dest in (registry.image("dst/app"), f"{registry.host}/dst/app@sha256:{'0' * 64}"):
        with pytest.raises(TerminalStepError, match="must name a tag"):
            await run(with_creds(ctx, registry, other), {"srcRef": src, "destRef": dest})
    with pytest.raises(TerminalStepError, match="not a valid OCI artifact reference"):
        await run(with_creds(ctx, registry, other), {"srcRef": "UPPER/../x", "destRef": src})
    missing = registry.image("src/app", "no-such-tag")
    with pytest.raises(TerminalStepError, match="not found"):
        await run(with_creds(ctx, registry, other), {"srcRef": missing, "destRef": src})


async def test_wrong_password_is_terminal_and_secret_free(
    registry: Registry, other: Registry, ctx: StepContext
) -> None:
    wrong = "Wrong-Push-Pass-1a2b"
    registry.push_image("src/app2", "1", CREATED)
    raw = {"srcRef": registry.image("src/app2", "1"), "destRef": registry.image("dst/app", "w")}
    with pytest.raises(TerminalStepError) as caught:
        await run(with_creds(ctx, registry, other, wrong), raw)
    message = str(caught.value)
    assert "refused the credentials" in message
    assert wrong not in message
    assert PASSWORD not in message


def test_split_annotations() -> None:
    assert split_annotations({"index:a": "1", "manifest:b": "2", "c": "3"}) == (
        {"a": "1"},
        {"b": "2", "c": "3"},
    )
    assert split_annotations(None) == ({}, {})


def test_config_keys() -> None:
    config = OCIPushConfig.model_validate(
        {"srcRef": "a/b:1", "destRef": "a/c:2", "insecureSkipTLSVerify": True}
    )
    assert config.insecure_skip_tls_verify is True
    with pytest.raises(ValueError, match="destRef"):
        OCIPushConfig.model_validate({"srcRef": "a/b:1"})
    assert json.loads(config.model_dump_json(by_alias=True))["srcRef"] == "a/b:1"


async def test_token_auth_registry(ctx: StepContext, work_dir: Path) -> None:
    """Bearer tokens with ``pull,push`` scope: the blobs are mounted, then the tag put."""
    with Registry(users={USER: PASSWORD}, auth="token") as tokens:
        digest = tokens.push_image("src/app", "1", CREATED)
        creds = Credentials(USER, SecretStr(PASSWORD))
        database = StaticCredentialsDatabase(
            {
                (CredentialType.IMAGE, f"{tokens.host}/src/app"): creds,
                (CredentialType.IMAGE, f"{tokens.host}/dst/app"): creds,
            }
        )
        token_ctx = dataclasses.replace(ctx, capabilities=Capabilities(credentials=database))
        raw = {"srcRef": tokens.image("src/app", "1"), "destRef": tokens.image("dst/app", "2")}
        result = await run(token_ctx, raw)
        assert result.output["digest"] == digest
        assert tokens.get_manifest("dst/app", "2").digest == digest
        assert tokens.request_count("blob-upload", method="PUT") == 0
        assert tokens.request_count("token") > 0
    assert entries(work_dir) == []
