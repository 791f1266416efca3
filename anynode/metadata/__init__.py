"""Shared metadata ("the blockchain"): policies, the local ledger and the commands that build and read them.

``policy.py`` holds what a policy is (shape, id, date), ``rules.py`` what each
type must hold, ``ledger.py`` the node's local copy (one policy per line,
rewritten crash-safe), ``build.py`` and ``commands.py`` the commands;
``select.py``, ``bring.py`` and ``paths.py`` the ``where`` and ``bring`` language
(``commands_select.py``: ``from !var bring``). docs/metadata.md says what exists
and what comes next; docs/metadata-query.md describes where and bring.
"""
