"""make demo's system packages: installed when it can, else one line naming them."""

from __future__ import annotations

import pytest

from shunter_devenv.packages import MissingPackagesError, ensure_demo_packages, missing_packages


def test_present_packages_need_nothing() -> None:
    said: list[str] = []
    ensure_demo_packages(said.append, {"openssl": lambda: True}, can_install=lambda: False)
    assert said == []


def test_missing_packages_without_root_is_one_line_naming_them() -> None:
    packages = {"docker-registry": lambda: False, "openssl": lambda: False, "git": lambda: True}
    assert missing_packages(packages) == ["docker-registry", "openssl"]
    with pytest.raises(MissingPackagesError) as caught:
        ensure_demo_packages(lambda _line: None, packages, can_install=lambda: False)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        "make demo needs the Debian packages docker-registry openssl: "
        "run `sudo apt-get install -y docker-registry openssl`"
    )


def test_this_machine_has_the_demo_packages() -> None:
    assert missing_packages() == []
