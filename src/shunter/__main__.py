"""``python -m shunter``: the ``shunter`` command."""

from shunter.cli import main

raise SystemExit(main())
