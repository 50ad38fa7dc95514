"""kustomize-set-image: images entries set like `kustomize edit set image`, file kept tidy."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from shunter.api.v1alpha1.common import FreightCollection, FreightReference, Image
from shunter.api.v1alpha1.promotion import PromotionStepStatus
from shunter.promotion.step import StepContext, StepError, TerminalStepError
from shunter.steps.kustomize_set_image import KustomizeSetImageStep

KUSTOMIZATION = """\
# Overlay for preprod; images are set by Kargo.
---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

namespace: lms-preprod
resources:
  - ../../base      # shared manifests
  - ingress.yaml

images:
  # the web application
  - name: example/app
    newTag: "2026-11-20_0930-1f2e3d4"
  - name: nginx   # sidecar
    newName: registry.local/mirror/nginx
    newTag: '1.25'

patches:
  - path: replicas.yaml
    target: {kind: Deployment, name: lms}
"""


def image(repo: str, tag: str, digest: str | None = None) -> Image:
    return Image.model_validate({"repoURL": repo, "tag": tag, "digest": digest})


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


def diff(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture
def overlay(work_dir: Path) -> Path:
    path = work_dir / "src" / "preprod"
    path.mkdir(parents=True)
    (path / "kustomization.yaml").write_text(KUSTOMIZATION)
    return path


def test_config_errors_name_the_key(config_error: Any) -> None:
    assert "config.path: required" in config_error(KustomizeSetImageStep, {})
    raw = {"path": ".", "images": [{"tag": "1"}]}
    assert "config.images[0].image: required" in config_error(KustomizeSetImageStep, raw)
    raw = {"path": ".", "images": [{"image": "a", "tag": "1", "digest": "sha256:x"}]}
    assert "exactly one of 'tag' or 'digest'" in config_error(KustomizeSetImageStep, raw)
    raw = {"path": ".", "images": [{"image": "a"}]}
    assert "exactly one of 'tag' or 'digest'" in config_error(KustomizeSetImageStep, raw)
    raw = {"path": ".", "images": [{"image": "a", "tag": "1", "new_tag": "x"}]}
    assert 'config.images[0]: unknown key "new_tag"' in config_error(KustomizeSetImageStep, raw)


async def test_set_tag_changes_only_that_line(
    overlay: Path, ctx: StepContext, run_step: Any
) -> None:
    result = await run_step(
        KustomizeSetImageStep,
        ctx,
        {
            "path": "./src/preprod",
            "images": [{"image": "example/app", "tag": "2026-11-26_1200-abc1234"}],
        },
    )
    after = (overlay / "kustomization.yaml").read_text()
    assert diff(KUSTOMIZATION, after) == [
        '-    newTag: "2026-11-20_0930-1f2e3d4"',
        '+    newTag: "2026-11-26_1200-abc1234"',
    ]
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {
        "commitMessage": (
            "Updated ./src/preprod to use new image\n\n- example/app:2026-11-26_1200-abc1234"
        )
    }


async def test_preserve_digest_new_entries_and_renames(
    overlay: Path, ctx: StepContext, run_step: Any
) -> None:
    result = await run_step(
        KustomizeSetImageStep,
        ctx,
        {
            "path": "src/preprod",
            "images": [
                {"image": "nginx", "tag": "1.27", "newName": "*"},
                {"image": "example/app", "digest": "sha256:abc"},
                {
                    "image": "docker.io/library/redis",
                    "name": "redis",
                    "tag": "7",
                    "newName": "mirror/redis",
                },
            ],
        },
    )
    images = load(overlay / "kustomization.yaml")["images"]
    assert images == [
        {"name": "example/app", "digest": "sha256:abc"},
        {"name": "nginx", "newName": "registry.local/mirror/nginx", "newTag": "1.27"},
        {"name": "redis", "newName": "mirror/redis", "newTag": "7"},
    ]
    text = (overlay / "kustomization.yaml").read_text()
    assert "# the web application" in text
    assert "# sidecar" in text
    assert diff(KUSTOMIZATION, text) == [
        '-    newTag: "2026-11-20_0930-1f2e3d4"',
        "+    digest: sha256:abc",
        "-    newTag: '1.25'",
        "+    newTag: '1.27'",
        "+  - name: redis",
        "+    newName: mirror/redis",
        '+    newTag: "7"',
    ]
    assert result.output["commitMessage"] == (
        "Updated src/preprod to use new images\n\n"
        "- example/app@sha256:abc\n"
        "- registry.local/mirror/nginx:1.27\n"
        "- mirror/redis:7"
    )


async def test_images_from_the_freight_collection(
    overlay: Path, ctx_with_freight: Any, run_step: Any
) -> None:
    freight = FreightCollection(
        id="fc",
        items={
            "Warehouse/app": FreightReference(
                name="f1", images=[image("example/app", "2026-11-26_1200-abc1234")]
            ),
            "Warehouse/web": FreightReference(
                name="f2", images=[image("nginx", "1.27", "sha256:def")]
            ),
        },
    )
    ctx = ctx_with_freight(freight)
    result = await run_step(KustomizeSetImageStep, ctx, {"path": "src/preprod"})
    images = load(overlay / "kustomization.yaml")["images"]
    assert images == [
        {"name": "example/app", "newTag": "2026-11-26_1200-abc1234"},
        {"name": "nginx", "newTag": "1.27", "digest": "sha256:def"},
    ]
    assert result.output["commitMessage"].splitlines()[2:] == [
        "- example/app:2026-11-26_1200-abc1234",
        "- nginx:1.27@sha256:def",
    ]


async def test_same_repository_from_two_origins_is_ambiguous(
    overlay: Path, ctx_with_freight: Any, run_step: Any
) -> None:
    freight = FreightCollection(
        id="fc",
        items={
            "Warehouse/a": FreightReference(images=[image("example/app", "1")]),
            "Warehouse/b": FreightReference(images=[image("example/app", "2")]),
        },
    )
    with pytest.raises(TerminalStepError, match="ambiguous"):
        await run_step(KustomizeSetImageStep, ctx_with_freight(freight), {"path": "src/preprod"})
    assert (overlay / "kustomization.yaml").read_text() == KUSTOMIZATION


async def test_no_images_key_yet_and_other_file_names(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "Kustomization").write_text("resources:\n- a.yaml\n")
    await run_step(
        KustomizeSetImageStep, ctx, {"path": ".", "images": [{"image": "x", "tag": "1"}]}
    )
    assert (work_dir / "Kustomization").read_text() == (
        'resources:\n- a.yaml\nimages:\n- name: x\n  newTag: "1"\n'
    )


async def test_two_kustomization_files_are_ambiguous(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    (work_dir / "kustomization.yaml").write_text("resources: []\n")
    (work_dir / "kustomization.yml").write_text("resources: []\n")
    with pytest.raises(TerminalStepError, match="multiple Kustomization files"):
        await run_step(
            KustomizeSetImageStep, ctx, {"path": ".", "images": [{"image": "x", "tag": "1"}]}
        )


async def test_no_kustomization_file(work_dir: Path, ctx: StepContext, run_step: Any) -> None:
    with pytest.raises(StepError, match="could not find any Kustomization"):
        await run_step(
            KustomizeSetImageStep, ctx, {"path": ".", "images": [{"image": "x", "tag": "1"}]}
        )


async def test_symlinked_kustomization_is_not_used(
    work_dir: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (outside / "kustomization.yaml").write_text("resources: []\n")
    (work_dir / "kustomization.yaml").symlink_to(outside / "kustomization.yaml")
    with pytest.raises(StepError, match="could not find any Kustomization"):
        await run_step(
            KustomizeSetImageStep, ctx, {"path": ".", "images": [{"image": "x", "tag": "1"}]}
        )
    assert (outside / "kustomization.yaml").read_text() == "resources: []\n"


@pytest.mark.parametrize("path", ["../outside", "/tmp", "link"])
async def test_directories_outside_are_refused(
    path: str, work_dir: Path, outside: Path, ctx: StepContext, run_step: Any
) -> None:
    (outside / "kustomization.yaml").write_text("resources: []\n")
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(TerminalStepError):
        await run_step(
            KustomizeSetImageStep, ctx, {"path": path, "images": [{"image": "x", "tag": "1"}]}
        )
    assert (outside / "kustomization.yaml").read_text() == "resources: []\n"


async def test_nothing_to_change_leaves_the_file_alone(
    work_dir: Path, ctx: StepContext, run_step: Any
) -> None:
    text = "images:\n- name: x   \n  newTag: '1'   # same\n"
    (work_dir / "kustomization.yaml").write_text(text)
    result = await run_step(
        KustomizeSetImageStep, ctx, {"path": ".", "images": [{"image": "x", "tag": "1"}]}
    )
    assert (work_dir / "kustomization.yaml").read_text() == text
    assert result.output["commitMessage"] == "Updated . to use new image\n\n- x:1"


async def test_freight_without_images_sets_nothing(
    overlay: Path, ctx: StepContext, run_step: Any
) -> None:
    result = await run_step(KustomizeSetImageStep, ctx, {"path": "src/preprod"})
    assert result.status is PromotionStepStatus.SUCCEEDED
    assert result.output == {}
    assert (overlay / "kustomization.yaml").read_text() == KUSTOMIZATION
