"""Shared metadata ("the blockchain"): policies, the local ledger and the commands that build and read them.

``policy.py`` holds what a policy is (shape, id, date), ``rules.py`` what each
type must hold, ``ledger.py`` the node's local copy (one policy per line,
rewritten crash-safe), ``build.py`` and ``commands.py`` the commands.
docs/metadata.md says what exists and what comes next.
"""
