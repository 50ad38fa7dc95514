"""The Debian packages ``make demo`` needs beyond Python and Go: ``docker-registry`` (the OCI
registry) and ``openssl`` (the control plane's keys).

:func:`ensure_demo_packages` installs the missing ones with apt when it can (root, ``apt-get``
present) and stops the system registry the ``docker-registry`` package starts on :5000 (the
demo runs its own); otherwise it raises :class:`MissingPackagesError` whose message is the one
line to show: the packages and the command that installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping

from shunter_devenv.registry import RegistryNotInstalledError, find_registry_binary

__all__ = ["DEMO_PACKAGES", "MissingPackagesError", "ensure_demo_packages", "missing_packages"]


def _has_registry() -> bool:
    try:
        find_registry_binary()
    except RegistryNotInstalledError:
        return False
    return True


#: Debian package -> how to tell it is installed.
DEMO_PACKAGES: Mapping[str, Callable[[], bool]] = {
    "docker-registry": _has_registry,
    "openssl": lambda: shutil.which("openssl") is not None,
}


class MissingPackagesError(RuntimeError):
    """Packages are missing and cannot be installed from here (the message says which)."""


def missing_packages(packages: Mapping[str, Callable[[], bool]] = DEMO_PACKAGES) -> list[str]:
    """The packages whose check fails, in order."""
    return [name for name, present in packages.items() if not present()]


def _can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure_demo_packages(
    say: Callable[[str], None],
    packages: Mapping[str, Callable[[], bool]] = DEMO_PACKAGES,
    *,
    can_install: Callable[[], bool] = _can_install,
) -> None:
    """Install what is missing, or raise :class:`MissingPackagesError`."""
    missing = missing_packages(packages)
    if not missing:
        return
    names = " ".join(missing)
    if not can_install():
        raise MissingPackagesError(
            f"make demo needs the Debian packages {names}: run `sudo apt-get install -y {names}`"
        )
    say(f"installing {names} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
    ):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or [""])[-1]
            raise MissingPackagesError(
                f"could not install {names} ({' '.join(argv[:2])}: {detail}); install them "
                "and run make demo again"
            )
    if "docker-registry" in missing and shutil.which("systemctl"):
        # The package starts a system registry on :5000; the demo runs its own.
        subprocess.run(["systemctl", "stop", "docker-registry"], capture_output=True, check=False)
    still = missing_packages(packages)
    if still:
        raise MissingPackagesError(f"{' '.join(still)} still missing after apt-get install")
