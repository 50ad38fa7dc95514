"""The command line's parsing: flags between names, kinds, and what ``shunter get`` imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shunter.cli import _parser
from shunter.cli_commands.errors import CliError
from shunter.cli_commands.kinds import plural_of


def test_flags_may_come_between_names() -> None:
    parser = _parser()
    for argv in (
        ["get", "stages", "prod", "-n", "p", "preprod"],
        ["get", "-n", "p", "stages", "prod", "preprod"],
        ["get", "stages", "-n", "p", "prod", "preprod"],
    ):
        args = parser.parse_args(argv)
        assert (args.kind, args.names, args.project) == ("stages", ["prod", "preprod"], "p")


def test_usage_errors_stay_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(
            ["promote", "--stage", "a", "--downstream-from", "b", "--freight", "f"]
        )
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spelling", "plural"),
    [
        ("Stage", "stages"),
        ("freight", "freights"),
        ("promo", "promotions"),
        ("projects", "projects"),
    ],
)
def test_kind_spellings(spelling: str, plural: str) -> None:
    assert plural_of(spelling) == plural


def test_an_unknown_kind_is_a_usage_error() -> None:
    with pytest.raises(CliError, match="unknown kind 'gadgets'") as exc:
        plural_of("gadgets")
    assert exc.value.exit_code == 2


def test_get_imports_neither_the_models_nor_the_operators_client() -> None:
    code = (
        "import sys\n"
        "from shunter.cli import _parser\n"
        "from shunter.cli_commands import get, session, tables\n"
        "_parser()\n"
        "heavy = {'pydantic', 'kubernetes', 'kubernetes_asyncio', 'httpx', 'asyncio', 'kopf'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
