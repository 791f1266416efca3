"""Building policies in variables: ``set policy``, ``create policy``, ``blockchain prepare policy``.

A policy under construction is JSON text in a node variable, as in AnyLog:
``set policy p [operator] = {}`` starts it, ``set policy p [operator][port] =
!port.int`` adds to it, ``create policy operator with defaults where ...``
makes one in a single line, and ``blockchain prepare policy !p`` gives it its
id and date. A JSON literal (``p = {...}``, over several lines in a ``<...>``
block of a script) is kept as typed by the assignment itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

from anynode import safejson
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.tokens import BRACKET, GROUP, OP, QUOTED, STRING, WORD, Token
from anynode.metadata.policy import Expand, add_id_date, parse_policy, to_line
from anynode.results import Empty, Message, Result
from anynode.secret import is_secret_name

BLOCKCHAIN = ("blockchain",)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

#: ``create policy TYPE with defaults``: what a node policy gets when it does not say (AnyLog's table).
DEFAULTS: dict[str, tuple[tuple[str, Any], ...]] = {
    kind: (("ip", "!external_ip"), ("internal_ip", "!ip"), ("port", port), ("rest_port", port + 1))
    for kind, port in (("master", 32048), ("operator", 32148), ("query", 32348), ("publisher", 32248))
}


def expander(ctx: Context) -> Expand:
    """Expands one ``!name[.cast]`` word as the command line would (secrets masked for peers)."""
    def expand(word: str) -> tuple[str, tuple[str, ...], str | None]:
        tok = ctx.expand([Token(word, WORD, 0, len(word))])[0]
        return tok.text, tok.missing, tok.typed

    return expand


def _undefined(tok: Token) -> CommandSyntaxError:
    return CommandSyntaxError(f"{', '.join(tok.missing)} is not defined", offset=tok.start,
                              hint="set it first (name = value), or quote '!name' to keep it as text")


def _keys(ctx: Context, tok: Token) -> list[str]:
    """``[config][!node_type]`` -> ["config", "operator"]; quotes around a key are removed."""
    text = tok.text
    segments = _SEGMENT.findall(text)
    if tok.kind not in (BRACKET, WORD) or not segments or "".join(f"[{s}]" for s in segments) != text:
        raise CommandSyntaxError(f"'{text}' is not a policy path", offset=tok.start,
                                 hint="write the keys in brackets: [operator][name]")
    keys = []
    for seg in segments:
        seg = seg.strip()
        if len(seg) > 1 and seg[0] == seg[-1] and seg[0] in "'\"":
            seg = seg[1:-1]
        elif "!" in seg or "$" in seg:
            expanded = ctx.expand([Token(seg, WORD, tok.start, tok.end)])[0]
            if expanded.missing:
                raise _undefined(expanded)
            seg = expanded.text
        if not seg:
            raise CommandSyntaxError(f"'{text}' has an empty key", offset=tok.start, hint="write e.g. [operator][name]")
        keys.append(seg)
    return keys


def _value(tok: Token) -> Any:
    """What a ``set policy`` value word stores: typed casts stay typed, JSON stays JSON, '...' stays literal."""
    if tok.missing:
        raise _undefined(tok)
    text = tok.text
    if tok.kind == QUOTED:
        return text[1:-1]
    if tok.kind in (STRING, GROUP):
        return text
    if tok.kind == OP:
        raise CommandSyntaxError(f"'{text}' is not a value", offset=tok.start, hint="write e.g. = !name")
    if tok.typed in ("int", "len", "float"):
        if not text:
            raise CommandSyntaxError(f"the value is not a number ('{tok.typed}' of an empty or wrong value)",
                                     offset=tok.start, hint="check the variable holds a number")
        return float(text) if tok.typed == "float" else int(text)
    if tok.typed == "bool":
        return text == "true"
    if len(text) > 1 and text[0] + text[-1] in ("{}", "[]"):
        try:
            return safejson.loads(text)
        except ValueError as exc:
            if tok.kind == BRACKET:
                raise CommandSyntaxError(f"not valid JSON: {exc}", offset=tok.start,
                                         hint="check quotes, commas and brackets") from None
    return text


def _policy_in(ctx: Context, name: str) -> dict[str, Any]:
    current = ctx.node.get_var(name)
    if not current:
        return {}
    try:
        policy = json.loads(current)
    except ValueError:
        policy = None
    if not isinstance(policy, dict):
        raise CommandSyntaxError(f"'{name}' does not hold a JSON object",
                                 hint=f"start it again: {name} = \"\" then set policy {name} [type] = {{}}")
    return policy


def _assign(policy: dict[str, Any], keys: list[str], op: str, value: Any, where: Token) -> None:
    inner: Any = policy
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(inner, dict) or key not in inner:
            path = "".join(f"[{k}]" for k in keys[:depth + 1])
            raise CommandSyntaxError(f"the policy has no {path} yet", offset=where.start,
                                     hint=f"set it first: set policy p {path} = {{}}")
        inner = inner[key]
    last = keys[-1]
    if not isinstance(inner, dict):
        raise CommandSyntaxError(f"[{keys[-2]}] does not hold an object", offset=where.start)
    if op == "=":
        inner[last] = value
    elif isinstance(inner.get(last), list):
        inner[last].append(value)
    else:
        raise CommandSyntaxError(f"[{last}] does not hold a list to add to", offset=where.start,
                                 hint=f"start it: set policy p ...[{last}] = []")


@command("set policy", raw=True,
         syntax="<name> [<key>][<key>...] = <value>",
         http="POST", keywords=BLOCKCHAIN, examples=[
    "set policy new_policy [config] = {}",
    "set policy new_policy [config][name] = !config_name",
    "set policy new_policy [!node_type][port] = !anylog_server_port.int",
    "set policy new_policy [config][port] = '!anylog_server_port.int'",
    'set policy p [cluster][table] = [{"dbms": "demo", "name": "sensor"}]',
    "set policy p [operator][main] = !is_main.bool and [operator][city] = Rome",
])
def set_policy(ctx: Context, tokens: list[Token]) -> Result:
    """Build a policy in a variable, one key at a time: set policy <name> [type][key] = <value>.

    `[type] = {}` starts the policy (an unset variable starts empty); deeper
    keys need their parent set first. `!name` works inside the brackets.
    The value: `!x.int`, `!x.float` and `!x.bool` stay a number or
    true/false, `{...}` and `[...]` are JSON, `'!x'` in single quotes stays
    the literal text (resolved later, e.g. by `config from policy`),
    anything else is text. `[key] + value` adds to a list. Several
    assignments join with `and`.
    """
    if not tokens or tokens[0].kind != WORD:
        raise CommandSyntaxError("'set policy' needs a variable name", hint="write: set policy p [operator] = {}")
    first = tokens[0]
    name, bracket, attached = first.text.partition("[")
    rest = list(tokens[1:])
    if bracket:  # p[config][ip] = x
        rest.insert(0, Token("[" + attached, BRACKET, first.start + len(name), first.end))
    if not _NAME.fullmatch(name):
        raise CommandSyntaxError(f"'{name}' is not a variable name", offset=first.start,
                                 hint="write: set policy new_policy [operator] = {}")
    policy = _policy_in(ctx, name)
    secret = ctx.tainted
    i = 0
    while True:
        if len(rest) < i + 3 or not (rest[i + 1].is_op("=") or rest[i + 1].is_op("+")):
            at = rest[i] if i < len(rest) else first
            raise CommandSyntaxError("'set policy' needs [key] = value", offset=at.start,
                                     hint=f"write: set policy {name} [type][key] = value")
        keys = _keys(ctx, rest[i])
        _assign(policy, keys, rest[i + 1].text, _value(rest[i + 2]), rest[i])
        secret = secret or is_secret_name(keys[-1])
        i += 3
        if i == len(rest):
            break
        if not rest[i].is_word("and"):
            raise CommandSyntaxError(f"unexpected '{rest[i].text}' after the value", offset=rest[i].start,
                                     hint="quote a value with spaces; join assignments with 'and'")
        if i + 1 == len(rest):
            raise CommandSyntaxError("'and' at the end is not followed by [key] = value", offset=rest[i].start)
        i += 1
    if secret or ctx.tainted:
        ctx.node.secrets.mark(name)
    ctx.node.set_var(name, to_line(policy))
    return Empty()


def _where_pairs(tokens: list[Token]) -> dict[str, str]:
    """``k = v and k2 = v w`` -> {k: "v", k2: "v w"}: free keys, values as text."""
    pairs: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        key = tokens[i]
        if key.kind != WORD:
            raise CommandSyntaxError(f"expected key = value, found '{key.text}'", offset=key.start,
                                     hint="write: where company = acme and name = c1")
        if i + 1 >= len(tokens) or not tokens[i + 1].is_op("="):
            raise CommandSyntaxError(f"'{key.text}' needs '= value'", offset=key.start)
        j = i + 2
        while j < len(tokens) and not tokens[j].is_word("and"):
            j += 1
        value = tokens[i + 2:j]
        if not value:
            raise CommandSyntaxError(f"'{key.text}' has no value", offset=key.start)
        missing = next((t for t in value if t.missing), None)
        if missing is not None:
            raise _undefined(missing)
        if key.text in pairs:
            raise CommandSyntaxError(f"'{key.text}' is given twice", offset=key.start, hint="give it once")
        pairs[key.text] = " ".join(t.text for t in value)
        i = j + 1
        if j < len(tokens) and i >= len(tokens):
            raise CommandSyntaxError("'and' at the end is not followed by key = value", offset=tokens[j].start)
    return pairs


@command("create policy", raw=True,
         syntax="<type> [with defaults] [where <key> = <value> and ...]",
         keywords=BLOCKCHAIN, examples=[
    "new_policy = create policy cluster with defaults where company = acme and name = c1",
    "p = create policy master with defaults where company = acme and name = m1",
    "p = create policy config where name = op-config and company = acme",
])
def create_policy(ctx: Context, tokens: list[Token]) -> Result:
    """Make a policy in one line: create policy <type> [with defaults] where key = value and ...; shows its JSON.

    Values stay text (`port = 32048` is "32048"). `with defaults` adds what a
    master, operator, query or publisher policy lacks (ip = !external_ip or
    else !ip, internal_ip = !ip, port and rest_port: 32048/9, 32148/9,
    32348/9, 32248/9) and checks the policy against the ledger as an insert
    would (an operator gets its member number). Assign it: `p = create policy ...`.
    """
    if not tokens or tokens[0].kind not in (WORD, STRING) or not tokens[0].text:
        raise CommandSyntaxError("'create policy' needs a policy type", hint="write: p = create policy "
                                 "cluster with defaults where company = acme and name = c1")
    kind = tokens[0].text.lower()
    rest = tokens[1:]
    defaults = bool(rest) and rest[0].is_word("with")
    if defaults:
        if len(rest) < 2 or not rest[1].is_word("defaults"):
            raise CommandSyntaxError("'with' must be followed by 'defaults'", offset=rest[0].start,
                                     hint=f"write: create policy {kind} with defaults where ...")
        rest = rest[2:]
    if rest and not rest[0].is_word("where"):
        raise CommandSyntaxError(f"unexpected '{rest[0].text}'", offset=rest[0].start,
                                 hint=f"write: create policy {kind} where name = x and company = y")
    attrs: dict[str, Any] = dict(_where_pairs(rest[1:])) if rest else {}
    if rest and not attrs:
        raise CommandSyntaxError("'where' is not followed by key = value", offset=rest[0].start)
    policy = {kind: attrs}
    if defaults:
        node = ctx.node
        for key, value in DEFAULTS.get(kind, ()):
            if key not in attrs:
                if isinstance(value, str):
                    value = (node.get_var(value[1:]) or (node.get_var("ip") if key == "ip" else "") or "").lower()
                attrs[key] = value
        from anynode.metadata.ledger import ledger  # here: a start-up that never builds a policy skips them
        from anynode.metadata.rules import validate

        validate(policy, ledger(node).policies())
    return Message(to_line(policy))


@command("blockchain prepare policy", raw=True,
         syntax="<policy>",
         keywords=BLOCKCHAIN, examples=[
    "blockchain prepare policy !new_policy",
])
def blockchain_prepare_policy(ctx: Context, tokens: list[Token]) -> Result:
    """Give the policy in a variable its id and date (AnyLog's id rule), in place: blockchain prepare policy !p.

    The id is the one `blockchain insert` would give, so it can be used
    before the policy is published. Given a JSON value instead of `!name`
    (or run after `if ... then`, which passes the value rather than the
    name), the prepared policy is shown instead of stored.
    """
    if len(tokens) != 1:
        raise CommandSyntaxError("'blockchain prepare policy' takes one policy (!name)",
                                 hint="write: blockchain prepare policy !new_policy")
    tok = tokens[0]
    if tok.missing:
        raise _undefined(tok)
    typed = ctx.raw_rest[0] if len(ctx.raw_rest) == 1 else tok
    named = re.fullmatch(r"!([A-Za-z_][A-Za-z0-9_]*)", typed.text) if typed.kind == WORD else None
    policy = add_id_date(parse_policy(tok.text, expander(ctx)))
    text = to_line(policy)
    if named is None:
        return Message(text)
    ctx.node.set_var(named.group(1), text)
    return Empty()
