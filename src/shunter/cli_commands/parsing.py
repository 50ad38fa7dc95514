"""Flags and arguments in any order, as kubectl takes them: ``get stage prod -n sandbox``.

argparse hands all the positional arguments of a command the first run of words it sees, so
``get stage -n sandbox prod`` leaves ``prod`` unrecognised. :class:`FlexibleParser` parses the
commands that have no subcommands of their own with ``parse_known_intermixed_args`` instead
(flags first, then the words left over, in order).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["FlexibleParser"]


class FlexibleParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose leaf commands take flags between their arguments."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        positionals = [a for a in self._actions if not a.option_strings]
        leaf = self._subparsers is None and positionals
        if self._intermixing or not leaf:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
