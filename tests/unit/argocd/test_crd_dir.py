"""Locating Argo CD's CRD files (the SHUNTER_ARGOCD_CRD_DIR override; no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shunter_devenv.argocd import CRD_DIR_ENV, CRD_FILES, ArgoCDSetupError, argocd_crd_dir


def test_override_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CRD_FILES:
        (tmp_path / name).write_text("kind: CustomResourceDefinition\n")
    monkeypatch.setenv(CRD_DIR_ENV, str(tmp_path))
    assert argocd_crd_dir() == tmp_path


def test_override_folder_missing_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / CRD_FILES[0]).write_text("x")
    monkeypatch.setenv(CRD_DIR_ENV, str(tmp_path))
    with pytest.raises(ArgoCDSetupError, match=r"appproject-crd\.yaml"):
        argocd_crd_dir()
