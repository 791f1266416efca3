"""TLS contexts for node-to-node connections: the server's (optionally asking peers for a certificate)
and the client's (trusting one CA, checking certificates rather than host names)."""

from __future__ import annotations

import ssl

from anynode.errors import CommandSyntaxError


def server_ssl_context(cert: str, key: str, ca: str | None = None) -> ssl.SSLContext:
    """A TLS server context; with ``ca``, peers must present a certificate it signed.

    Raises:
        CommandSyntaxError: a file that is missing or not a certificate/key.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        if ca:
            ctx.load_verify_locations(ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise CommandSyntaxError(f"cannot load the TLS files: {exc}",
                                 hint="give cert_file and key_file in PEM form") from None
    return ctx


def client_ssl_context(ca: str) -> ssl.SSLContext:
    """A TLS client context trusting ``ca`` (peers are checked against it, not by host name)."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return ctx
