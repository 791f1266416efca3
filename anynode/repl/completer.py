"""Completion at the prompt, from the command declarations.

First the command words, then the positional choices, then after ``where``
the option names not yet given, then after ``name =`` the values the
option's type can name. ``!`` completes node variable names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from anynode.errors import AnyNodeError
from anynode.grammar.registry import Registry
from anynode.grammar.tokens import WORD, Token, split_commands, tokenize
from anynode.protocols import NodeView


def _last_command(text: str) -> str:
    """The command being typed: the text after the last lone ``&``."""
    stripped = text.rstrip()
    if stripped.endswith(" &") or stripped == "&":
        return ""
    try:
        parts = split_commands(text)
    except AnyNodeError:
        return text
    return text[parts[-1][1]:] if parts else text


def candidates(registry: Registry, text: str, variables: Iterable[str] = ()) -> tuple[list[str], str]:
    """What may follow ``text``: (candidates, the partial word they replace)."""
    text = _last_command(text)
    try:
        tokens = tokenize(text)
    except AnyNodeError:
        return [], ""
    partial = ""
    if tokens and not text[-1:].isspace() and tokens[-1].end == len(text):
        partial = tokens[-1].text
        tokens = tokens[:-1]
    if partial.startswith("!"):
        return sorted("!" + v for v in variables if ("!" + v).startswith(partial)), partial
    words = []
    for tok in tokens:
        if tok.kind != WORD:
            break
        words.append(tok.text)
    found = registry.match(words) if words else None
    out: list[str] = []
    if len(words) == len(tokens):
        out = [w for w in registry.continuations(words) if w.startswith(partial.lower())]
    if found is not None:
        out += [c for c in _after_command(found[0], tokens[found[1]:], partial) if c not in out]
    return out, partial


def _after_command(spec: Any, rest: list[Token], partial: str) -> list[str]:
    where = next((i for i, t in enumerate(rest) if spec.opens_options(t)), None)
    low = partial.lower()
    if where is None:
        if spec.options and (len(rest) >= len([a for a in spec.args if a.required]) or not spec.args):
            options = [spec.clause] if spec.clause.startswith(low) else []
        else:
            options = []
        arg_index = len(rest)
        if arg_index < len(spec.args):
            choices = spec.args[arg_index].type.choices()
            return [c for c in choices if c.startswith(low)] + options
        return options
    clause = rest[where + 1:]
    given = {t.text.lower() for i, t in enumerate(clause) if i + 1 < len(clause) and clause[i + 1].is_op("=")}
    if clause and clause[-1].is_op("="):
        opt = spec.option(clause[-2].text) if len(clause) >= 2 else None
        return [c for c in opt.type.choices() if c.startswith(low)] if opt else []
    if not clause or clause[-1].is_word("and"):
        return [o.name for o in spec.options if o.name not in given and o.name.startswith(low)]
    if len(clause) >= 3 and clause[-2].is_op("="):
        return ["and"] if "and".startswith(low) else []
    return []


class NodeCompleter(Completer):
    """prompt_toolkit completer over a node's registry and variables."""

    def __init__(self, node: NodeView) -> None:
        self.node = node

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        found, partial = candidates(self.node.registry, document.text_before_cursor,
                                    self.node.variables().keys())
        for word in found:
            yield Completion(word, start_position=-len(partial))
