"""Node commands, one family per module; importing this package registers them all."""

from anynode.handlers import help, language, node, rest  # noqa: F401
