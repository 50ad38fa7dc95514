"""Structural redaction: registered Secret values are masked in every form, in every sink."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import urllib.parse

import pytest

from shunter._internal import redaction
from shunter._internal.redaction import (
    MASK,
    install_log_redaction,
    redact,
    redact_data,
    redact_url,
    register_secret,
    register_secret_object,
    secret_forms,
)


def fresh(prefix: str = "s3cr3t") -> str:
    """A secret no other test registered (the registry is process-wide and only grows)."""
    return f"{prefix}-{secrets.token_urlsafe(12)}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TestForms:
    def test_plain_url_json_and_base64_forms_are_masked(self) -> None:
        value = fresh('p@ss w/rd+"q"')
        register_secret(value)
        spellings = [
            value,
            urllib.parse.quote(value, safe=""),
            urllib.parse.quote_plus(value),
            json.dumps(value)[1:-1],
            b64(value),
            base64.urlsafe_b64encode(value.encode()).decode(),
        ]
        for spelling in spellings:
            out = redact(f"before {spelling} after")
            assert out == f"before {MASK} after", spelling

    @pytest.mark.parametrize("prefix", ["", "u", "us", "user:"])
    def test_base64_inside_a_longer_base64_string(self, prefix: str) -> None:
        value = fresh()
        register_secret(value)
        header = "Authorization: Basic " + b64(f"{prefix}{value}")
        out = redact(header)
        assert b64(f"{prefix}{value}") not in out
        assert MASK in out

    def test_a_value_that_is_not_registered_stays(self) -> None:
        assert redact("nothing to see here 12345") == "nothing to see here 12345"

    def test_short_values_are_masked_only_where_quoted(self) -> None:
        register_secret("Zq")
        assert redact("cannot convert 'Zq' to int") == f"cannot convert '{MASK}' to int"
        assert redact('bad value "Zq"') == f'bad value "{MASK}"'
        assert redact("Zqx and Zq alone") == "Zqx and Zq alone"

    def test_forms_of_a_value(self) -> None:
        forms = secret_forms("abc def")
        assert {"abc def", "abc%20def", "abc+def", b64("abc def")} <= forms


class TestSecretObjects:
    def test_every_value_of_a_credential_secret_but_repo_url_and_user(self) -> None:
        token, user = fresh("tok"), fresh("user")
        register_secret_object(
            {
                "metadata": {"name": "creds", "labels": {"kargo.akuity.io/cred-type": "git"}},
                "data": {
                    "repoURL": b64("https://git.example.com/org/repo.git"),
                    "username": b64(user),
                    "password": b64(token),
                    "binary": base64.b64encode(b"\xff\xfe").decode(),
                },
                "stringData": {"extra": "more-" + token},
            }
        )
        out = redact(f"user {user} token {token} repo https://git.example.com/org/repo.git")
        assert token not in out
        assert f"user {user} " in out
        assert "https://git.example.com/org/repo.git" in out

    def test_every_value_of_another_secret(self) -> None:
        user, url = fresh("user"), f"https://{fresh('host')}.example.com/x"
        register_secret_object(
            {"metadata": {"name": "generic"}, "data": {"username": b64(user), "repoURL": b64(url)}}
        )
        assert redact(f"{user} {url}") == f"{MASK} {MASK}"


class TestURLs:
    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("https://user:pass@host/x", "https://host/x"),
            ("http://ghp_TOKEN@host:8080/x", "http://host:8080/x"),
            ("HTTPS://a:b@host/x", "HTTPS://host/x"),
            ("ssh://git@host/x", "ssh://git@host/x"),
            ("ssh://git:pw@host/x", f"ssh://git:{MASK}@host/x"),
            ("oci://u:p@registry/x", f"oci://u:{MASK}@registry/x"),
            ("https://host/x?mail=a@b", "https://host/x?mail=a@b"),
        ],
    )
    def test_credentials_leave_urls(self, url: str, shown: str) -> None:
        assert redact_url(url) == shown
        assert redact(f"cannot reach {url}: refused") == f"cannot reach {shown}: refused"


class TestData:
    def test_every_string_of_a_tree(self) -> None:
        value = fresh()
        register_secret(value)
        tree = {
            "conditions": [{"type": "Ready", "message": f"failed: {value}"}],
            "state": {value: [1, True, None, f"x{value}x"]},
            "repoURL": "https://u:p@h/r",
        }
        out = redact_data(tree)
        assert value not in json.dumps(out)
        assert out["conditions"][0]["message"] == f"failed: {MASK}"
        assert out["state"][MASK] == [1, True, None, f"x{MASK}x"]
        assert out["repoURL"] == "https://h/r"


class TestLogging:
    def test_message_arguments_and_tracebacks(self, caplog: pytest.LogCaptureFixture) -> None:
        install_log_redaction()
        value = fresh()
        register_secret(value)
        log = logging.getLogger("shunter.test.redaction")
        with caplog.at_level(logging.INFO, logger="shunter.test.redaction"):
            log.info("password is %s, url %s", value, "https://tok@host/x")
            try:
                raise ValueError(f"cannot parse {value!r}")
            except ValueError:
                log.exception("failed")
        text = caplog.text
        assert value not in text
        assert "tok@" not in text
        assert f"password is {MASK}, url https://host/x" in text
        assert "ValueError: cannot parse" in text

    def test_installing_twice_wraps_once(self) -> None:
        install_log_redaction()
        factory = logging.getLogRecordFactory()
        install_log_redaction()
        assert logging.getLogRecordFactory() is factory


def test_many_values_in_tiers_of_bounded_size() -> None:
    values = [fresh("bulk") for _ in range(redaction._TIER_LIMIT // 4)]
    for value in values:
        register_secret(value)
    tiers = redaction._REGISTRY._tiers
    assert tiers
    assert all(len(tier.literals) <= redaction._TIER_LIMIT for tier in tiers)
    text = " | ".join(values[::37])
    assert redact(text) == " | ".join([MASK] * len(values[::37]))


def test_a_longer_value_is_masked_whole_whatever_was_registered_first() -> None:
    short = fresh("prefix")
    register_secret(short)
    for _ in range(redaction._PENDING_LIMIT):  # push the first value into a compiled tier
        register_secret(fresh("filler"))
    longer = short + "-and-more"
    register_secret(longer)
    assert redact(f"[{longer}] [{short}]") == f"[{MASK}] [{MASK}]"
