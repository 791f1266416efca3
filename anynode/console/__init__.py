"""The console: a running node's control socket, and the ``anynode`` client that attaches to it.

A node process that holds its home (``anynode process``, the prompt) serves
a Unix socket at ``<home>/run/console.sock`` (``anynode/console/server.py``).
``anynode -e``, ``anynode`` and ``anynode < file`` on a home that is in
use attach to it (``anynode/console/client.py``): the running node runs
each line as a local command (the same path and permissions as its own
prompt), and the output streams back. Only the node's own user may connect:
the directory is 0700, the socket 0600, and the server checks the peer's uid
(``SO_PEERCRED``), so loosened permissions do not let another user in.
"""
