"""``shunter config``: the command line's own settings (the default project), in a small file.

The file is ``$XDG_CONFIG_HOME/shunter/config.yaml`` (``~/.config/shunter/config.yaml`` when
``XDG_CONFIG_HOME`` is unset) and holds ``project: NAME``. ``config set-project NAME`` writes
it, ``config get-project`` prints it, ``config unset-project`` removes it, ``config view``
prints the file. None of them talks to the cluster.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from shunter.cli_commands.completion import completes
from shunter.cli_commands.errors import CliError

__all__ = ["add_parser", "config_path", "default_project"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def config_path() -> Path:
    """Where the settings live (see the module docstring)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shunter" / "config.yaml"


def _read() -> dict[str, Any]:
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    import yaml  # noqa: PLC0415

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML ({exc}); fix or delete it") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CliError(f"{path} is not a mapping; fix or delete it")
    return data


def _write(data: dict[str, Any]) -> Path:
    import yaml  # noqa: PLC0415

    path = config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def default_project() -> str | None:
    """The project set with ``shunter config set-project``, if any."""
    value = _read().get("project")
    return value if isinstance(value, str) and value else None


def _set_project(args: argparse.Namespace) -> int:
    name: str = args.name
    if not _DNS_LABEL.match(name):
        raise CliError(
            f"{name!r} is not a project name (lower-case letters, digits and '-', "
            "at most 63 characters)",
            exit_code=2,
        )
    data = _read()
    data["project"] = name
    path = _write(data)
    sys.stdout.write(f"default project set to {name} (in {path})" + "\n")
    return 0


def _get_project(_args: argparse.Namespace) -> int:
    name = default_project()
    if name is None:
        sys.stderr.write("No default project; set one with `shunter config set-project NAME`.\n")
        return 1
    sys.stdout.write(f"{name}\n")
    return 0


def _unset_project(_args: argparse.Namespace) -> int:
    data = _read()
    if data.pop("project", None) is not None:
        _write(data)
    sys.stdout.write("default project unset" + "\n")
    return 0


def _view(_args: argparse.Namespace) -> int:
    path = config_path()
    data = _read()
    sys.stdout.write(f"# {path}" + "\n")
    for key, value in sorted(data.items()):
        sys.stdout.write(f"{key}: {value}" + "\n")
    return 0


def add_parser(sub: Any) -> None:
    """Register ``config`` on the ``shunter`` subcommands."""
    config = sub.add_parser(
        "config",
        help="the command line's settings: the default project",
        description="The default project, used when neither -n nor the kubeconfig context "
        "names one. It is kept in $XDG_CONFIG_HOME/shunter/config.yaml "
        "(~/.config/shunter/config.yaml); these verbs do not talk to the cluster.",
    )
    verbs = config.add_subparsers(dest="config_verb", metavar="VERB", required=True)
    set_project = verbs.add_parser("set-project", help="set the default project")
    completes(set_project.add_argument("name", metavar="NAME", help="the project"), "projects")
    set_project.set_defaults(func=_set_project)
    verbs.add_parser("get-project", help="print the default project").set_defaults(
        func=_get_project
    )
    verbs.add_parser("unset-project", help="forget the default project").set_defaults(
        func=_unset_project
    )
    verbs.add_parser("view", help="print the settings").set_defaults(func=_view)
