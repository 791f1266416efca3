"""The node as an HTTP client (``rest get|post|put|delete``): one request, bounded in time and size.

Standard library only (``http.client``): a connect or read that takes longer
than the timeout, a host that cannot be reached, a TLS certificate that does
not verify and a reply larger than :data:`MAX_REPLY` are each an error with
one line saying which; a cancelled request (Ctrl-C) has its socket shut down
at once.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from anynode.cancel import Cancel
from anynode.errors import CommandSyntaxError, QueryCancelled, RemoteError, RemoteTimeout

MAX_REPLY = 16 * 1024 * 1024  # bytes of a reply body
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class HttpReply:
    """What the server answered."""

    status: int
    reason: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        """The media type of the body, lower case, without parameters."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def text(self) -> str:
        """The body as text (UTF-8 unless the server names another charset)."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


def request(method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float,
            cancel: Cancel | None = None) -> HttpReply:
    """Send one request (following up to MAX_REDIRECTS redirects of a GET) and read the whole reply.

    Raises:
        CommandSyntaxError: the URL is not http:// or https:// with a host.
        RemoteTimeout: no connection or no reply within ``timeout`` seconds (in all).
        RemoteError: the host cannot be found or reached, TLS failed, the reply is not HTTP or too large.
        QueryCancelled: ``cancel`` was cancelled while the request ran.
    """
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        reply = _once(method, url, headers, body, timeout, deadline, cancel)
        location = reply.headers.get("location")
        if method != "GET" or reply.status not in _REDIRECTS or not location:
            return reply
        url = urljoin(url, location)
    raise RemoteError(f"{url}: more than {MAX_REDIRECTS} redirects", hint="give the final URL")


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise CommandSyntaxError(f"'{url}' is not an http:// or https:// URL with a host",
                                 hint="write e.g. url = http://127.0.0.1:32049")
    try:
        port = parts.port
    except ValueError:
        raise CommandSyntaxError(f"'{url}' has a bad port", hint="write host:port with a port up to 65535") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme.lower() == "https":
        return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout,
                                           context=ssl.create_default_context()), path
    return http.client.HTTPConnection(parts.hostname, port, timeout=timeout), path


def _shutdown(socks: list[socket.socket]) -> None:
    for sock in socks:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # a recv() blocked on it returns at once
        except OSError:
            pass


def _once(method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float, deadline: float,
          cancel: Cancel | None) -> HttpReply:
    conn, path = _connection(url, timeout)
    socks: list[socket.socket] = []  # http.client lets go of its socket once a reply that closes it arrives
    try:
        with contextlib.ExitStack() as stack:
            if cancel is not None:
                stack.enter_context(cancel.hook(lambda: _shutdown(socks)))
            return _exchange(conn, socks, method, path, url, headers, body, deadline, cancel)
    except ValueError as exc:  # http.client refuses a header value with a line break, a bad method...
        raise CommandSyntaxError(f"{url}: the request cannot be sent ({exc})", hint="check the headers") from None
    except (OSError, http.client.HTTPException) as exc:
        if cancel is not None and cancel.cancelled:
            raise QueryCancelled(f"{url}: request cancelled ({cancel.reason})") from None
        raise _network_error(url, exc, timeout) from None
    finally:
        conn.close()


def _exchange(conn: http.client.HTTPConnection, socks: list[socket.socket], method: str, path: str, url: str,
              headers: dict[str, str], body: bytes | None, deadline: float, cancel: Cancel | None) -> HttpReply:
    def left() -> float:
        if cancel is not None and cancel.cancelled:
            raise ConnectionAbortedError("cancelled")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    conn.timeout = left()
    conn.connect()
    sock = conn.sock
    assert sock is not None
    socks.append(sock)
    sock.settimeout(left())
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = bytearray()
    while True:
        sock.settimeout(left())
        chunk = resp.read1(65536)
        if not chunk:
            break
        data.extend(chunk)
        if len(data) > MAX_REPLY:
            raise RemoteError(f"{url}: the reply is larger than {MAX_REPLY // 1024 // 1024} MB", hint="ask for less")
    return HttpReply(resp.status, resp.reason, url, bytes(data), {k.lower(): v for k, v in resp.getheaders()})


def _network_error(url: str, exc: Exception, timeout: float) -> RemoteError:
    """The one-line error for a failed request."""
    if isinstance(exc, TimeoutError):
        return RemoteTimeout(f"{url}: no answer within {timeout:g} s", hint="check the address, or give timeout = N")
    if isinstance(exc, socket.gaierror):
        return RemoteError(f"{url}: cannot find the host ({exc.strerror or exc})", hint="check the host name")
    if isinstance(exc, ConnectionRefusedError):
        return RemoteError(f"{url}: connection refused (nothing listens there)", hint="check the host and port")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RemoteError(f"{url}: the TLS certificate does not verify ({exc.verify_message})",
                           hint="use the server's name as in its certificate, or http://")
    if isinstance(exc, ssl.SSLError):
        return RemoteError(f"{url}: TLS failed ({exc.reason or exc})", hint="is it an https server?")
    if isinstance(exc, http.client.HTTPException):
        return RemoteError(f"{url}: not a valid HTTP reply ({type(exc).__name__})", hint="is it an HTTP server?")
    if isinstance(exc, OSError):
        return RemoteError(f"{url}: cannot reach it ({exc.strerror or exc})", hint="check the address")
    return RemoteError(f"{url}: the request failed ({type(exc).__name__}: {exc})")
