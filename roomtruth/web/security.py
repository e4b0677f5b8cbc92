"""Safety of the local web app: who may talk to it, what a request may change, where it may look.

Rules (issue 16, "Safety"):

* **Bind** to 127.0.0.1 unless ``--host`` says otherwise; any other address requires the
  access token printed at start-up on *every* request, the event streams included (query
  ``?token=`` once, after which an HttpOnly, SameSite=Strict cookie carries it, or the header
  ``X-Roomtruth-Token``).
* **Host header** must name this server (an allow-list of ``host:port`` spellings), which
  defeats DNS rebinding against the loopback server.
* **State changes** only by POST, each with the CSRF token (form field ``csrf`` or header
  ``X-CSRF-Token``) and a same-origin check: an ``Origin`` (or, without it, ``Referer``) that
  is not this server is refused.  A GET never changes state and never starts a sweep.
* **Paths** from a request are names, resolved inside the workspace and checked to stay there
  (:func:`inside`), so ``..``, absolute paths and symlinks out are refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Guard", "inside", "is_loopback", "safe_name", "PathRefused"]

TOKEN_COOKIE = "rt_token"
TOKEN_HEADER = "x-roomtruth-token"
CSRF_HEADER = "x-csrf-token"


class PathRefused(ValueError):
    """A request named a path outside the workspace (or a malformed name)."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def safe_name(name: str, *, what: str = "name") -> str:
    """A single path component a request may use: no separators, no ``..``, not hidden,
    printable, at most 200 characters."""
    if (not name or len(name) > 200 or name in (".", "..") or name.startswith(".") or "/" in name
            or "\\" in name or "\x00" in name or not name.isprintable()):
        raise PathRefused(f"{what} {name[:60]!r} is not a plain name inside the workspace")
    return name


def inside(base: Path, *parts: str) -> Path:
    """``base/parts...`` resolved, refused unless it stays inside ``base`` (symlinks followed)."""
    root = base.resolve()
    p = root.joinpath(*[safe_name(x, what="path part") for x in parts]).resolve()
    if p != root and root not in p.parents:
        raise PathRefused(f"{'/'.join(parts)} leads outside the workspace")
    return p


class Guard:
    """Checks one request against the server's token, CSRF secret and allowed origins.

    Parameters
    ----------
    host : str
        The address the server binds.
    port : int
    token : str or None
        Required access token (None: none required, only for loopback binds).
    """

    def __init__(self, host: str, port: int, *, token: str | None) -> None:
        if token is None and not is_loopback(host):
            raise ValueError("a server bound to a non-loopback address needs a token")
        self.host = host
        self.port = int(port)
        self.token = token
        self.csrf = secrets.token_urlsafe(24)
        names = {host, "127.0.0.1", "localhost", "[::1]"} if is_loopback(host) else {host}
        if host in ("0.0.0.0", "::"):
            names = None             # any Host: the token is the gate
        self.allowed_hosts = None if names is None else {f"{n}:{self.port}" for n in names} | (
            {n for n in names} if self.port == 80 else set())

    # -- checks; each returns None when fine, else the refusal sentence
    def check_host(self, host_header: str | None) -> str | None:
        if self.allowed_hosts is None:
            return None
        if not host_header or host_header.lower() not in self.allowed_hosts:
            return f"this server answers as {self.host}:{self.port}, not {host_header!r}"
        return None

    def check_token(self, query_token: str | None, cookie_token: str | None, header_token: str | None) -> str | None:
        if self.token is None:
            return None
        for t in (header_token, query_token, cookie_token):
            if t and hmac.compare_digest(t.encode(), self.token.encode()):
                return None
        return "this server needs its access token (printed by 'roomtruth serve' at start-up): open the URL it printed"

    def check_state_change(self, method: str, csrf_token: str | None, origin: str | None, referer: str | None,
                           host_header: str | None) -> str | None:
        if method != "POST":
            return "changes are made with POST only"
        if not csrf_token or not hmac.compare_digest(csrf_token.encode(), self.csrf.encode()):
            return "the form is stale or came from another site (CSRF token missing or wrong); reload the page"
        src = origin if origin not in (None, "", "null") else None
        if src is None and referer:
            parts = urlsplit(referer)
            src = f"{parts.scheme}://{parts.netloc}"
        if origin == "null":
            return "a request from an opaque origin is refused"
        if src is not None:
            parts = urlsplit(src)
            if parts.scheme not in ("http", "https") or (host_header or "").lower() != parts.netloc.lower():
                return f"a request from {src} is not from this page's origin; refused"
        return None
