"""Anti-forgery tokens, same-origin checks and sign-in sessions of the UI."""

from __future__ import annotations

from shunter.ui import security


def test_a_token_is_valid_only_for_its_nonce_and_server() -> None:
    csrf = security.Csrf(b"k" * 32)
    token = csrf.token_for("nonce-1")
    assert csrf.valid("nonce-1", token)
    assert not csrf.valid("nonce-2", token)
    assert not csrf.valid("nonce-1", None)
    assert not csrf.valid(None, token)
    assert not security.Csrf(b"x" * 32).valid("nonce-1", token)


def test_same_origin_needs_origin_or_referer_of_this_host() -> None:
    assert security.same_origin("127.0.0.1:8080", "http://127.0.0.1:8080", None)
    assert security.same_origin("ui.example", None, "https://ui.example/projects/x")
    assert not security.same_origin("ui.example", "https://evil.example", None)
    assert not security.same_origin("ui.example", "null", None)
    assert not security.same_origin("ui.example", None, None)


def test_sessions_expire_when_idle() -> None:
    sessions = security.Sessions(idle=0.0)
    sid = sessions.create("tok", "alice")
    assert sessions.get(sid) is None


def test_sessions_keep_the_token_server_side_and_end_on_drop() -> None:
    sessions = security.Sessions()
    sid = sessions.create("tok", "alice")
    session = sessions.get(sid)
    assert session is not None
    assert session.username == "alice"
    assert "tok" not in sid
    assert sessions.in_use(session.identity)
    sessions.drop(sid)
    assert sessions.get(sid) is None
    assert not sessions.in_use(session.identity)
