"""Just enough of Go's ``net/url`` (Parse, String, Query) to reproduce Kargo's URL normalisers.

Kargo computes Freight IDs from URLs that went through Go's ``url.Parse`` and ``URL.String``;
two spellings of a URL only hash alike here if they re-serialise exactly as Go does. Python's
``urllib.parse`` differs in many corners (escaping, userinfo, empty ports, opaque URLs), so this
module follows the behaviour of Go 1.26's ``net/url`` instead: it works on the UTF-8 bytes of the
input, validates percent-escapes and hosts the same way, and rebuilds the string with the same
escaping rules. Only what the normalisers need is here; everything is private to
:mod:`shunter.freight`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["GoURL", "go_path_clean", "go_path_join", "parse_go_url"]

_PATH = "path"
_HOST = "host"
_ZONE = "zone"
_USER = "user"
_QUERY = "query"
_FRAGMENT = "fragment"

_HEX = b"0123456789abcdefABCDEF"
_UPPER_HEX = b"0123456789ABCDEF"
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HOST_EXTRA = frozenset(b"!$&'()*+,;=:[]<>\"")
_UNRESERVED_MARK = frozenset(b"-_.~")
_RESERVED = frozenset(b"$&+,/:;=?@")
_USERINFO_OK = frozenset(b"-._:~!$&'()*+,;=%@") | _ALNUM
_MAX_QUERY_PARAMS = 10000


class _ParseError(ValueError):
    """The input is not a URL Go would accept."""


def _should_escape(c: int, mode: str) -> bool:
    """Go's ``shouldEscape``."""
    if c in _ALNUM:
        return False
    if mode in (_HOST, _ZONE) and c in _HOST_EXTRA:
        return False
    if c in _UNRESERVED_MARK:
        return False
    if c in _RESERVED:
        if mode == _PATH:
            return c == ord("?")
        if mode == _USER:
            return c in b"@/?:"
        if mode == _QUERY:
            return True
        if mode == _FRAGMENT:
            return False
        # host and zone: fall through to "escape everything else" below.
    return not (mode == _FRAGMENT and c in b"!()*")


def _unhex(c: int) -> int:
    if ord("0") <= c <= ord("9"):
        return c - ord("0")
    if ord("a") <= c <= ord("f"):
        return c - ord("a") + 10
    return c - ord("A") + 10


def _unescape(s: bytes, mode: str) -> bytes:
    """Go's ``unescape``: validate escapes (and host characters), then decode them."""
    i = 0
    count = 0
    has_plus = False
    while i < len(s):
        c = s[i]
        if c == ord("%"):
            count += 1
            if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise _ParseError("invalid URL escape")
            if mode == _HOST and _unhex(s[i + 1]) < 8 and s[i : i + 3] != b"%25":
                raise _ParseError("invalid URL escape in host")
            if mode == _ZONE:
                value = _unhex(s[i + 1]) << 4 | _unhex(s[i + 2])
                if s[i : i + 3] != b"%25" and value != ord(" ") and _should_escape(value, _HOST):
                    raise _ParseError("invalid URL escape in zone")
            i += 3
        elif c == ord("+"):
            has_plus = mode == _QUERY
            i += 1
        else:
            if mode in (_HOST, _ZONE) and c < 0x80 and _should_escape(c, mode):
                raise _ParseError("invalid character in host name")
            i += 1
    if count == 0 and not has_plus:
        return s
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == ord("%"):
            out.append(_unhex(s[i + 1]) << 4 | _unhex(s[i + 2]))
            i += 3
            continue
        out.append(ord(" ") if c == ord("+") and mode == _QUERY else c)
        i += 1
    return bytes(out)


def _escape(s: bytes, mode: str) -> bytes:
    """Go's ``escape``."""
    out = bytearray()
    for c in s:
        if c == ord(" ") and mode == _QUERY:
            out.append(ord("+"))
        elif _should_escape(c, mode):
            out += b"%" + bytes((_UPPER_HEX[c >> 4], _UPPER_HEX[c & 15]))
        else:
            out.append(c)
    return bytes(out)


def _valid_encoded(s: bytes, mode: str) -> bool:
    for c in s:
        if c in b"!$&'()*+,;=:@[]%":
            continue
        if _should_escape(c, mode):
            return False
    return True


def _valid_optional_port(port: bytes) -> bool:
    if not port:
        return True
    if port[0] != ord(":"):
        return False
    return all(ord("0") <= b <= ord("9") for b in port[1:])


def _parse_ipv6(text: str) -> bool:
    """Whether ``text`` is an IPv6 address (optionally with a zone), as netip.ParseAddr wants."""
    address, _, zone = text.partition("%")
    if "%" in text and not zone:
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return parsed.version == 6


def _parse_host(scheme: bytes, host: bytes) -> bytes:
    """Go's ``parseHost``."""
    open_bracket = host.rfind(b"[")
    if open_bracket > 0:
        raise _ParseError("invalid IP-literal")
    if open_bracket == 0:
        close_bracket = host.rfind(b"]")
        if close_bracket < 0:
            raise _ParseError("missing ']' in host")
        colon_port = host[close_bracket + 1 :]
        if not _valid_optional_port(colon_port):
            raise _ParseError("invalid port")
        colon_port = _unescape(colon_port, _HOST)
        hostname = host[1:close_bracket]
        zone_index = hostname.find(b"%25")
        if zone_index >= 0:
            unescaped = _unescape(hostname[:zone_index], _HOST) + _unescape(
                hostname[zone_index:], _ZONE
            )
        else:
            unescaped = _unescape(hostname, _HOST)
        if not _parse_ipv6(unescaped.decode("utf-8", "surrogateescape")):
            raise _ParseError("invalid IP-literal")
        return b"[" + unescaped + b"]" + colon_port
    first_colon = host.find(b":")
    if first_colon != -1:
        last_colon = host.rfind(b":")
        index = first_colon
        if last_colon != first_colon and scheme not in (b"http", b"https"):
            index = last_colon
        if not _valid_optional_port(host[index:]):
            raise _ParseError("invalid port")
    return _unescape(host, _HOST)


@dataclass
class _User:
    username: bytes
    password: bytes | None

    def string(self) -> bytes:
        text = _escape(self.username, _USER)
        if self.password is not None:
            text += b":" + _escape(self.password, _USER)
        return text


def _parse_authority(scheme: bytes, authority: bytes) -> tuple[_User | None, bytes]:
    at = authority.rfind(b"@")
    host = _parse_host(scheme, authority[at + 1 :] if at >= 0 else authority)
    if at < 0:
        return None, host
    userinfo = authority[:at]
    if not all(c in _USERINFO_OK for c in userinfo):  # non-ASCII is refused too
        raise _ParseError("invalid userinfo")
    if b":" not in userinfo:
        return _User(_unescape(userinfo, _USER), None), host
    username, _, password = userinfo.partition(b":")
    return _User(_unescape(username, _USER), _unescape(password, _USER)), host


def _get_scheme(raw: bytes) -> tuple[bytes, bytes]:
    for i, c in enumerate(raw):
        if ord("a") <= c <= ord("z") or ord("A") <= c <= ord("Z"):
            continue
        if ord("0") <= c <= ord("9") or c in b"+-.":
            if i == 0:
                return b"", raw
            continue
        if c == ord(":"):
            if i == 0:
                raise _ParseError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return b"", raw
    return b"", raw


@dataclass
class GoURL:
    """A parsed URL with Go's fields (bytes, as Go strings are)."""

    scheme: bytes = b""
    opaque: bytes = b""
    user: _User | None = None
    host: bytes = b""
    path: bytes = b""
    raw_path: bytes = b""
    raw_query: bytes = b""
    force_query: bool = False
    fragment: bytes = b""
    raw_fragment: bytes = b""
    omit_host: bool = False

    def set_path(self, escaped: bytes) -> None:
        self.path = _unescape(escaped, _PATH)
        self.raw_path = b"" if _escape(self.path, _PATH) == escaped else escaped

    def escaped_path(self) -> bytes:
        if self.raw_path and _valid_encoded(self.raw_path, _PATH):
            try:
                if _unescape(self.raw_path, _PATH) == self.path:
                    return self.raw_path
            except _ParseError:
                pass
        if self.path == b"*":
            return b"*"
        return _escape(self.path, _PATH)

    def escaped_fragment(self) -> bytes:
        if self.raw_fragment and _valid_encoded(self.raw_fragment, _FRAGMENT):
            try:
                if _unescape(self.raw_fragment, _FRAGMENT) == self.fragment:
                    return self.raw_fragment
            except _ParseError:
                pass
        return _escape(self.fragment, _FRAGMENT)

    def has_query_values(self) -> bool:
        """``len(u.Query()) > 0``: at least one well-formed key in the query string."""
        if self.raw_query.count(b"&") + 1 > _MAX_QUERY_PARAMS:
            return False  # Go refuses to parse the query at all
        for segment in self.raw_query.split(b"&"):
            if not segment or b";" in segment:
                continue
            key, _, value = segment.partition(b"=")
            try:
                _unescape(key, _QUERY)
                _unescape(value, _QUERY)
            except _ParseError:
                continue
            return True
        return False

    def string(self) -> str:
        """Go's ``URL.String``."""
        buf = bytearray()
        if self.scheme:
            buf += self.scheme + b":"
        if self.opaque:
            buf += self.opaque
        else:
            if (self.scheme or self.host or self.user is not None) and not (
                self.omit_host and not self.host and self.user is None
            ):
                if self.host or self.path or self.user is not None:
                    buf += b"//"
                if self.user is not None:
                    buf += self.user.string() + b"@"
                if self.host:
                    buf += _escape(self.host, _HOST)
            path = self.escaped_path()
            if path and path[0] != ord("/") and self.host:
                buf += b"/"
            if not buf and b":" in path.split(b"/", 1)[0]:
                buf += b"./"
            buf += path
        if self.force_query or self.raw_query:
            buf += b"?" + self.raw_query
        if self.fragment:
            buf += b"#" + self.escaped_fragment()
        return bytes(buf).decode("utf-8", "surrogateescape")


def _parse(raw: bytes) -> GoURL:
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise _ParseError("invalid control character in URL")
    url = GoURL()
    if raw == b"*":
        url.path = b"*"
        return url
    scheme, rest = _get_scheme(raw)
    url.scheme = scheme.lower()
    if rest.endswith(b"?") and rest.count(b"?") == 1:
        url.force_query = True
        rest = rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition(b"?")
    if not rest.startswith(b"/"):
        if url.scheme:
            url.opaque = rest
            return url
        if b":" in rest.split(b"/", 1)[0]:
            raise _ParseError("first path segment in URL cannot contain colon")
    if (url.scheme or not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, rest = rest[2:], b""
        slash = authority.find(b"/")
        if slash >= 0:
            authority, rest = authority[:slash], authority[slash:]
        url.user, url.host = _parse_authority(url.scheme, authority)
    elif url.scheme and rest.startswith(b"/"):
        url.omit_host = True
    url.set_path(rest)
    return url


def parse_go_url(raw: str) -> GoURL | None:
    """Go's ``url.Parse(raw)``; ``None`` where Go returns an error."""
    data = raw.encode("utf-8", "surrogateescape")
    head, _, fragment = data.partition(b"#")
    try:
        url = _parse(head)
        if fragment:
            url.fragment = _unescape(fragment, _FRAGMENT)
            url.raw_fragment = b"" if _escape(url.fragment, _FRAGMENT) == fragment else fragment
    except _ParseError:
        return None
    return url


def go_path_clean(path: str) -> str:
    """Go's ``path.Clean`` (lexical; ``//`` collapses, unlike :func:`posixpath.normpath`)."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(element)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def go_path_join(*elements: str) -> str:
    """Go's ``path.Join``: the non-empty elements joined by ``/`` and cleaned; ``""`` if none."""
    present = [e for e in elements if e]
    if not present:
        return ""
    return go_path_clean("/".join(present))
