"""The OpenAPI 3 description served at ``/openapi.json``.

Built from the command registry, so the list of commands a REST client may
run (and the HTTP method each needs) is never written twice.
"""

from __future__ import annotations

from typing import Any

from anynode import __version__
from anynode.grammar.registry import Registry

_ERROR = {"description": "An error: AnyLog's err_code/err_text/local_msg plus anynode's error/hint/kind",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "description": description,
            "schema": {"type": "string"}}


def _command_op(method: str, summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": [
            _header("command", "The command, e.g. `get status`", required=method == "get"),
            _header("destination", "Peers that run it instead (`ip:port, ip:port`): the reply holds each one's "
                    "answer or error, 502 when none answered; `network` (the whole network) is not available "
                    "yet (501)"),
            _header("timeout", "Seconds (or `N unit`) before the reply is 504; 0 = no limit"),
            _header("User-Agent", "Any client is served; `AnyLog/1.23` as AnyLog clients send it"),
        ],
        "responses": {
            "200": {"description": "The result as AnyLog gives it: the text the prompt prints (a message, a "
                                   "table), JSON when asked (`where format = json`) or JSON by nature "
                                   "(`blockchain get`, `sql`); with `replies = json`, every table as JSON",
                    "content": {"text/plain": {"schema": {"type": "string"}},
                                "application/json": {"schema": {}}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "501": _ERROR, "502": _ERROR, "504": _ERROR,
        },
    }


def openapi(registry: Registry, config: Any = None) -> dict[str, Any]:
    """The OpenAPI 3.0 document of this server."""
    commands = [{"command": s.name, "method": s.http, "summary": s.summary}
                for s in registry if s.remote and not s.hidden]
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "anynode REST", "version": __version__,
                 "description": "AnyLog's REST dialect: GET for commands that read, POST for commands that "
                                "change the node, PUT for JSON rows. See docs/rest.md."},
        "paths": {
            "/": {
                "get": _command_op("get", "Run a command that reads (GET-rule commands)"),
                "post": _command_op("post", "Run a command that changes the node (POST-rule commands)"),
                "put": {
                    "summary": "Deliver JSON rows into dbms.table (written to the watch directory)",
                    "parameters": [_header("dbms", "Logical database", True), _header("table", "Table", True),
                                   _header("type", "`json` (the default)"),
                                   _header("mode", "`file` (default) or `streaming`"),
                                   _header("source", "Source id in the file name (default 0)"),
                                   _header("instructions", "Mapping policy id (default 0)")],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}},
                    "responses": {"200": {"description": "Written", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"AnyLog.status": {"type": "string"},
                                                                    "AnyLog.hash": {"type": "string"}}}}}},
                                  "400": _ERROR, "401": _ERROR, "413": _ERROR, "500": _ERROR},
                },
            },
            "/command": {"post": {
                "summary": "Run any remote-safe command; the reply is always JSON",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["command"],
                    "properties": {"command": {"type": "string"}, "timeout": {"type": "number"},
                                   "destination": {"type": "string"}}}}}},
                "responses": {"200": {"description": "The command's JSON value",
                                      "content": {"application/json": {"schema": {}}}},
                              "400": _ERROR, "401": _ERROR, "403": _ERROR, "501": _ERROR, "502": _ERROR,
                              "504": _ERROR},
            }},
            "/health/live": {"get": {"summary": "The server answers", "responses": {"200": {"description": "live"}}}},
            "/health/ready": {"get": {"summary": "The server accepts commands",
                                      "responses": {"200": {"description": "ready"},
                                                    "503": {"description": "stopping"}}}},
        },
        "components": {"schemas": {"Error": {"type": "object", "properties": {
            "err_code": {"type": "integer"}, "err_text": {"type": "string"}, "local_msg": {"type": "string"},
            "error": {"type": "string"},
            "hint": {"type": "string"}, "kind": {"type": "string"}, "status": {"type": "integer"}}}}},
        "x-anynode-commands": commands,
    }
    if config is not None and (config.token or config.user is not None):
        schemes: dict[str, Any] = {}
        if config.token:
            schemes["bearer"] = {"type": "http", "scheme": "bearer"}
        if config.user is not None:
            schemes["basic"] = {"type": "http", "scheme": "basic"}
        doc["components"]["securitySchemes"] = schemes
        doc["security"] = [{name: []} for name in schemes]
    return doc
