"""Scripts: loading (blocks, JSON over lines, labels), running (goto, call,
return, on error, end script, exit scripts, nesting), errors with FILE:LINE,
and check_script."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from anynode.errors import CommandSyntaxError, ScriptError
from anynode.script import MAX_SCRIPT_DEPTH, check_script, parse_script


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a script file under tmp_path; returns its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    return _write


@pytest.fixture
def out(node) -> list[str]:  # type: ignore[no-untyped-def]
    """The text of every result the node's scripts emit."""
    seen: list = []
    node.emit = seen.append
    return seen


def texts(results: list) -> list[str]:
    return [r.to_text() for r in results]


def run_file(node, path: Path) -> None:  # type: ignore[no-untyped-def]
    node.execute(f"process {path}")


# -- loading ------------------------------------------------------------------

def test_parse_script_skips_comments_and_blank_lines_and_keeps_line_numbers() -> None:
    script = parse_script("# head\n\necho a\n   # indented comment\n  echo b  \n")
    assert [(line.lineno, line.text) for line in script.lines] == [(3, "echo a"), (5, "echo b")]


def test_parse_script_block_over_several_lines() -> None:
    script = parse_script("<run tcp server where\n    external_ip = !ip and\n    threads = 6>\necho next\n")
    assert [(line.lineno, line.text) for line in script.lines] == [
        (1, "run tcp server where external_ip = !ip and threads = 6"), (4, "echo next")]


def test_parse_script_block_on_one_line() -> None:
    assert parse_script("<echo one line>").lines[0].text == "echo one line"


def test_parse_script_json_over_several_lines() -> None:
    script = parse_script('policy = {"a": {\n   "b": 1,\n   "c": [1,\n 2]\n}}\necho after\n')
    assert [(line.lineno, line.text) for line in script.lines] == [
        (1, 'policy = {"a": { "b": 1, "c": [1, 2] }}'), (6, "echo after")]


def test_parse_script_labels_point_at_the_next_line() -> None:
    script = parse_script("echo a\n:here:\necho b\n:end-script: \n")
    assert script.labels == {"here": 1, "end-script": 2}


def test_parse_script_duplicate_label_names_both_lines() -> None:
    with pytest.raises(ScriptError) as err:
        parse_script("echo a\n:x:\necho b\n:x:\n", "s.al")
    assert err.value.message == "s.al:4: label 'x' is defined twice (first at line 2)"


@pytest.mark.parametrize("text,line", [("echo a\n<echo never\nclosed\n", 2), ('echo a\np = {"a":\n1\n', 2)])
def test_parse_script_unclosed_block_or_bracket(text: str, line: int) -> None:
    with pytest.raises(ScriptError) as err:
        parse_script(text, "s.al")
    assert err.value.message.startswith(f"s.al:{line}: the ")


# -- running --------------------------------------------------------------------

def test_script_outputs_go_through_emit(node, out, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", """
        # a script
        echo start
        x = 5
        <y = one
           two>
        echo !x !y
    """)
    run_file(node, path)
    assert texts(out) == ["start", "5 one two"]


def test_script_goto_skips_to_the_label(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", """
        goto skip
        echo never
        :skip:
        echo after
    """))
    assert texts(out) == ["after"]


def test_script_goto_backwards_loops(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", """
        step = a
        :again:
        echo step !step
        if !step == b then goto done
        step = b
        goto again
        :done:
        echo done
    """))
    assert texts(out) == ["step a", "step b", "done"]


def test_script_call_and_return(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", """
        call sub
        echo back
        call sub
        end script
        :sub:
        echo in sub
        return
    """))
    assert texts(out) == ["in sub", "back", "in sub"]


def test_script_return_at_top_level_ends_the_script(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", "echo a\nreturn\necho never\n"))
    assert texts(out) == ["a"]


def test_script_end_script_ends_only_this_script(node, out, write) -> None:  # type: ignore[no-untyped-def]
    inner = write("inner.al", "echo inner\nend script\necho never\n")
    run_file(node, write("outer.al", f"process {inner}\necho outer continues\n"))
    assert texts(out) == ["inner", "outer continues"]


def test_script_exit_scripts_from_nested_ends_the_callers(node, out, write) -> None:  # type: ignore[no-untyped-def]
    inner = write("inner.al", "echo inner\nexit scripts\necho never\n")
    middle = write("middle.al", f"process {inner}\necho middle never\n")
    run_file(node, write("outer.al", f"echo outer\nprocess {middle}\necho outer never\n"))
    assert texts(out) == ["outer", "inner"]
    assert node.execute("echo the prompt still works").to_text() == "the prompt still works"


def test_script_nested_process_with_variable_path(node, out, write, tmp_path) -> None:  # type: ignore[no-untyped-def]
    write("lib.al", "echo from lib !who\n")
    run_file(node, write("main.al", f"scripts = {tmp_path}\nwho = main\nprocess !scripts/lib.al\necho done\n"))
    assert texts(out) == ["from lib main", "done"]


def test_script_if_state_is_restored_after_nested_process(node, out, write) -> None:  # type: ignore[no-untyped-def]
    inner = write("inner.al", "if 1 == 1 then\n")
    run_file(node, write("outer.al", f"if 1 == 2 then\nprocess {inner}\nelse echo caller's else\ndo echo never\n"))
    assert texts(out) == ["caller's else"]


def test_script_do_and_else_lines(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", """
        if !node_name == anynode then
        do echo one
        do echo two
        else echo never
        if 1 == 2 then
        do echo never
        else echo three
        <do echo
            never>
    """))
    assert texts(out) == ["one", "two", "three"]


@pytest.mark.parametrize("failing", ["get foo", "this is not a command", "get status where format = yaml"])
def test_script_on_error_goto(node, out, write, failing: str) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", f"""
        on error goto handler
        {failing}
        echo never
        :handler:
        echo handled
    """))
    assert texts(out) == ["handled"]


def test_script_on_error_call_returns_after_the_failing_line(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", """
        on error call report
        get foo
        echo continues
        end script
        :report:
        echo reported
        return
    """))
    assert texts(out) == ["reported", "continues"]


def test_script_on_error_ignore(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", "on error ignore\nget foo\nalso not a command\necho still here\n"))
    assert texts(out) == ["still here"]


def test_script_on_error_end_script(node, out, write) -> None:  # type: ignore[no-untyped-def]
    inner = write("inner.al", "on error end script\nget foo\necho never\n")
    run_file(node, write("outer.al", f"process {inner}\necho outer continues\n"))
    assert texts(out) == ["outer continues"]


def test_script_on_error_goto_missing_label(node, out, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", "on error goto nowhere\nget foo\n")
    with pytest.raises(ScriptError) as err:
        run_file(node, path)
    assert err.value.message == f"{path}:2: no label 'nowhere' in this script"


def test_script_error_stops_with_file_and_line(node, out, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", """
        # comment
        echo one
        <x = a
            b
            c>
        policy = {"a":
           1}

        get statuss
        echo never
    """)
    with pytest.raises(ScriptError) as err:
        run_file(node, path)
    assert err.value.message.startswith(f"{path}:9: unknown command 'get statuss'")
    assert err.value.line == 9
    assert texts(out) == ["one"]


def test_script_error_in_nested_script_names_both(node, out, write) -> None:  # type: ignore[no-untyped-def]
    inner = write("inner.al", "echo in\n\nbad command here\n")
    outer = write("outer.al", f"echo out\nprocess {inner}\n")
    with pytest.raises(ScriptError) as err:
        run_file(node, outer)
    assert err.value.message.startswith(f"{outer}:2: {inner}:3: unknown command 'bad command here'")


def test_script_error_offset_survives(node, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", "get status where formt = json\n")
    with pytest.raises(ScriptError) as err:
        run_file(node, path)
    assert isinstance(err.value.cause, CommandSyntaxError)
    assert err.value.cause.offset == len("get status where ")


def test_script_near_label_goto_names_the_line_and_spelling(node, out, write) -> None:  # type: ignore[no-untyped-def]
    # EdgeLake's own deployment scripts have ':create-contract-error' and ':partitioning-error;'
    path = write("s.al", "echo a\n:create-policy\necho b\ngoto create-policy\n")
    with pytest.raises(ScriptError) as err:
        run_file(node, path)
    assert err.value.message == (f"{path}:4: no label 'create-policy': line 2 is not a label; "
                                 f"write it as ':create-policy:'")
    assert texts(out) == ["a", "b"]


def test_script_goto_missing_label(node, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", "goto nowhere\n")
    with pytest.raises(ScriptError, match=r":1: no label 'nowhere' in this script"):
        run_file(node, path)


def test_script_missing_file(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.al"
    with pytest.raises(ScriptError) as err:
        node.execute(f"process {missing}")
    assert err.value.message == f"{missing}: no such script file"


def test_script_missing_nested_file_names_the_calling_line(node, write, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.al"
    outer = write("outer.al", f"echo a\nprocess {missing}\n")
    with pytest.raises(ScriptError) as err:
        run_file(node, outer)
    assert err.value.message == f"{outer}:2: {missing}: no such script file"


def test_script_missing_nested_file_is_caught_by_on_error(node, out, write, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outer = write("outer.al", f"on error goto h\nprocess {tmp_path / 'nope.al'}\n:h:\necho handled\n")
    run_file(node, outer)
    assert texts(out) == ["handled"]


def test_script_recursion_depth_limit(node, write) -> None:  # type: ignore[no-untyped-def]
    path = write("self.al", "echo again\nprocess !me\n")
    node.set_var("me", str(path))
    with pytest.raises(ScriptError) as err:
        run_file(node, path)
    assert err.value.message == (f"{path}:2: {path}: scripts nest deeper than {MAX_SCRIPT_DEPTH} "
                                 "(does a script process itself?)")


@pytest.mark.parametrize("line", ["goto x", "call x", "return", "end script", "exit scripts", "on error ignore"])
def test_flow_commands_outside_a_script_are_refused(node, line: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="works only inside a script"):
        node.execute(line)


def test_script_lines_are_logged(node, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", "echo logged line\n"))
    assert "echo logged line" in node.execute("get event log").to_text()


# -- check_script -----------------------------------------------------------------

def test_check_script_reports_each_bad_line(node, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", """
        echo fine
        get statuss
        <get status where
           formt = json>
        x = get status where format = yaml
        if !x == 1 then get foo
        if !x == 1 then echo a else get bar
        do get baz
        set node name
    """)
    problems = check_script(node, path)
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (2, 3, 5, 6, 7, 8, 9)]
    assert "unknown command 'get statuss'" in problems[0]
    assert "unknown option 'formt'" in problems[1]
    assert "yaml" in problems[2]
    assert "'get foo'" in problems[3] and "'get bar'" in problems[4] and "'get baz'" in problems[5]
    assert "needs <name>" in problems[6]


def test_check_script_accepts_variables_it_cannot_know(node, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", """
        process !local_scripts/start.al
        set node name !node_name
        get status where format = !fmt
        goto !next_step
        on error goto !handler
        echo !anything $ANY_ENV
        k = !a + " " + !b
        !k
        set k = !v
        exit !service
        run_later = some text that is not a command
        if !x > 3 then process !dir/x.al
    """)
    assert check_script(node, path) == []


def test_check_script_reports_missing_and_near_labels(node, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", """
        goto end-script
        call nowhere
        on error goto handler
        if !x then goto missing-too
        :handler
        :end-script:
    """)
    assert check_script(node, path) == [
        f"{path}:5: ':handler' is not a label; write ':handler:'",
        f"{path}:2: no label 'nowhere' in this script",
        f"{path}:3: no label 'handler': line 5 is not a label; write it as ':handler:'",
        f"{path}:4: no label 'missing-too' in this script",
    ]


def test_check_script_names_a_label_written_as_a_command(node, write) -> None:  # type: ignore[no-untyped-def]
    """EdgeLake's main.al writes `... then edgelake-error` (goto missing): check says what to write."""
    path = write("s.al", """
        if !x == 1 then oops-handler
        oops-handler
        :oops-handler:
        echo handled
    """)
    assert check_script(node, path) == [
        f"{path}:1: 'oops-handler' is a label, not a command: write 'goto oops-handler'",
        f"{path}:2: 'oops-handler' is a label, not a command: write 'goto oops-handler'",
    ]


def test_check_script_structural_errors(node, write, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert check_script(node, write("dup.al", ":a:\n:a:\n")) == [
        f"{tmp_path / 'dup.al'}:2: label 'a' is defined twice (first at line 1)"]
    assert check_script(node, tmp_path / "nope.al") == [f"{tmp_path / 'nope.al'}: no such script file"]


def test_check_script_runs_nothing(node, out, write) -> None:  # type: ignore[no-untyped-def]
    path = write("s.al", "set node name changed\nexit node\necho hi\n")
    assert check_script(node, path) == []
    assert node.name == "anynode" and not node.exit_event.is_set() and out == []


@pytest.mark.parametrize("mode", ["goto", "call"])
def test_script_error_inside_the_error_handler_stops_instead_of_looping(node, out, write,  # type: ignore[no-untyped-def]
                                                                        mode: str) -> None:
    path = write("s.al", f"on error {mode} h\nget foo\n:h:\necho handling\nget bar\nreturn\n")
    with pytest.raises(ScriptError) as err:
        run_file(node, path)
    assert err.value.message.startswith(f"{path}:5: unknown command 'get bar'")
    assert f"(in the 'on error {mode} h' handler)" in err.value.message
    assert texts(out) == ["handling"]


def test_script_handler_that_rearms_handles_later_errors(node, out, write) -> None:  # type: ignore[no-untyped-def]
    run_file(node, write("s.al", """
        on error goto h
        get foo
        echo never
        :h:
        echo handled
        on error goto h2
        get bar
        echo never
        :h2:
        echo handled again
    """))
    assert texts(out) == ["handled", "handled again"]
