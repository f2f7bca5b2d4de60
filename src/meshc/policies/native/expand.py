"""From CEL forms with references to the plain CEL the API server compiles.

A CEL form (:mod:`meshc.policies.native.definitions`) names other rules as
``$package.rule`` and Rego builtins as ``@builtin(...)``:

- a rule with a CEL variable or constant becomes ``variables.<package>_<rule>``,
  and the variable (with every variable it reads, in order) joins the policy;
- a function's CEL macro is expanded in place, its parameters replaced by the
  arguments (each in parentheses) and its own comprehension variables, which
  start with ``_``, renamed so that nothing it is given can be captured;
- ``$provider.rule`` is the rule of the spec's provider's package;
- ``@builtin(...)`` is a Rego builtin whose CEL differs from CEL's own
  functions (:data:`BUILTINS`).

Expansion works on tokens, so string literals are never rewritten.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .definitions import Catalogue, Definition, DefinitionError
from .literals import cel_literal

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING_PREFIX = re.compile(r"(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\")")

# Rego builtins whose CEL is not CEL's own function of the same meaning, as
# (parameters, template). Go's strings.ToUpper and ToLower, which OPA uses,
# map four non-ASCII letters to ASCII ones (dotless i and long s to I and S,
# dotted capital I and the Kelvin sign to i and k); CEL's ASCII-only
# functions are made to do the same, so "net_admın" is NET_ADMIN in both.
BUILTINS: dict[str, tuple[tuple[str, ...], str]] = {
    "upper": (("x",), "x.upperAscii().replace('\u0131', 'I').replace('\u017f', 'S')"),
    "lower": (("x",), "x.lowerAscii().replace('\u0130', 'i').replace('\u212a', 'k')"),
    # m[k] in Rego is undefined when k is not there: a list of none or one value.
    "get": (("m", "k"), "(k in m ? [m[k]] : [])"),
    # An optional (CEL's x.?a.?b) as a list of none or one value.
    "opt": (("x",), "(x.hasValue() ? [x.value()] : [])"),
    "format_int": (("x",), "string(int(x))"),
    # to_number of a string of digits (tested before): a UID or GID as an int. More
    # than ten significant digits is past every UID the API server accepts
    # (runAsUser is at most 2147483647): 4294967296 stands for it.
    "to_number": (("x",), "(x.matches('^0*[0-9]{1,10}$') ? int(x) : 4294967296)"),
}


@dataclass
class Token:
    kind: str  # string | ref | builtin | ident | other
    text: str  # as written (a ref and a builtin with their $ or @)

    @property
    def name(self) -> str:
        """A ref's or builtin's name, without its sigil."""
        return self.text[1:] if self.kind in ("ref", "builtin") else self.text


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        m = _STRING_PREFIX.match(text, i)
        if m and (m.start() == i):
            end = _string_end(text, i, m.group(0))
            out.append(Token("string", text[i:end]))
            i = end
            continue
        c = text[i]
        if c in "$@":
            m2 = _IDENT.match(text, i + 1)
            if m2 is None:
                raise DefinitionError(f"{c} without a name in {text!r}")
            j = m2.end()
            if c == "$" and j < len(text) and text[j] == "." and _IDENT.match(text, j + 1):
                m3 = _IDENT.match(text, j + 1)
                assert m3 is not None
                out.append(Token("ref", text[i : m3.end()]))
                i = m3.end()
            else:
                out.append(Token("ref" if c == "$" else "builtin", text[i:j]))
                i = j
            continue
        m4 = _IDENT.match(text, i)
        if m4:
            out.append(Token("ident", m4.group(0)))
            i = m4.end()
            continue
        out.append(Token("other", c))
        i += 1
    return out


def _string_end(text: str, start: int, opener: str) -> int:
    raw = opener[0] in "rR" or (len(opener) > 1 and opener[1] in "rR" and opener[0] in "bB")
    quote = opener.lstrip("rRbB")
    i = start + len(opener)
    while i < len(text):
        if not raw and text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        i += 1
    raise DefinitionError(f"an unterminated string in {text!r}")


def render_tokens(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)


def _after_dot(tokens: list[Token], index: int) -> bool:
    """Whether tokens[index] is a field name (``x.name`` or ``x.?name``)."""
    j = index - 1
    while j >= 0 and tokens[j].kind == "other" and tokens[j].text.isspace():
        j -= 1
    if j >= 0 and tokens[j].text == "?":
        j -= 1
    return j >= 0 and tokens[j].text == "."


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace identifiers (never field names or strings) by text."""
    tokens = tokenize(text)
    for i, t in enumerate(tokens):
        if t.kind == "ident" and t.text in values and not _after_dot(tokens, i):
            tokens[i] = Token("other", values[t.text])
    return render_tokens(tokens)


def _rename_internals(text: str, suffix: str) -> str:
    tokens = tokenize(text)
    for i, t in enumerate(tokens):
        if t.kind == "ident" and t.text.startswith("_") and not _after_dot(tokens, i):
            tokens[i] = Token("ident", f"{t.text}{suffix}")
    return render_tokens(tokens)


def _call_args(tokens: list[Token], start: int) -> tuple[list[str], int]:
    """The arguments of a call whose ``(`` is tokens[start]; and the index past ``)``."""
    assert tokens[start].text == "("
    depth = 0
    args: list[list[Token]] = [[]]
    i = start
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "other" and t.text in "([{":
            depth += 1
            if depth > 1:
                args[-1].append(t)
        elif t.kind == "other" and t.text in ")]}":
            depth -= 1
            if depth == 0:
                texts = [render_tokens(a).strip() for a in args]
                return ([] if texts == [""] else texts), i + 1
            args[-1].append(t)
        elif t.kind == "other" and t.text == "," and depth == 1:
            args.append([])
        else:
            args[-1].append(t)
        i += 1
    raise DefinitionError("an unclosed call")


def variable_name(definition: Definition) -> str:
    return f"{definition.package}_{definition.name}"


@dataclass
class Expander:
    """Expands CEL forms for one provider, collecting the variables they read."""

    catalogue: Catalogue
    provider: str
    # name -> CEL expression, in the order a variable may read the ones before it.
    variables: dict[str, str] = field(default_factory=dict)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _active: set[str] = field(default_factory=set)
    # Called for {data: true}: the CEL of the policy data document.
    data: Callable[[], str] = field(default=lambda: "variables.config")

    def expand(self, text: str, package: str) -> str:
        """``text`` (a CEL form of ``package``) as plain CEL."""
        tokens = tokenize(text)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t.kind == "builtin":
                if i + 1 >= len(tokens) or tokens[i + 1].text != "(":
                    raise DefinitionError(f"{t.text} is called without arguments in {text!r}")
                args, i = _call_args(tokens, i + 1)
                out.append(self._builtin(t.name, [self.expand(a, package) for a in args]))
                continue
            if t.kind == "ref":
                head, dot, rest = t.name.partition(".")
                if dot and head not in self.catalogue.packages and head != "provider":
                    # $rule.method(...): a rule of this package, then CEL's own selection.
                    tokens[i : i + 1] = [
                        Token("ref", "$" + head),
                        Token("other", "."),
                        Token("ident", rest),
                    ]
                    t = tokens[i]
                definition = self.resolve(t.name, package)
                if i + 1 < len(tokens) and tokens[i + 1].text == "(":
                    args, i = _call_args(tokens, i + 1)
                    out.append(self._macro(definition, [self.expand(a, package) for a in args]))
                    continue
                out.append(self._reference(definition))
                i += 1
                continue
            out.append(t.text)
            i += 1
        return "".join(out)

    def resolve(self, ref: str, package: str) -> Definition:
        pkg, _, name = ref.rpartition(".")
        if not pkg:
            pkg = package
        elif pkg == "provider":
            pkg = self.provider
        elif pkg not in self.catalogue.packages:
            raise DefinitionError(f"${ref}: no package {pkg!r}")
        return self.catalogue.definition(pkg, name)

    def _builtin(self, name: str, args: list[str]) -> str:
        if name not in BUILTINS:
            raise DefinitionError(f"@{name}: no such builtin (known: {', '.join(BUILTINS)})")
        params, template = BUILTINS[name]
        if len(args) != len(params):
            raise DefinitionError(f"@{name} takes {len(params)} arguments, given {len(args)}")
        return "(" + substitute(template, {p: f"({a})" for p, a in zip(params, args)}) + ")"

    def _macro(self, definition: Definition, args: list[str]) -> str:
        kind = definition.kind
        if kind != "macro":
            raise DefinitionError(
                f"{definition.package}.{definition.name} is called but is a {kind}"
            )
        params = definition.params or ()
        if len(args) != len(params):
            raise DefinitionError(
                f"{definition.package}.{definition.name} takes "
                f"{len(params)} arguments, given {len(args)}"
            )
        form = definition.form
        body = form if isinstance(form, str) else str(form["macro"])
        body = _rename_internals(body, f"{next(self._counter)}")
        body = self.expand(body, definition.package)
        return "(" + substitute(body, {p: f"({a})" for p, a in zip(params, args)}) + ")"

    def _reference(self, definition: Definition) -> str:
        kind = definition.kind
        if kind == "data":
            return self.data()
        if kind not in ("var", "literal"):
            raise DefinitionError(
                f"{definition.package}.{definition.name} is referenced as a value but is a {kind}"
            )
        name = variable_name(definition)
        if name not in self.variables:
            if name in self._active:
                raise DefinitionError(f"{name} refers to itself")
            self._active.add(name)
            try:
                if kind == "literal":
                    expression = cel_literal(definition.literal)
                else:
                    expression = self.expand(str(definition.form), definition.package)
            finally:
                self._active.discard(name)
            self.variables[name] = expression
        return f"variables.{name}"
