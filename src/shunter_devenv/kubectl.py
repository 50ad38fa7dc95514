"""Running kubectl against a kubeconfig: commands, manifests, CRD installation.

kubectl is the one built by ``tools/build-binaries.sh`` (the same minor version as the local
kube-apiserver), never whatever kubectl happens to be on PATH.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from shunter_devenv.binaries import binary

__all__ = ["FIELD_MANAGER", "KubectlError", "apply", "install_crds", "kubectl"]

FIELD_MANAGER = "shunter-devenv"
"""The field manager of server-side applies made by the development environment."""

_SECRET_FLAGS = ("--token", "--password", "--username", "--from-literal", "--client-key")


def _printable(args: Sequence[str]) -> str:
    """Render kubectl arguments for an error message, hiding values of credential flags."""
    shown: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            shown.append("***")
            hide_next = False
        elif arg.startswith(_SECRET_FLAGS):
            flag = arg.split("=", 1)[0]
            shown.append(f"{flag}=***" if "=" in arg else flag)
            hide_next = "=" not in arg
        else:
            shown.append(arg)
    return " ".join(shown)


class KubectlError(RuntimeError):
    """kubectl exited with a non-zero code; carries its stdout and stderr."""

    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        super().__init__(
            f"kubectl {_printable(args)} failed with exit code {result.returncode}: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )


def kubectl(
    kubeconfig: Path | str,
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 120.0,
    binary_path: Path | None = None,
    cache_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl --kubeconfig=<kubeconfig> <args>`` and return its captured output.

    Raises :class:`KubectlError` on a non-zero exit unless ``check`` is false. ``cache_dir``
    keeps kubectl's discovery cache out of ``~/.kube`` (a local control plane gets a new port
    on every start).
    """
    argv = [str(binary_path or binary("kubectl")), f"--kubeconfig={kubeconfig}"]
    if cache_dir is not None:
        argv.append(f"--cache-dir={cache_dir}")
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    result = subprocess.run(
        [*argv, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if check and result.returncode != 0:
        raise KubectlError(args, result)
    return result


def apply(
    kubeconfig: Path | str,
    manifest: Path | str,
    *,
    server_side: bool = True,
    namespace: str | None = None,
    timeout: float = 120.0,
    binary_path: Path | None = None,
    cache_dir: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``kubectl apply`` a manifest: a :class:`~pathlib.Path` (file or folder) or YAML text.

    A ``str`` is always manifest text, never a file name. Server-side apply (the default) uses
    the field manager ``shunter-devenv`` and takes over conflicting fields.
    """
    args = ["apply"]
    if server_side:
        args += ["--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}"]
    if namespace is not None:
        args += ["--namespace", namespace]
    stdin: str | None = None
    if isinstance(manifest, Path):
        args += ["-f", str(manifest)]
    else:
        args += ["-f", "-"]
        stdin = manifest
    return kubectl(
        kubeconfig,
        *args,
        stdin=stdin,
        timeout=timeout,
        binary_path=binary_path,
        cache_dir=cache_dir,
    )


def install_crds(
    kubeconfig: Path | str,
    crd_dir: Path,
    *,
    timeout: float = 60.0,
    binary_path: Path | None = None,
    cache_dir: Path | None = None,
) -> list[str]:
    """Server-side apply every ``*.yaml`` in ``crd_dir`` and wait until each CRD is Established.

    Returns the names of the CRDs applied (empty when the folder holds no YAML file).
    """
    if not crd_dir.is_dir():
        raise FileNotFoundError(f"CRD folder {crd_dir} does not exist")
    files = sorted([*crd_dir.glob("*.yaml"), *crd_dir.glob("*.yml")])
    if not files:
        return []
    file_args = [arg for path in files for arg in ("-f", str(path))]
    applied = kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        "--output=name",
        *file_args,
        timeout=timeout,
        binary_path=binary_path,
        cache_dir=cache_dir,
    )
    resources = [
        line.strip()
        for line in applied.stdout.splitlines()
        if line.startswith("customresourcedefinition.")
    ]
    if resources:
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=Established",
            f"--timeout={max(1, round(timeout))}s",
            *resources,
            timeout=timeout + 30,
            binary_path=binary_path,
            cache_dir=cache_dir,
        )
    return [resource.split("/", 1)[1] for resource in resources]
