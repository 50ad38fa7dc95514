"""Hostile repositories and configs against every step that writes: nothing outside changes.

Issue 12, finding 3 and "keep it fixed": a repository served by the real git server commits
symbolic links out of the work directory (absolute, relative, to folders and to files), a
submodule on a local path and tar archives with links; one Promotion, run by the real engine
with the built-in steps, then aims every writing step at them. A canary tree next to the work
directory (files, folders, a git repository) is hashed before and after, with every mode,
content, link target and folder modification time: it must not change at all, and every
hostile step must be refused with a reason that names the escape.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shunter.api.v1alpha1 import FreightCollection, FreightReference, PromotionStep
from shunter.api.v1alpha1.promotion import PromotionPhase
from shunter.credentials.types import Credentials, CredentialType, StaticCredentialsDatabase
from shunter.promotion.context import PromotionContext
from shunter.promotion.engine import Engine
from shunter.promotion.registry import DEFAULT_REGISTRY
from shunter.promotion.step import Capabilities
from shunter.steps import load_builtin_steps
from shunter_devenv.binaries import binary
from shunter_devenv.gitserver import GitServer, TreeEntry

PASSWORD = "hostile-Paths-pw-4821"
UID = "hostile-1"


def tree_digest(root: Path) -> str:
    """Everything about a tree that a write could change, hashed (links are not followed)."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in [".", *sorted(dirs), *sorted(files)]:
            path = Path(folder) / name
            info = path.lstat()
            digest.update(f"{path.relative_to(root)}|{info.st_mode}|{info.st_size}".encode())
            if path.is_symlink():
                digest.update(str(path.readlink()).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
            else:
                digest.update(str(info.st_mtime_ns).encode())
    return digest.hexdigest()


def make_tar(entries: list[tuple[str, bytes | str]]) -> bytes:
    """A tar archive: ``(name, content)`` for files, ``(name, "->target")`` for symlinks."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            if isinstance(content, str) and content.startswith("->"):
                info.type = tarfile.SYMTYPE
                info.linkname = content[2:]
                archive.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[GitServer]:
    with GitServer(users={"alice": PASSWORD}) as git_server:
        yield git_server


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """The tree that must never change: files, folders, a link, and a git repository."""
    root = tmp_path / "canary"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "secret.txt").write_text("top secret\n")
    (root / "values.yaml").write_text("image:\n  tag: original\n")
    (root / "config.json").write_text('{"tag": "original"}\n')
    (root / "config.toml").write_text('tag = "original"\n')
    (root / "nested" / "deeper" / "file.bin").write_bytes(bytes(range(256)))
    (root / "nested" / "link").symlink_to("../secret.txt")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    repo = root / "local-repo"
    for args in (
        ["init", "--quiet", str(repo)],
        ["-C", str(repo), "commit", "--quiet", "--allow-empty", "-m", "local"],
    ):
        subprocess.run(
            ["git", "-c", "user.name=c", "-c", "user.email=c@c", *args], env=env, check=True
        )
    return root


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real helm and kubectl (kustomize inside), nothing else on PATH but git."""
    monkeypatch.setenv("SHUNTER_HELM_BINARY", str(binary("helm")))
    monkeypatch.setenv("SHUNTER_KUBECTL_BINARY", str(binary("kubectl")))


def hostile_repo(server: GitServer, name: str, canary: Path, checkout: Path) -> str:
    """A repository whose content tries every way out of ``checkout`` (where it is cloned)."""
    up = os.path.relpath(canary, checkout)
    url = server.create_repo(
        name,
        {
            "a.txt": "hello\n",
            "dir/inner.txt": "inner\n",
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "kust/kustomization.yaml": "resources: [cm.yaml]\n",
            "kust/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\n",
            "merge/a.yaml": "a: 1\n",
        },
    )
    local_submodule = canary / "local-repo"
    pinned = subprocess.run(
        ["git", "-C", str(local_submodule), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    server.commit_entries(
        name,
        {
            "evil": TreeEntry.symlink(str(canary)),
            "evil-rel": TreeEntry.symlink(up),
            "secret-file": TreeEntry.symlink(str(canary / "secret.txt")),
            "values.yaml": TreeEntry.symlink(str(canary / "values.yaml")),
            "config.json": TreeEntry.symlink(f"{up}/config.json"),
            "config.toml": TreeEntry.symlink(str(canary / "config.toml")),
            "dest/sub": TreeEntry.symlink(str(canary / "nested")),
            "kust-out": TreeEntry.symlink(str(canary)),
            "escape.tar": TreeEntry.file(
                make_tar([("ok.txt", "x"), ("lnk", f"->{canary}"), ("lnk/pwned", "pwned")])
            ),
            "through.tar": TreeEntry.file(make_tar([("evil/pwned.txt", "pwned")])),
            ".gitmodules": TreeEntry.file(
                f'[submodule "inner"]\n\tpath = inner\n\turl = {local_submodule}\n'
            ),
            "inner": TreeEntry.gitlink(pinned),
        },
        message="hostile entries",
    )
    server.commit_files(name, {"b.txt": "other\n"}, branch="other")
    return url


def step(uses: str, alias: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"uses": uses, "as": alias, "continueOnError": True, "config": config}


#: alias -> (step kind, config, a phrase the refusal must contain)
HOSTILE: dict[str, tuple[str, dict[str, Any], str]] = {
    # The first checkout plants the links, the second one is aimed through them.
    "clone-two-checkouts": (
        "git-clone",
        {"checkout": [{"path": "two"}, {"branch": "other", "path": "two/evil/pwned"}]},
        "outside the working directory",
    ),
    "clone-two-checkouts-relative": (
        "git-clone",
        {"checkout": [{"path": "three"}, {"branch": "other", "path": "three/evil-rel/pwned"}]},
        "outside the working directory",
    ),
    "clone-through-link": (
        "git-clone",
        {"checkout": [{"branch": "other", "path": "src/evil/pwned"}]},
        "outside the working directory",
    ),
    "clone-through-relative-link": (
        "git-clone",
        {"checkout": [{"branch": "other", "path": "src/evil-rel/pwned"}]},
        "outside the working directory",
    ),
    "submodule-on-local-path": (
        "git-clone",
        {"recurseSubmodules": True, "checkout": [{"branch": "main", "path": "sub"}]},
        "transport 'file' not allowed",
    ),
    "copy-into-link": ("copy", {"inPath": "src/a.txt", "outPath": "src/evil/a.txt"}, "outside"),
    "copy-over-file-link": (
        "copy",
        {"inPath": "src/a.txt", "outPath": "src/secret-file"},
        "outside",
    ),
    "copy-tree-with-link": (
        "copy",
        {"inPath": "src/dir", "outPath": "src/dest/sub"},
        "outside",
    ),
    "file-write-into-link": (
        "file-write",
        {"path": "src/evil-rel/new.txt", "contents": "pwned"},
        "outside",
    ),
    "file-write-over-link": (
        "file-write",
        {"path": "src/secret-file", "contents": "pwned", "overwrite": True},
        "outside",
    ),
    "yaml-update-link": (
        "yaml-update",
        {"path": "src/values.yaml", "updates": [{"key": "image.tag", "value": "pwned"}]},
        "outside",
    ),
    "json-update-link": (
        "json-update",
        {"path": "src/config.json", "updates": [{"key": "tag", "value": "pwned"}]},
        "outside",
    ),
    "toml-update-link": (
        "toml-update",
        {"path": "src/config.toml", "updates": [{"key": "tag", "value": "pwned"}]},
        "outside",
    ),
    "yaml-merge-into-link": (
        "yaml-merge",
        {"inFiles": ["src/merge/a.yaml"], "outFile": "src/evil/merged.yaml"},
        "outside",
    ),
    "kustomize-set-image-link": (
        "kustomize-set-image",
        {"path": "src/evil", "images": [{"image": "nginx", "tag": "pwned"}]},
        "outside",
    ),
    "kustomize-build-into-link": (
        "kustomize-build",
        {"path": "src/kust", "outPath": "src/kust-out/rendered"},
        "outside",
    ),
    "helm-template-into-link": (
        "helm-template",
        {"path": "src/chart", "outPath": "src/evil-rel/rendered", "releaseName": "r"},
        "outside",
    ),
    "helm-template-file-into-link": (
        "helm-template",
        {"path": "src/chart", "outPath": "src/evil/all.yaml", "releaseName": "r"},
        "outside",
    ),
    "tar-into-link": ("tar", {"inPath": "src/dir", "outPath": "src/evil/a.tar"}, "outside"),
    "untar-link-out": ("untar", {"inPath": "src/escape.tar", "outPath": "unpacked"}, "outside"),
    "untar-into-link": ("untar", {"inPath": "src/escape.tar", "outPath": "src/evil"}, "outside"),
    "http-download-into-link": (
        "http-download",
        {"url": "http://127.0.0.1:9/x", "outPath": "src/evil/dl.txt"},
        "outside",
    ),
    "oci-download-into-link": (
        "oci-download",
        {"imageRef": "127.0.0.1:9/charts/app:1.0.0", "outPath": "src/evil-rel/layer"},
        "outside",
    ),
    "git-clear-link": ("git-clear", {"path": "src/evil"}, "outside"),
    "delete-through-link": ("delete", {"path": "src/evil/secret.txt"}, "outside"),
}

#: Steps that may succeed without touching the outside: they replace or delete a link instead
#: of writing through it, or a glob does not descend into a link.
HARMLESS: dict[str, tuple[str, dict[str, Any]]] = {
    "delete-glob-through-link": ("delete", {"path": "src/evil/*", "pathsAreGlobs": True}),
    "untar-replaces-link": ("untar", {"inPath": "src/through.tar", "outPath": "src"}),
    "delete-links": ("delete", {"paths": ["src/evil", "src/secret-file", "src/dest"]}),
    "delete-everything": ("delete", {"path": "src/**", "pathsAreGlobs": True}),
}


async def test_no_step_writes_outside_the_work_directory(
    server: GitServer, canary: Path, tmp_path: Path, tools: None
) -> None:
    load_builtin_steps()
    work_root = tmp_path / "work-root"
    work_dir = work_root / f"promotion-{UID}"
    url = hostile_repo(server, "team/hostile", canary, work_dir / "src")
    before = tree_digest(canary)

    steps = [step("git-clone", "clone", {"repoURL": url, "checkout": [{"path": "src"}]})]
    for alias, (uses, config, _) in HOSTILE.items():
        extra = {"repoURL": url} if uses == "git-clone" else {}
        steps.append(step(uses, alias, {**extra, **config}))
    steps += [step(uses, alias, config) for alias, (uses, config) in HARMLESS.items()]

    credentials = Credentials(username="alice", password=SecretStr(PASSWORD))
    engine = Engine(
        capabilities=Capabilities(
            credentials=StaticCredentialsDatabase({(CredentialType.GIT, url): credentials})
        ),
        work_root=work_root,
        registry=DEFAULT_REGISTRY,
    )
    pctx = PromotionContext(
        project="hostile",
        stage="dev",
        promotion="dev.hostile",
        uid=UID,
        steps=[PromotionStep.model_validate(s) for s in steps],
        target_freight=FreightReference(name="f"),
        freight=FreightCollection(id="c"),
    )
    result = await engine.run(pctx, None)

    assert result.status.phase is PromotionPhase.SUCCEEDED  # every hostile step continueOnError
    by_alias = {m.alias: m for m in result.status.step_execution_metadata or []}
    assert by_alias["clone"].status is not None
    assert by_alias["clone"].status.value == "Succeeded", by_alias["clone"].message
    refused = {
        alias: (meta.status.value if meta.status else "", meta.message or "")
        for alias, meta in by_alias.items()
        if alias in HOSTILE
    }
    for alias, (_, _, phrase) in HOSTILE.items():
        status, message = refused[alias]
        assert status in ("Errored", "Failed"), f"{alias} was not refused: {status} {message}"
        assert phrase in message, f"{alias}: {message}"
    assert tree_digest(canary) == before
    assert not [p for p in _files_named(tmp_path, "pwned") if not p.is_relative_to(work_root)]


def _files_named(root: Path, part: str) -> list[Path]:
    return list(root.rglob(f"*{part}*"))
