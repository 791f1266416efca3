"""The one place that puts the node together: importing this module declares every command.

Each capability package declares its own commands (``anynode/<capability>/commands.py``
and friends); the grammar never imports them and neither does ``node.py``. The
edges (``cli.py``, the REPL, scripts, the tests' conftest) import this module
before they make a Node, and ``Registry.default()`` refuses to hand out an
empty table, so a missing import fails loudly instead of giving a node that
knows no command.
"""

from __future__ import annotations

from anynode.data import commands as data_commands, partition_commands, tsd_commands
from anynode.metadata import (
    build as metadata_build,
    commands as metadata_commands,
    commands_select,
    config_commands,
    maintenance_commands,
    master_commands,
    platforms,
    sync_commands,
    view_commands,
)
from anynode.operator import commands as operator_commands
from anynode.query import commands as query_commands
from anynode.rest import client_commands, commands as rest_commands
from anynode.scheduler import commands as scheduler_commands, retention_commands
from anynode.shell import echo_queue, files, help, host, language, node, python_cmd, refused, system_cmd, tracing
from anynode.streaming import commands as streaming_commands
from anynode.tcp import commands as tcp_commands

#: Every module that declares commands, in the order they are loaded.
COMMAND_MODULES = (node, language, help, files, echo_queue, tracing, host, refused, python_cmd, system_cmd,
                   data_commands, tsd_commands, partition_commands, tcp_commands, rest_commands, client_commands,
                   operator_commands, streaming_commands, scheduler_commands, retention_commands, metadata_build,
                   metadata_commands, commands_select, config_commands, platforms, master_commands,
                   maintenance_commands, sync_commands, view_commands, query_commands)
