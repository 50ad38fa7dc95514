"""WWW-Authenticate parsing, token answers, Basic headers and host classes."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from shunter.registries.auth import (
    DEFAULT_TOKEN_LIFETIME,
    BasicCredentials,
    basic_header,
    is_loopback_host,
    is_private_host,
    parse_challenges,
    parse_token_response,
    pick_challenge,
    repository_scope,
)


def test_docker_hub_bearer_challenge() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/nginx:pull"'
    )
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/nginx:pull",
    }


def test_several_challenges_and_odd_spacing() -> None:
    header = 'Negotiate, Basic realm="reg, with comma" , Bearer realm=https://t/x, service=s'
    challenges = parse_challenges(header)
    assert [c.scheme for c in challenges] == ["negotiate", "basic", "bearer"]
    assert challenges[1].params == {"realm": "reg, with comma"}
    assert challenges[2].params == {"realm": "https://t/x", "service": "s"}
    picked = pick_challenge(challenges)
    assert picked is not None
    assert picked.scheme == "basic"
    assert pick_challenge([]) is None


def test_escaped_quotes() -> None:
    (challenge,) = parse_challenges(r'Basic realm="a \"quoted\" realm"')
    assert challenge.params["realm"] == 'a "quoted" realm'


def test_token_response() -> None:
    token = parse_token_response({"token": "abc", "expires_in": 300}, now=1000.0)
    assert token.token == "abc"
    assert token.usable_until == pytest.approx(1000.0 + 300 - 10)
    default = parse_token_response({"access_token": "xyz"}, now=0.0)
    assert default.token == "xyz"
    assert 0 < default.usable_until < DEFAULT_TOKEN_LIFETIME
    short = parse_token_response({"token": "t", "expires_in": 8}, now=0.0)
    assert short.usable_until == pytest.approx(6.0)
    assert "abc" not in repr(token)
    with pytest.raises(ValueError, match="without a token"):
        parse_token_response({"expires_in": 60}, now=0.0)
    with pytest.raises(ValueError, match="JSON object"):
        parse_token_response(["token"], now=0.0)


def test_basic_credentials_never_show_the_password() -> None:
    creds = BasicCredentials("reader", SecretStr("pa:ss-Word"))
    assert "pa:ss" not in repr(creds)
    assert "pa:ss" not in str(creds)
    header = basic_header(creds)
    assert base64.b64decode(header.removeprefix("Basic ")) == b"reader:pa:ss-Word"


def test_scope() -> None:
    assert repository_scope("library/nginx") == "repository:library/nginx:pull"


@pytest.mark.parametrize(
    ("host", "loopback", "private"),
    [
        ("localhost:5000", True, False),
        ("registry.localhost", True, False),
        ("127.0.0.1:39213", True, False),
        ("127.1.2.3", True, False),
        ("[::1]:5000", True, False),
        ("10.1.2.3:5000", False, True),
        ("192.168.0.10", False, True),
        ("172.20.0.1:80", False, True),
        ("ghcr.io", False, False),
        ("8.8.8.8", False, False),
    ],
)
def test_host_classes(host: str, loopback: bool, private: bool) -> None:
    assert is_loopback_host(host) is loopback
    assert is_private_host(host) is private
