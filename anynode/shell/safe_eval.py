"""A safe evaluator of small Python expressions, for the ``python`` command.

The text is parsed with :mod:`ast` (``mode="eval"``) and walked here, node by
node, against an allow-list: literals, names bound by the caller, arithmetic,
comparisons, boolean operators, ``x if c else y``, indexing and slicing, list,
tuple and dict displays, calls of a few built-in functions and of listed
methods of str, int, float, list, tuple and dict values. Nothing is ever
handed to ``eval``: there is no import, no attribute but those methods, no
lambda, comprehension, f-string or ``%`` formatting, and every value built is
bounded in size *before* it is built (``"a" * 10**9`` fails at once).
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from anynode.errors import AnyNodeError, CommandSyntaxError

MAX_TEXT = 10_000  # characters of expression text
MAX_SIZE = 1_000_000  # characters of a string, or items (deep) of a list, tuple or dict
MAX_INT_BITS = 10_000  # about 3000 decimal digits

Value = Any

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}

_STR_METHODS = frozenset({
    "capitalize", "casefold", "center", "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii",
    "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isspace", "istitle", "isupper", "join",
    "ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
    "zfill",
})
#: The methods a value of each type may call: none changes the value, none can build more than MAX_SIZE.
METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    int: frozenset({"bit_length"}),
    bool: frozenset(),
    float: frozenset({"is_integer"}),
    list: frozenset({"count", "index", "copy"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"get", "keys", "values", "items", "copy"}),
}
_WIDTH = frozenset({"center", "ljust", "rjust", "zfill"})  # their first argument is the result's length


def _sum(items: Any, start: Any = 0) -> Any:
    values = [*items, start]
    if not all(type(v) in (int, float, bool) for v in values):
        raise _fail("sum() adds numbers only", "use '+' to join text or lists")
    return sum(values)


#: The functions an expression may call by name.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": int, "float": float, "str": str, "bool": bool, "len": len, "abs": abs, "min": min, "max": max,
    "round": round, "sum": _sum, "sorted": sorted, "list": list, "tuple": tuple, "dict": dict,
}


def _fail(message: str, hint: str | None = None) -> AnyNodeError:
    return AnyNodeError(f"python: {message}", hint=hint)


def _refuse(message: str, hint: str | None = None) -> CommandSyntaxError:
    return CommandSyntaxError(f"python: {message}", hint=hint)


def size(value: Any, limit: int = MAX_SIZE) -> int:
    """How big ``value`` is (string length, int digits, items counted deep); stops counting past ``limit``."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if not isinstance(value, (list, tuple, dict)):
        return 1
    total = len(value)
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        members = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        for member in members:
            if isinstance(member, (list, tuple, dict)):
                total += len(member)
                stack.append(member)
            else:
                total += size(member)
    return total


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _fail(f"a number above {MAX_INT_BITS} bits", "keep numbers smaller")
    if size(value) > MAX_SIZE:
        raise _fail(f"a value larger than {MAX_SIZE:,} characters or items", "build smaller values")
    if type(value) in (type({}.keys()), type({}.values()), type({}.items())):
        return [list(v) if isinstance(v, tuple) else v for v in value]
    return value


def _check_binary(op: type, left: Any, right: Any) -> None:
    """Refuse, before it runs, an operation whose result would pass the bounds."""
    if op is ast.Mult:
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and size(seq) * max(times, 0) > MAX_SIZE:
                raise _fail(f"repeating makes a value larger than {MAX_SIZE:,} characters or items",
                            "repeat fewer times")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _fail(f"a number above {MAX_INT_BITS} bits", "keep numbers smaller")
    elif op is ast.Add and not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
        if size(left) + size(right) > MAX_SIZE:
            raise _fail(f"joining makes a value larger than {MAX_SIZE:,} characters or items")
    elif op is ast.Pow and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and math.log2(abs(left)) * right > MAX_INT_BITS:
            raise _fail(f"a power above {MAX_INT_BITS} bits", "keep numbers smaller")
    elif op is ast.Mod and isinstance(left, str):
        raise _refuse("'%' formatting of text is not supported", "join text with '+' and str(...)")


def _check_method(value: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    if name in _WIDTH and args and isinstance(args[0], int) and args[0] > MAX_SIZE:
        raise _fail(f"{name}() to more than {MAX_SIZE:,} characters")
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        hits = value.count(args[0]) if args[0] else len(value) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            hits = min(hits, args[2])
        if len(value) + hits * (len(args[1]) - len(args[0])) > MAX_SIZE:
            raise _fail(f"replace() makes text longer than {MAX_SIZE:,} characters")
    if name == "join" and args and isinstance(args[0], (list, tuple, dict, str)):
        parts = list(args[0])
        if sum(size(p) for p in parts) + len(value) * len(parts) > MAX_SIZE:
            raise _fail(f"join() makes text longer than {MAX_SIZE:,} characters")


class _Evaluator:
    """Walks one parsed expression; names resolve to ``bindings``, then to :data:`FUNCTIONS`."""

    def __init__(self, bindings: Mapping[str, Any]) -> None:
        self.bindings = bindings

    def eval(self, node: ast.AST) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise _refuse(f"{_describe(node)} is not allowed",
                          "use values, arithmetic, comparisons, and, or, not, [index], calls of str/list/dict methods")
        return _bounded(method(node))

    def _Expression(self, node: ast.Expression) -> Any:
        return self.eval(node.body)

    def _Constant(self, node: ast.Constant) -> Any:
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise _refuse(f"a {type(node.value).__name__} literal is not allowed")
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.bindings:
            return self.bindings[node.id]
        if node.id in FUNCTIONS:
            raise _refuse(f"'{node.id}' can only be called", f"write {node.id}(...)")
        raise _refuse(f"unknown name '{node.id}'", "write a node variable as !name and text in quotes")

    def _BinOp(self, node: ast.BinOp) -> Any:
        op = type(node.op)
        if op not in _BINARY:
            raise _refuse(f"the operator {_describe(node.op)} is not allowed", "use + - * / // % **")
        left, right = self.eval(node.left), self.eval(node.right)
        _check_binary(op, left, right)
        return _BINARY[op](left, right)

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        if type(node.op) not in _UNARY:
            raise _refuse(f"the operator {_describe(node.op)} is not allowed")
        return _UNARY[type(node.op)](self.eval(node.operand))

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for item in node.values:
            value = self.eval(item)
            if bool(value) is isinstance(node.op, ast.Or):
                return value
        return value

    def _Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        for op, item in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise _refuse(f"the comparison {_describe(op)} is not allowed", "use == != < <= > >= in")
            right = self.eval(item)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _List(self, node: ast.List) -> Any:
        return [self.eval(e) for e in node.elts]

    def _Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.eval(e) for e in node.elts)

    def _Dict(self, node: ast.Dict) -> Any:
        if any(k is None for k in node.keys):
            raise _refuse("'**' in a dict is not allowed")
        return {self.eval(k): self.eval(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}

    def _Subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        if type(value) not in METHODS or type(value) in (int, float, bool):
            raise _fail(f"a {type(value).__name__} cannot be indexed")
        index = self.eval(node.slice)
        return value[index]

    def _Slice(self, node: ast.Slice) -> Any:
        parts = [None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def _Call(self, node: ast.Call) -> Any:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise _refuse("'*' and '**' in a call are not allowed")
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS and func.id not in self.bindings:
            args = [self.eval(a) for a in node.args]
            kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg}
            return FUNCTIONS[func.id](*args, **kwargs)
        if not isinstance(func, ast.Attribute):
            raise _refuse(f"only the functions {', '.join(FUNCTIONS)} and methods of values can be called")
        value = self.eval(func.value)
        allowed = METHODS.get(type(value), frozenset())
        if func.attr not in allowed:
            raise _refuse(f"a {type(value).__name__} has no method '{func.attr}' here",
                          "'help python' lists what is allowed")
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg}
        _check_method(value, func.attr, args, kwargs)
        return getattr(value, func.attr)(*args, **kwargs)

    def _Attribute(self, node: ast.Attribute) -> Any:
        if any(node.attr in names for names in METHODS.values()):
            raise _refuse(f"'.{node.attr}' is only allowed as a method call", f"write .{node.attr}(...)")
        raise _refuse(f"the attribute '.{node.attr}' is not allowed", "call a method of a str, list or dict value")


def _describe(node: ast.AST) -> str:
    names = {"Lambda": "lambda", "ListComp": "a comprehension", "SetComp": "a comprehension",
             "DictComp": "a comprehension", "GeneratorExp": "a generator", "JoinedStr": "an f-string",
             "NamedExpr": "':='", "Set": "a set", "Starred": "'*'", "Await": "await", "Yield": "yield",
             "BitAnd": "'&'", "BitOr": "'|'", "BitXor": "'^'", "LShift": "'<<'", "RShift": "'>>'",
             "MatMult": "'@'", "Invert": "'~'", "Is": "'is'", "IsNot": "'is not'"}
    return names.get(type(node).__name__, type(node).__name__)


def evaluate(text: str, bindings: Mapping[str, Any]) -> Any:
    """The value of the expression ``text``, with ``bindings`` as its only names.

    Raises:
        CommandSyntaxError: the text is not an expression or uses what is not allowed.
        AnyNodeError: evaluating it failed (a bad index, a division by zero, a value too large).
    """
    if len(text) > MAX_TEXT:
        raise _refuse(f"an expression longer than {MAX_TEXT:,} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _refuse(f"not an expression: {exc.msg} at column {exc.offset or 0}",
                      "write e.g. python !name.upper() or python int(!count) + 1") from None
    except (RecursionError, MemoryError, ValueError):
        raise _refuse("the expression is nested too deeply") from None
    try:
        return _Evaluator(bindings).eval(tree)
    except AnyNodeError:
        raise
    except RecursionError:
        raise _refuse("the expression is nested too deeply") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        kind = type(exc).__name__
        raise _fail(f"{kind}: {exc}".rstrip(": ")) from None


def render(value: Any) -> str:
    """The text a value is shown and stored as: lists and dicts as JSON, true/false, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value)
        except (TypeError, ValueError):  # keys that JSON cannot hold (a tuple), a nan
            return str(value)
    return str(value)
