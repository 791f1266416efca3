"""What a policy is: one JSON object with one root key, its type; its id, its date, its line in the ledger.

Ids follow AnyLog's rule so the same policy gets the same id on EdgeLake and
on anynode (notes §7.2): ``table`` and ``cluster`` policies hash a few named
fields (``md5("cluster:company:acme:name:c1:")``); every other type hashes
Python's ``str()`` of the whole policy, without ``date`` and ``ledger``, so
key order and value types are part of the id.

Policy text may hold unquoted ``!name`` values (``"company": !company_name``);
:func:`parse_policy` replaces them as AnyLog does when a policy is inserted,
prepared or added: text becomes a JSON string, ``.int``/``.float`` a number,
``.bool`` true/false, a value that is itself a JSON object or list goes in as
it is. A quoted ``"!name"`` stays literal (it is resolved later, by whoever
reads the policy).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from anynode import safejson
from anynode.codes import Code
from anynode.errors import AnyNodeError, CommandSyntaxError

#: AnyLog's status texts for the codes the metadata commands return (`get error <n>`).
STATUS_TEXT = {
    Code.PROCESS_FAILURE: "Error Process Failure",
    Code.NO_LOCAL_BLOCKCHAIN: "No local blockchain file",
    Code.EMPTY_LOCAL_BLOCKCHAIN: "Empty local blockchain file",
    Code.DUPLICATE_OBJECT_ID: "Duplicate blockchain object id",
    Code.WRONG_POLICY: "Wrong policy structure",
    Code.POLICY_NOT_AVAILABLE: "Needed Policy is not available",
    Code.WRONG_DBMS_KEY_IN_DELETE: "DBMS error: delete row failed - wrong key",
    Code.MISSING_PARENT_POLICY: "Missing parent policy",
    Code.NON_UNIQUE_IP_PORT: "None unique IP:Port in policy",
    Code.POLICY_NOT_IN_FILE: "Policy not in local file",
    Code.NON_UNIQUE_POLICY_VALUES: "Non unique policy values",
    Code.MISSING_CLUSTER_POLICY: "Missing cluster policy",
    Code.MISSING_POLICY_ATTRIBUTE: "Missing required policy attribute",
}
_CONFLICTS = (Code.DUPLICATE_OBJECT_ID, Code.NON_UNIQUE_IP_PORT, Code.NON_UNIQUE_POLICY_VALUES)
_NOT_FOUND = (Code.NO_LOCAL_BLOCKCHAIN, Code.POLICY_NOT_AVAILABLE, Code.POLICY_NOT_IN_FILE,
              Code.WRONG_DBMS_KEY_IN_DELETE)
WRONG_STRUCTURE = Code.WRONG_POLICY

#: Types whose id hashes these fields only (in this order, those present).
HASH_FIELDS = {"table": ("company", "name", "dbms"), "cluster": ("company", "name", "parent", "table")}


class PolicyError(AnyNodeError):
    """A policy that cannot be built, inserted or found; ``code`` is AnyLog's status code.

    The message starts with AnyLog's text for the code (``Wrong policy
    structure: ...``), so a user who knows AnyLog recognises it.
    """

    def __init__(self, code: Code, detail: str, hint: str | None = None) -> None:
        super().__init__(f"{STATUS_TEXT.get(code, 'Error Process Failure')}: {detail}", hint)
        self.anylog_code = code
        self.http_status = 409 if code in _CONFLICTS else 404 if code in _NOT_FOUND else 400


def policy_type(policy: Any) -> str:
    """The type (the one root key) of ``policy``.

    Raises:
        PolicyError: 87 when it is not one object with one root key whose value is an object.
    """
    if not isinstance(policy, dict) or len(policy) != 1:
        raise PolicyError(WRONG_STRUCTURE, "a policy is one JSON object with one root key, its type",
                          hint='write e.g. {"operator": {"name": "op1", ...}}')
    kind = next(iter(policy))
    if not isinstance(policy[kind], dict):
        raise PolicyError(WRONG_STRUCTURE, f"the value of the root key '{kind}' is not a JSON object",
                          hint=f'write e.g. {{"{kind}": {{"name": "..."}}}}')
    return str(kind)


def body(policy: dict[str, Any]) -> dict[str, Any]:
    """The attributes of ``policy`` (the object under its root key)."""
    return policy[policy_type(policy)]


def policy_id_of(policy: Any) -> str | None:
    """The ``id`` of a policy, or None when it has none (or is not a policy)."""
    try:
        value = body(policy).get("id")
    except PolicyError:
        return None
    return None if value is None else str(value)


def compute_id(policy: dict[str, Any]) -> str:
    """AnyLog's id of ``policy`` as it is now (the caller removed ``date`` and ``ledger``)."""
    import hashlib  # here: loading OpenSSL costs a one-shot command's start-up several ms

    kind = policy_type(policy)
    fields = HASH_FIELDS.get(kind)
    if fields is None:
        text = str(policy)
    else:
        attrs = policy[kind]
        text = kind + ":" + "".join(f"{name}:{attrs[name]!s}:" for name in fields if name in attrs)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The current UTC time as AnyLog writes policy dates: ``2026-11-22T06:14:13.462698Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_id_date(policy: dict[str, Any], now: Callable[[], str] = utc_now) -> dict[str, Any]:
    """Give ``policy`` (in place) its id and date when missing, in AnyLog's order; returns it.

    A policy with both keeps them. Otherwise ``date`` and ``ledger`` are taken
    out, the id is computed from what is left and added, then the date (the
    one it had, or now) and the ledger flag go back at the end.

    Raises:
        PolicyError: 87 when ``policy`` is not one object with one root key.
    """
    attrs = body(policy)
    has_id = "id" in attrs
    if "date" in attrs:
        if has_id:
            return policy
        date = attrs.pop("date")
    else:
        date = now()
    ledger = attrs.pop("ledger", None)
    if not has_id:
        attrs["id"] = compute_id(policy)
    attrs["date"] = date
    if ledger:
        attrs["ledger"] = ledger
    return policy


def to_line(policy: dict[str, Any]) -> str:
    """The policy as one ledger line (no newline): ``json.dumps`` with ", " and ": ", as EdgeLake writes."""
    return json.dumps(policy, separators=(", ", ": "))


# -- policy text -----------------------------------------------------------

#: Expands one ``!name[.cast]`` word: (text, names that had no value, cast or None).
Expand = Callable[[str], "tuple[str, tuple[str, ...], str | None]"]

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_REF = re.compile(r"(?<=[\s:\[{,])![A-Za-z_][A-Za-z0-9_]*(?:\.(?:int|float|bool|str|len|name))?")


def _json_value(text: str, cast: str | None) -> str:
    if cast in ("int", "float", "len") and text:
        return text
    if cast == "bool":
        return text or "false"
    if len(text) > 1 and text[0] + text[-1] in ("{}", "[]"):
        return text
    return json.dumps(text)


def fill_variables(text: str, expand: Expand) -> str:
    """``text`` with every unquoted ``!name`` (after a space, ``:``, ``[``, ``{`` or ``,``) replaced by its value.

    Raises:
        CommandSyntaxError: a variable that is not defined.
    """
    if "!" not in text:
        return text
    out: list[str] = []
    cut = 0

    def fill(part: str) -> str:
        def sub(m: re.Match[str]) -> str:
            value, missing, cast = expand(m.group())
            if missing:
                raise CommandSyntaxError(f"the policy uses {', '.join(missing)}, which is not defined",
                                         hint="set it first (name = value), or quote the value to keep it as text")
            return _json_value(value, cast)

        return _REF.sub(sub, part) if "!" in part else part

    for m in _QUOTED.finditer(text):
        out += [fill(text[cut:m.start()]), m.group()]
        cut = m.end()
    out.append(fill(text[cut:]))
    return "".join(out)


def parse_policy(text: str, expand: Expand | None = None) -> dict[str, Any]:
    """A policy from its text: JSON (one object, or a list holding one), unquoted ``!name`` values filled in.

    Raises:
        PolicyError: 87 when the text is not JSON or not one policy.
        CommandSyntaxError: an unquoted variable that is not defined.
    """
    if expand is not None:
        text = fill_variables(text, expand)
    if not text.strip():
        raise PolicyError(WRONG_STRUCTURE, "the policy is empty", hint="build it first: set policy p [type] = {}")
    try:
        value = safejson.loads(text)
    except ValueError as exc:
        raise PolicyError(WRONG_STRUCTURE, f"the policy is not valid JSON ({exc})",
                          hint="check quotes, commas and brackets; a policy looks like {\"type\": {...}}") from None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    policy_type(value)
    return value
