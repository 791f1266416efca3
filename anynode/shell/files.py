"""Files on this node: ``file copy`` (``run client (...) file copy`` sends one to peers), ``file test``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from anynode import values
from anynode.errors import AnyNodeError, CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg
from anynode.grammar.tokens import Token
from anynode.grammar.types import FilePath
from anynode.results import Message, Result


@command("file copy", args=[Arg("source", FilePath(), help="the file to copy"),
                            Arg("destination", FilePath(), help="the new file, or a directory to copy into")],
         http="POST", keywords=("file",),
         examples=["file copy !tmp_dir/rows.json !watch_dir/demo.readings.0.json",
                   "file copy data/readings.json !bkup_dir/",
                   "file copy !tmp_dir/rows.json !prep_dir/"])
def file_copy(ctx: Context, source: str, destination: str) -> Result:
    """Copy a file on this node; to copy it to other nodes, send it with run client (ip:port) file copy.

    A destination that is a directory (or ends with '/') keeps the file's
    name. The copy is written under a hidden temporary name and renamed into
    place, so an operator watching the directory never takes half a file.
    """
    src = Path(source)
    if not src.is_file():
        raise CommandSyntaxError(f"no file '{source}' to copy", hint="give the path of a file on this node")
    dest = Path(destination)
    if destination.endswith("/") or dest.is_dir():
        dest = dest / src.name
    if not dest.parent.is_dir():
        raise CommandSyntaxError(f"no directory '{dest.parent}' to copy into",
                                 hint="create it first, or run 'create work directories' for the node's own")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AnyNodeError(f"cannot copy '{source}' to '{dest}': {exc.strerror or exc}") from None
    return Message(f"copied {source} to {dest} ({dest.stat().st_size} bytes)")


@command("file test", raw=True, syntax="<path>", keywords=("file",),
         examples=["file test !watch_dir/readings.json", "is_dir = file test !local_scripts"])
def file_test(ctx: Context, tokens: list[Token]) -> Result:
    """Say whether a file or directory exists on this node: true or false.

    A path that names an unset variable is empty, so the answer is false,
    as in AnyLog. Local only: peers and REST clients may not probe the
    node's files.
    """
    path = " ".join(t.text for t in tokens).strip()
    return Message("true" if path and os.path.exists(values.parse_path(path)) else "false")
