"""Service states and script control flow are enums: a misspelt one fails where it is written.

A state is still its text wherever a user sees it (``get processes``, JSON,
the stats log).
"""

from __future__ import annotations

import json

import pytest

from anynode.grammar.dispatch import ControlFlow, Flow, OnError
from anynode.node import Node
from anynode.services.manager import ServiceManager
from anynode.services.status import ServiceState
from tests.svc_helpers import Sleepy


def test_a_status_carries_a_service_state_that_reads_as_its_text(manager: ServiceManager) -> None:
    assert manager.status("TCP").state is ServiceState.NOT_DECLARED
    status = manager.start(Sleepy("scheduler"))
    assert status.state is ServiceState.RUNNING
    assert (str(status.state), f"{status.state}", json.dumps(status.state)) == ("Running", "Running", '"Running"')
    manager.stop("scheduler")
    assert manager.status("scheduler").state is ServiceState.STOPPED


def test_get_processes_shows_service_states_as_their_text(node: Node) -> None:
    assert all(s.state is ServiceState.NOT_DECLARED for s in node.services.statuses())
    result = node.execute("get processes where format = json")
    assert {row["Status"] for row in json.loads(result.to_text()).values()} == {"Not declared"}
    assert "Not declared" in node.execute("get processes").to_text()


def test_a_misspelt_control_flow_kind_fails_where_it_is_raised() -> None:
    with pytest.raises(ValueError):
        ControlFlow("got", "label")  # type: ignore[arg-type]
    assert ControlFlow(Flow.GOTO, "x").kind is Flow.GOTO
    assert ControlFlow("exit_scripts").kind is Flow.EXIT_SCRIPTS  # type: ignore[arg-type]
    assert OnError("call") is OnError.CALL and f"{OnError.CALL} x" == "call x"

