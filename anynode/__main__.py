"""`python -m anynode` is the `anynode` command."""

from anynode.cli import main

main()
