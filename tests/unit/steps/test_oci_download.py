"""Tests of the ``oci-download`` step against a real registry (htpasswd auth)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.credentials.types import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.promotion.step import Capabilities, StepContext, StepError, TerminalStepError
from shunter.steps.oci_download import OCIDownloadConfig, OCIDownloadStep
from shunter_devenv.registry import Registry

USER = "puller"
PASSWORD = "dl-Secret-7f3a"
CHART_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
PROV_TYPE = "application/vnd.cncf.helm.chart.provenance.v1.prov"
CONFIG_TYPE = "application/vnd.cncf.helm.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CHART = b"chart-bytes " * 1000
PROV = b"provenance of the chart\n"


def _canonical(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_chart(registry: Registry, repo: str, tag: str) -> str:
    """A Helm-chart-like artifact: config + chart layer + provenance layer; its digest."""
    pusher = registry.pusher
    config = b"{}"
    layers = [(CHART_TYPE, CHART), (PROV_TYPE, PROV)]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG_TYPE, "digest": pusher.push_blob(repo, config), "size": 2},
        "layers": [
            {"mediaType": kind, "digest": pusher.push_blob(repo, data), "size": len(data)}
            for kind, data in layers
        ],
    }
    return pusher.push_manifest(repo, tag, _canonical(manifest), OCI_MANIFEST)


@pytest.fixture(scope="module")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oci-download-registry")


@pytest.fixture(scope="module")
def registry(registry_dir: Path) -> Iterator[Registry]:
    with Registry(users={USER: PASSWORD}, workdir=registry_dir) as reg:
        push_chart(reg, "charts/app", "1.0.0")
        yield reg


def with_creds(ctx: StepContext, registry: Registry, password: str = PASSWORD) -> StepContext:
    creds = Credentials(USER, SecretStr(password))
    database = StaticCredentialsDatabase(
        {
            (CredentialType.IMAGE, f"{registry.host}/charts/app"): creds,
            (CredentialType.HELM, f"oci://{registry.host}/images/app"): creds,
            (CredentialType.IMAGE, f"{registry.host}/images/app"): creds,
            (CredentialType.IMAGE, f"{registry.host}/corrupt/app"): creds,
        }
    )
    return dataclasses.replace(ctx, capabilities=Capabilities(credentials=database))


async def run(
    ctx: StepContext, raw: dict[str, object], *, max_bytes: int | None = None
) -> PromotionStepStatus:
    config = OCIDownloadConfig.model_validate(raw)
    step = OCIDownloadStep() if max_bytes is None else OCIDownloadStep(max_bytes=max_bytes)
    return (await step.run(ctx, config)).status


async def test_downloads_the_first_layer_by_tag(
    registry: Registry, ctx: StepContext, work_dir: Path
) -> None:
    ref = registry.image("charts/app", "1.0.0")
    status = await run(with_creds(ctx, registry), {"imageRef": ref, "outPath": "out/chart.tgz"})
    assert status == PromotionStepStatus.SUCCEEDED
    out = work_dir / "out" / "chart.tgz"
    assert out.read_bytes() == CHART
    assert out.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in out.parent.iterdir()] == ["chart.tgz"]  # no temp file left


async def test_downloads_by_digest_with_oci_prefix_and_media_type(
    registry: Registry, ctx: StepContext, work_dir: Path
) -> None:
    digest = registry.get_manifest("charts/app", "1.0.0").digest
    raw = {
        "imageRef": f"oci://{registry.host}/charts/app@{digest}",
        "outPath": "chart.prov",
        "mediaType": PROV_TYPE,
    }
    assert await run(with_creds(ctx, registry), raw) == PromotionStepStatus.SUCCEEDED
    assert (work_dir / "chart.prov").read_bytes() == PROV


async def test_image_index_resolves_to_linux_amd64(
    registry: Registry, ctx: StepContext, work_dir: Path
) -> None:
    created = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    index = registry.push_index("images/app", "multi", ["linux/arm64", "linux/amd64"], created)
    children = json.loads(registry.get_manifest("images/app", index).body)["manifests"]
    amd64 = next(c for c in children if c["platform"]["architecture"] == "amd64")
    layer = json.loads(registry.get_manifest("images/app", amd64["digest"]).body)["layers"][0]
    # oci:// -> helm credentials are found first.
    raw = {"imageRef": f"oci://{registry.image('images/app', 'multi')}", "outPath": "layer.tgz"}
    assert await run(with_creds(ctx, registry), raw) == PromotionStepStatus.SUCCEEDED
    assert _digest((work_dir / "layer.tgz").read_bytes()) == layer["digest"]

    registry.push_index("images/app", "arm-only", ["linux/arm64"], created)
    raw = {"imageRef": registry.image("images/app", "arm-only"), "outPath": "arm.tgz"}
    with pytest.raises(TerminalStepError, match=r"without a linux/amd64 image.*linux/arm64"):
        await run(with_creds(ctx, registry), raw)


async def test_unknown_media_type_and_tag_are_terminal(
    registry: Registry, ctx: StepContext, work_dir: Path
) -> None:
    raw = {"imageRef": registry.image("charts/app", "1.0.0"), "outPath": "x", "mediaType": "a/b"}
    with pytest.raises(TerminalStepError, match="no layer with media type 'a/b'"):
        await run(with_creds(ctx, registry), raw)
    raw = {"imageRef": registry.image("charts/app", "9.9.9"), "outPath": "x"}
    with pytest.raises(TerminalStepError, match="not found"):
        await run(with_creds(ctx, registry), raw)
    assert entries(work_dir) == []


async def test_overwrite_is_refused_unless_allowed(
    registry: Registry, ctx: StepContext, work_dir: Path
) -> None:
    (work_dir / "chart.tgz").write_bytes(b"old")
    raw: dict[str, object] = {"imageRef": registry.image("charts/app", "1.0.0")}
    raw["outPath"] = "chart.tgz"
    with pytest.raises(TerminalStepError, match="already exists"):
        await run(with_creds(ctx, registry), raw)
    assert (work_dir / "chart.tgz").read_bytes() == b"old"
    raw["allowOverwrite"] = True
    assert await run(with_creds(ctx, registry), raw) == PromotionStepStatus.SUCCEEDED
    assert (work_dir / "chart.tgz").read_bytes() == CHART


async def test_path_traversal_is_refused(
    registry: Registry, ctx: StepContext, work_dir: Path, outside: Path
) -> None:
    (work_dir / "link").symlink_to(outside)
    for out in ("../outside/secret.txt", "/etc/passwd", "link/secret.txt"):
        raw = {"imageRef": registry.image("charts/app", "1.0.0"), "outPath": out}
        raw_allow = {**raw, "allowOverwrite": True}
        with pytest.raises(TerminalStepError):
            await run(with_creds(ctx, registry), raw_allow)
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_size_cap_is_enforced(registry: Registry, ctx: StepContext, work_dir: Path) -> None:
    raw = {"imageRef": registry.image("charts/app", "1.0.0"), "outPath": "chart.tgz"}
    with pytest.raises(TerminalStepError, match=r"more than the 100 bytes allowed"):
        await run(with_creds(ctx, registry), raw, max_bytes=100)
    assert entries(work_dir) == []


async def test_corrupted_blob_is_refused(
    registry: Registry, registry_dir: Path, ctx: StepContext, work_dir: Path
) -> None:
    data = b"will be corrupted on disk " * 10
    pusher = registry.pusher
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG_TYPE, "digest": pusher.push_blob("corrupt/app", b"{}")},
        "layers": [
            {"mediaType": CHART_TYPE, "digest": pusher.push_blob("corrupt/app", data)},
        ],
    }
    manifest["config"]["size"] = 2  # type: ignore[index]
    manifest["layers"][0]["size"] = len(data)  # type: ignore[index]
    pusher.push_manifest("corrupt/app", "v1", _canonical(manifest), OCI_MANIFEST)
    # Flip bytes of the stored blob behind the registry's back (same length).
    hexdigest = _digest(data).removeprefix("sha256:")
    storage = next(
        Path(root)
        for root, _dirs, _files in os.walk(registry_dir / "storage")
        if Path(root).name == hexdigest and Path(root).parent.name == hexdigest[:2]
    )
    (storage / "data").write_bytes(data.upper())
    raw = {"imageRef": registry.image("corrupt/app", "v1"), "outPath": "bad.tgz"}
    with pytest.raises(StepError, match="wrong content"):
        await run(with_creds(ctx, registry), raw)
    assert entries(work_dir) == []


async def test_wrong_password_is_terminal_and_secret_free(
    registry: Registry, ctx: StepContext, work_dir: Path
) -> None:
    wrong = "Wrong-Pass-91c2"
    raw = {"imageRef": registry.image("charts/app", "1.0.0"), "outPath": "chart.tgz"}
    with pytest.raises(TerminalStepError) as caught:
        await run(with_creds(ctx, registry, wrong), raw)
    assert "refused the credentials" in str(caught.value)
    assert wrong not in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_config_keys() -> None:
    config = OCIDownloadConfig.model_validate(
        {"imageRef": "r/a:1", "outPath": "o", "insecureSkipTLSVerify": True}
    )
    assert config.insecure_skip_tls_verify is True
    with pytest.raises(ValueError, match="extra"):
        OCIDownloadConfig.model_validate({"imageRef": "r/a:1", "outPath": "o", "bogus": 1})
