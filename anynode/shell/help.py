"""help, help index: generated from the command declarations."""

from __future__ import annotations

from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import Registry, command
from anynode.grammar.spec import Arg, CommandSpec
from anynode.grammar.types import TEXT, Words
from anynode.results import Message, Result, Table


def describe(spec: CommandSpec) -> str:
    """The full help text of one command, as `help <command>` shows it."""
    lines = [f"Usage:\n    {spec.usage()}", "", spec.summary]
    if spec.description:
        lines += ["", spec.description]
    if spec.args:
        lines += ["", "Arguments:"] + [f"    {a.usage():<24} {a.help}".rstrip() for a in spec.args]
    if spec.options:
        lines += ["", "Options (where name = value and ...):"]
        for opt in spec.options:
            shown = opt.default not in (None, "", []) and not opt.ignored
            default = f" (default: {opt.default})" if shown else ""
            need = " (required)" if opt.required else ""
            lines.append(f"    {opt.name:<16} {opt.type.accepts()}{need}{default}  {opt.summary}".rstrip())
    if spec.examples:
        lines += ["", "Examples:"] + [f"    {e}" for e in spec.examples]
    access = "peers and REST clients may run it" if spec.remote else "local only"
    lines += ["", f"Index: {', '.join(spec.keywords) or 'not indexed'}; {access}; REST method {spec.http}"]
    return "\n".join(lines)


def keyword_index(registry: Registry) -> dict[str, list[str]]:
    """Each help keyword and the commands indexed under it."""
    index: dict[str, list[str]] = {}
    for spec in registry:
        if spec.hidden:
            continue
        for key in spec.keywords or ("not indexed",):
            index.setdefault(key, []).append(spec.name)
    return {k: sorted(v) for k, v in sorted(index.items())}


@command("help", args=[Arg("command", Words(), required=False, help="the command words to explain")],
         remote=True, blocking=False, keywords=("help", "cli"),
         examples=["help", "help get processes", "help run tcp server"])
def help_(ctx: Context, command: Rest) -> Result:
    """List every command, or explain one: usage, options, examples."""
    registry = ctx.node.registry
    if not command:
        rows = [(s.name, s.summary) for s in registry if not s.hidden]
        return Table.of(["Command", "Summary"], rows, title="Commands (help <command> explains one)")
    words = [t.text for t in command]
    found = registry.match(words)
    if found is None and registry.continuations(words):
        return family(registry, words)
    if found is None or found[1] < len(words) and not found[0].args:
        raise registry.not_found(words)
    return Message(describe(found[0]))


def family(registry: Registry, words: list[str]) -> Table:
    """The commands that start with ``words`` (``get``, ``run tcp``) and what each does."""
    low = [w.lower() for w in words]
    rows = [(s.name, s.summary) for s in registry if not s.hidden and list(s.words[:len(low)]) == low]
    return Table.of(["Command", "Summary"], rows,
                    title=f"'{' '.join(low)}' starts {len(rows)} command(s); help <command> explains one")


@command("help index", args=[Arg("keyword", TEXT, required=False, help="a keyword, or the start of one; * for all")],
         remote=True, blocking=False, keywords=("help",), examples=["help index", "help index script", "help index *"])
def help_index(ctx: Context, keyword: str | None) -> Result:
    """List the help keywords, or the commands under the keywords that start with the given text."""
    index = keyword_index(ctx.node.registry)
    if not keyword:
        return Table.of(["Keyword", "Commands"], [(k, len(v)) for k, v in index.items()])
    picked = {k: v for k, v in index.items() if keyword == "*" or k.startswith(keyword.lower())}
    if not picked:
        return Message(f"no keyword starts with '{keyword}'; 'help index' lists them")
    return Table.of(["Keyword", "Command"], [(k, c) for k, cmds in picked.items() for c in cmds])
