"""trafilatura's element-local XPath predicates as Python functions of (tag, attribute values).

An element test (engines_xpath.ElementTest) asks libxml2 once per distinct (tag, attributes);
on pages seen for the first time most keys are new, and libxml2 evaluating a predicate of ~100
`contains(@class, "...")` terms costs ~40 us per element (its XPath objects per term). The
same predicate compiled to Python, with each run of `contains` / `starts-with` / `=` terms on
one attribute joined into one regular expression or set, answers in ~1-2 us.

XPath semantics kept: a missing attribute is the empty string to contains / starts-with /
translate and compares unequal to every string, `@a` alone tests presence, translate()
maps the first occurrence of a character and drops characters beyond the replacement
string. Anything else in a predicate (a token not listed here) raises Unsupported, and the
element test keeps asking libxml2. tests/test_extract_engines_xpath.py compares the compiled
function with libxml2 on every element of the shared pages.
"""
from __future__ import annotations

import re

TOKEN = re.compile(r"""\s*(?:(?P<string>"[^"]*"|'[^']*')|(?P<tag>self::[\w-]+)|(?P<attribute>@[\w-]+)|"""
                   r"""(?P<word>contains|starts-with|translate|or|and|not)\b|(?P<punct>[\[\](),=]))""")


class Unsupported(ValueError):
    pass


def tokens(predicate: str) -> list[tuple[str, str]]:
    found, position, end = [], 0, len(predicate.rstrip())
    while position < end:
        match = TOKEN.match(predicate, position)
        if match is None:
            raise Unsupported(f"cannot read {predicate[position:position + 30]!r}")
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class Compiler:
    """Recursive descent over `[...][...]`: or / and / not(), parentheses, self::tag, @a,
    contains(S, "x"), starts-with(S, "x"), S = "x", with S = @a or translate(@a, "ABC", "abc")."""

    def __init__(self, predicate: str, attributes: tuple):
        self.tokens, self.position = tokens(predicate), 0
        self.variables = {name: f"v{i}" for i, name in enumerate(attributes)}
        self.constants: dict[str, object] = {}
        self.translations: dict[tuple, str] = {}
        self.tables: dict[str, tuple] = {}  # translate() code -> (attribute, its table)

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        token_kind, token = self.peek()
        if (value is not None and token != value) or (kind is not None and token_kind != kind):
            raise Unsupported(f"expected {value or kind}, found {token!r}")
        self.position += 1
        return token

    def constant(self, value) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def function(self) -> str:
        terms = []
        while self.peek()[1] == "[":
            self.take("[")
            terms.append(self.disjunction())
            self.take("]")
        if not terms or self.position != len(self.tokens):
            raise Unsupported("not a list of [...] predicates")
        source = f"lambda {', '.join(['tag', *self.variables.values()])}: " + " and ".join(f"({self.code(t)})" for t in terms)
        return eval(source, dict(self.constants))  # noqa: S307 - source built from the tokens above only

    def disjunction(self) -> str:
        terms = [self.conjunction()]
        while self.peek()[1] == "or":
            self.take("or")
            terms.append(self.conjunction())
        return " or ".join(f"({t})" for t in self.grouped(terms))

    def conjunction(self) -> str:
        terms = [self.unary()]
        while self.peek()[1] == "and":
            self.take("and")
            terms.append(self.unary())
        if len(terms) == 1:
            return terms[0]  # (a lone comparison stays a tuple: disjunction() may group it)
        return " and ".join(f"({self.code(t)})" for t in terms)

    def unary(self):
        kind, token = self.peek()
        if token == "not":
            self.take("not"), self.take("(")
            inner = self.disjunction()
            self.take(")")
            return f"not ({inner})"
        if token == "(":
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return f"({inner})"
        if kind == "tag":
            return f"tag == {self.take(kind='tag')[len('self::'):]!r}"
        if token in ("contains", "starts-with"):
            self.take(token), self.take("(")
            subject = self.string()
            self.take(",")
            literal = self.take(kind="string")[1:-1]
            self.take(")")
            if subject in self.tables:  # on the attribute itself, each letter as [its preimages]
                attribute, table = self.tables[subject]
                if None not in table.values():
                    pattern = ""
                    for char in literal:
                        chars = [chr(c) for c, mapped in table.items() if mapped == char] + ([char] if ord(char) not in table else [])
                        if not chars:
                            return "False"  # a letter translate() never outputs
                        pattern += "[" + "".join(map(re.escape, chars)) + "]" if len(chars) > 1 else re.escape(chars[0])
                    return (token, "@" + attribute, None, pattern)
            return (token, subject, literal, re.escape(literal))
        subject = self.string()
        if self.peek()[1] == "=":
            self.take("=")
            literal = self.take(kind="string")[1:-1]
            return ("=", subject, literal, None)
        if subject[0] == "@":  # @a alone: the attribute is there
            return f"{self.variables[subject[1:]]} is not None"
        raise Unsupported("a string where a test was expected")

    def string(self) -> str:
        """@a, or translate(@a, ...) as code; attributes are marked with a leading @."""
        kind, token = self.peek()
        if kind == "attribute":
            self.take(kind="attribute")
            if token[1:] not in self.variables:
                raise Unsupported(f"unknown attribute {token}")
            return token
        self.take("translate"), self.take("(")
        attribute = self.take(kind="attribute")[1:]
        self.take(",")
        source = self.take(kind="string")[1:-1]
        self.take(",")
        target = self.take(kind="string")[1:-1]
        self.take(")")
        table = {}
        for i, char in enumerate(source):  # XPath: the first occurrence wins; no counterpart: removed
            table.setdefault(ord(char), target[i] if i < len(target) else None)
        # the same translate() written twice is one subject, so its terms are grouped together
        key = (attribute, tuple(table.items()))
        if key not in self.translations:
            self.translations[key] = f"({self.variables[attribute]} or '').translate({self.constant(table)})"
            self.tables[self.translations[key]] = attribute, table
        return self.translations[key]

    def text(self, subject: str) -> str:
        return f"({self.variables[subject[1:]]} or '')" if subject[0] == "@" else subject

    def code(self, term) -> str:
        if isinstance(term, str):
            return term
        operator, subject, literal, pattern = term
        if operator == "=":  # a missing attribute equals nothing
            return f"{self.variables[subject[1:]]} == {literal!r}" if subject[0] == "@" else f"{subject} == {literal!r}"
        if literal is None:
            return self.regex(operator, subject, [pattern])
        if operator == "contains":
            return f"{literal!r} in {self.text(subject)}"
        return f"{self.text(subject)}.startswith({literal!r})"

    def regex(self, operator: str, subject: str, patterns: list[str]) -> str:
        method = "search" if operator == "contains" else "match"
        return f"{self.constant(re.compile('|'.join(patterns)))}.{method}({self.text(subject)}) is not None"

    def grouped(self, terms: list) -> list[str]:
        """Runs of contains / starts-with / = on the same subject become one regex or set test."""
        groups: dict[tuple, list[tuple]] = {}
        for term in terms:
            if not isinstance(term, str):
                groups.setdefault(term[:2], []).append(term)
        out = []
        for term in terms:
            if isinstance(term, str):
                out.append(term)
                continue
            members = groups.pop(term[:2], None)
            if members is None:  # (written with the first of its group)
                continue
            operator, subject = term[:2]
            if len(members) == 1:
                out.append(self.code(term))
            elif operator == "=":
                value = self.variables[subject[1:]] if subject[0] == "@" else subject
                out.append(f"{value} in {self.constant(frozenset(m[2] for m in members))}")
            else:
                out.append(self.regex(operator, subject, [m[3] for m in members]))
        return out


def compile_predicate(predicate: str, attributes: tuple):
    """f(tag, *values) -> bool, as libxml2 answers `self::*` + predicate; Unsupported if unsure."""
    return Compiler(predicate, attributes).function()
