"""``from <json> bring ...``: the bring clause of ``blockchain get`` on any JSON value."""

from __future__ import annotations

import ast
from typing import Any

from anynode import safejson
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg
from anynode.grammar.types import TEXT, Words
from anynode.results import Result

_HINT = 'give a JSON object or list, e.g. from !policy bring [*][name] (set policy = {"operator": {...}} first)'


def read_json(text: str) -> Any:
    """A JSON object or list from a variable's text; AnyLog's single-quoted form (``{'a': 'b'}``) is read too.

    Raises:
        CommandSyntaxError: the text is empty or is not a JSON object or list.
    """
    if not text.strip():
        raise CommandSyntaxError("'from' has an empty value", hint=_HINT)
    try:
        value = safejson.loads(text)
    except ValueError as exc:
        value, error = None, exc
        if "'" in text and not safejson.deeper_than(text, safejson.MAX_DEPTH):
            try:
                value = ast.literal_eval(text.strip())
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                value = None
        if value is None:
            raise CommandSyntaxError(f"'from' needs JSON: {error}", hint=_HINT) from None
    if not isinstance(value, (dict, list)):
        what = f"{type(value).__name__} {text.strip()[:40]!r}"
        raise CommandSyntaxError(f"'from' needs a JSON object or list, not {what}", hint=_HINT)
    return value


@command("from", args=[Arg("json", TEXT, help="a JSON object or list of objects, usually a variable: !policy"),
                       Arg("clause", Words(), rest=True, help="bring[.modifiers] <template> [separator = <text>]")],
         remote=True, keywords=("metadata", "json", "script"),
         examples=["from !policy bring [*][name]",
                   "policy_type = from !new_policy bring [*]",
                   "from !operators bring [operator][ip] : [operator][port] separator = ,",
                   "from !operators bring.table [*][name] [*][ip] [*][port]",
                   "operator_id = from !is_policy bring.last [*][id]",
                   "is_msg_broker = from !conn_info bring [Messaging][external]"])
def from_(ctx: Context, json: str, clause: Rest) -> Result:
    """Take values out of a JSON object or list, as `blockchain get ... bring` does.

    The bring clause is the same: paths such as [operator][name] (or [name],
    or [*][name] whatever the policy type; [*] alone is the type), literal
    text, the modifiers .first .last .unique .count .json .null .list .table
    .table.sort(i,j) .min .max .ip_port .children, and separator = <text>
    between the policies' results. See docs/metadata-query.md.
    """
    from anynode.metadata.bring import as_result, bring, parse_bring  # here: loaded on first use

    spec = parse_bring(list(clause))
    value = read_json(json)
    policies = [value] if isinstance(value, dict) else value
    return as_result(bring(policies, spec))
