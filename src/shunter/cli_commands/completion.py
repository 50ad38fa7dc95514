"""Shell completion with argcomplete: ``shunter completion bash|zsh|fish`` and name completers.

The script that ``shunter completion SHELL`` prints makes the shell run ``shunter`` with
argcomplete's environment variables set; :func:`autocomplete` (called by ``main`` only then)
answers with the candidates and exits. Arguments that name an object complete with the names
in the cluster: :func:`completes` attaches a completer that lists them through the kubeconfig
and project the command line has so far (``--kubeconfig``, ``--context``, ``-n``), waits at
most :data:`COMPLETION_TIMEOUT` seconds, never prompts, and offers nothing when anything fails.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = [
    "COMPLETION_TIMEOUT",
    "SHELLS",
    "add_parser",
    "autocomplete",
    "completes",
    "completes_files",
    "completes_words",
]

#: Seconds a completer waits for the API server.
COMPLETION_TIMEOUT = 2.0
SHELLS = ("bash", "zsh", "fish")


class _ClusterNames:
    """Completes the names of ``plural`` objects (``None``: the kind named by ``args.kind``)."""

    def __init__(self, plural: str | None) -> None:
        self.plural = plural

    def __call__(self, prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
        try:
            return [n for n in self._names(parsed_args) if n.startswith(prefix)]
        except Exception:  # a completer offers nothing rather than fail
            return []

    def _names(self, args: argparse.Namespace) -> list[str]:
        from shunter.cli_commands.kinds import plural_of  # noqa: PLC0415 - completion only
        from shunter.cli_commands.session import Session, connect  # noqa: PLC0415

        plural = self.plural or plural_of(str(getattr(args, "kind", "") or ""))
        api = connect(args, timeout=COMPLETION_TIMEOUT, quick=True)
        try:
            if plural == "projects":
                items = api.list("projects")
            else:
                project = Session(api, args).project(required=False)
                items = api.list(plural, project) if project else []
        finally:
            api.close()
        names = sorted(str(i.get("metadata", {}).get("name", "")) for i in items)
        if plural == "freights":
            aliases = sorted(str(i["alias"]) for i in items if i.get("alias"))
            return aliases + names
        return names


def completes(action: argparse.Action, plural: str | None) -> argparse.Action:
    """Let ``action`` complete with object names (``plural=None``: the kind in ``args.kind``)."""
    action.completer = _ClusterNames(plural)  # type: ignore[attr-defined]
    return action


class _Words:
    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = words

    def __call__(self, prefix: str, **_: Any) -> list[str]:
        return [w for w in self.words if w.startswith(prefix)]


def completes_words(action: argparse.Action, words: tuple[str, ...]) -> argparse.Action:
    """Let ``action`` complete with fixed ``words`` (when ``choices`` would be too strict)."""
    action.completer = _Words(words)  # type: ignore[attr-defined]
    return action


def _files(prefix: str, **kwargs: Any) -> Any:
    from argcomplete.completers import FilesCompleter  # noqa: PLC0415 - completion only

    return FilesCompleter()(prefix, **kwargs)


def completes_files(action: argparse.Action) -> argparse.Action:
    """Let ``action`` complete with file names."""
    action.completer = _files  # type: ignore[attr-defined]
    return action


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit (only call with ``_ARGCOMPLETE`` set)."""
    from argcomplete.completers import SuppressCompleter  # noqa: PLC0415 - completion only
    from argcomplete.finders import CompletionFinder  # noqa: PLC0415

    CompletionFinder()(parser, default_completer=SuppressCompleter())


def _print_script(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode  # noqa: PLC0415

    sys.stdout.write(shellcode(["shunter"], shell=args.shell))
    return 0


_HELP = """Print the completion script for a shell. Load it:
  bash:  source <(shunter completion bash)          (in ~/.bashrc)
  zsh:   source <(shunter completion zsh)           (in ~/.zshrc, after compinit)
  fish:  shunter completion fish | source           (in ~/.config/fish/config.fish)
Object names (Stages, Freight, Warehouses, Promotions, projects) complete from the cluster."""


def add_parser(sub: Any) -> None:
    """Register ``completion`` on the ``shunter`` subcommands."""
    parser = sub.add_parser(
        "completion",
        help="print the shell completion script (bash, zsh, fish)",
        description=_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell")
    parser.set_defaults(func=_print_script)
