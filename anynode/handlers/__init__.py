"""Node commands, one family per module; importing this package registers them all."""

from anynode.handlers import data, help, language, network, node, operator, rest, streaming, tsd  # noqa: F401
import anynode.scheduler.commands  # noqa: F401,E402 - the scheduler capability registers its own commands
