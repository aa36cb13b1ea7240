"""PDS3 / ODL label parsing and writing, fast enough for ingest.

``loads`` agrees with ``pvl.loads`` (its default permissive "Omni" dialect) on MIPL and MER
labels: same keys, nesting, Python value types and units. It is a regular-expression tokenizer
over the whole text plus a small recursive-descent parser, instead of pvl's per-character lexer,
and is about two orders of magnitude faster on real labels.

Value types (as pvl returns them, except sequences, which are tuples here):

============================  ===============================================
ODL                           Python
============================  ===============================================
``12``, ``2#0000111111111111#``  ``int`` (based integers decoded, any radix 2-16)
``1.0e-05``                   ``float``
``"text"``, ``'text'``        ``str``; whitespace runs collapsed to one space
``CAHVORE``, ``N/A``          ``str`` (symbols and unquoted strings)
``TRUE`` / ``FALSE`` / ``NULL``  ``True`` / ``False`` / ``None`` (unquoted only)
``2013-09-02T12:40:04.754``   ``datetime`` (UTC when no zone is written)
``2013-245``                  ``date``; ``12:40`` ``time`` (UTC)
``(a, b)``                    ``tuple``; ``{a, b}`` ``frozenset``
``389.12 <ms>``               ``Quantity(389.12, "ms")``
``GROUP``/``OBJECT`` blocks   nested :class:`Label` (``kind`` "GROUP"/"OBJECT")
============================  ===============================================

Pointers are ordinary keys whose name starts with ``^`` (``label["^IMAGE"]`` is ``23``,
``("X.IMG", 25)`` or ``("X.IMG", Quantity(12345, "BYTES"))``); :mod:`rovercam.products.pds3`
interprets them.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, NamedTuple

from rovercam.errors import LabelSyntaxError

__all__ = ["Label", "Quantity", "loads", "dumps", "LabelKind"]

LabelKind = Literal["MODULE", "GROUP", "OBJECT"]


class Quantity(NamedTuple):
    """A value with its unit, as written in the label: ``389.12 <ms>`` -> ``Quantity(389.12, "ms")``."""

    value: Any
    unit: str


class Label(Mapping[str, Any]):
    """An ordered label mapping that allows repeated keys.

    ``label[key]`` returns the first value stored under ``key``; :meth:`getall` returns every one
    (repeated ``OBJECT = IMAGE`` blocks, for instance). Iteration yields each distinct key once,
    in first-appearance order; :meth:`pairs` yields every (key, value) in label order.

    Parameters
    ----------
    items : iterable of (str, value)
        Initial content, in order.
    kind : {"MODULE", "GROUP", "OBJECT"}
        What kind of block this is; the writer uses it to emit GROUP or OBJECT.
    """

    __slots__ = ("_items", "_first", "kind")

    def __init__(self, items: Iterable[tuple[str, Any]] = (), *, kind: LabelKind = "MODULE"):
        self._items: list[tuple[str, Any]] = []
        self._first: dict[str, int] = {}
        self.kind: LabelKind = kind
        for key, value in items:
            self.append(key, value)

    def append(self, key: str, value: Any) -> None:
        """Add ``key = value`` at the end (keeping any earlier value under the same key)."""
        if key not in self._first:
            self._first[key] = len(self._items)
        self._items.append((key, value))

    def __getitem__(self, key: str) -> Any:
        return self._items[self._first[key]][1]

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getall(self, key: str) -> list[Any]:
        """Every value stored under ``key``, in label order (empty when absent)."""
        if key not in self._first:
            return []
        return [v for k, v in self._items[self._first[key]:] if k == key]

    def pairs(self) -> list[tuple[str, Any]]:
        """All (key, value) pairs in label order, repeated keys included."""
        return list(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Label):
            return self.kind == other.kind and self._items == other._items
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self._items[:6])
        more = ", ..." if len(self._items) > 6 else ""
        return f"Label({self.kind}, {{{inner}{more}}})"


# --------------------------------------------------------------------------------------------
# Tokenizer: one compiled pattern; whitespace and comments are skipped by its prefix.
# Omni dialect as pvl: /* */ comments, '#' to end of line (unless a based integer), '+' allowed
# in unquoted words, reserved characters & < > ' { } , [ ] = ! # ( ) % " ; ~ | and NUL.
_TOKEN = re.compile(
    r"(?:\s+|/\*.*?\*/|\#[^\n]*)*"
    r"(?:(?P<based>[+-]?(?:1[0-6]|[2-9])\#[+-]?[0-9A-Fa-f]+\#)"
    r"|(?P<word>(?:[^\s&<>'{},\[\]=!\#()%\";~|/\x00]|/(?!\*))+)"
    r"|(?P<punct>[=(){},;])"
    r"|(?P<quoted>\"[^\"]*\"|'[^']*')"
    r"|(?P<unit><[^<>]*>)"
    r"|(?P<bad>.)"
    r"|(?P<eof>\Z))",
    re.S,
)
_BASED = re.compile(r"([+-]?)(1[0-6]|[2-9])\#([+-]?)([0-9A-Fa-f]+)\#")
_DASH_CONTINUATION = re.compile(r"-[\n\r\f]\s*")
_WS = " \t\n\r\v\f"
_WS_RUN = re.compile(r"[ \t\n\r\v\f]+")
_NEEDS_COLLAPSE = re.compile(r"[\t\n\r\v\f]|  |^ | $")
_QUOTED_DASH = re.compile(r"-[\n\r\v\f][ \t\n\r\v\f]*")
_DATETIME = re.compile(
    r"(?:(?P<year>\d{1,4})-(?:(?P<month>\d{1,2})-(?P<day>\d{1,2})|(?P<doy>\d{1,3})))?"
    r"(?:(?(year)T)(?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:\.(?P<frac>\d{1,6}))?)?)?"
    r"(?P<zone>Z|[+-](?P<zh>\d{1,2})(?::(?P<zm>\d{2}))?)?"
)
_FLOAT_WORDS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity",
                          "nan", "+nan", "-nan"})
_AGGREGATES = {"GROUP": ("GROUP", "END_GROUP"), "BEGIN_GROUP": ("GROUP", "END_GROUP"),
               "OBJECT": ("OBJECT", "END_OBJECT"), "BEGIN_OBJECT": ("OBJECT", "END_OBJECT")}
_RESERVED_WORDS = frozenset({"END", "END_GROUP", "END_OBJECT", *_AGGREGATES})

_Tok = tuple[str, str, int]  # (kind, text, position)


def _tokenize(text: str, source: str) -> list[_Tok]:
    """Tokens up to and including the first END word (or the end of text)."""
    tokens: list[_Tok] = []
    append = tokens.append
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "eof":
            break
        start = m.start(kind)
        tok = m.group(kind)
        if kind == "bad":
            problem = ("unterminated comment" if text.startswith("/*", start)
                       else f"unexpected character {tok!r}")
            if tok in "\"'":
                problem = "unterminated quoted string"
            elif tok == "<":
                problem = "unterminated unit expression"
            _raise(source, problem, text, start)
        append((kind, tok, start))
        if kind == "word" and tok.upper() == "END":
            break
    return tokens


def _raise(source: str, problem: str, text: str, pos: int) -> None:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    raise LabelSyntaxError(source, problem, line, column)


def _decode_datetime(word: str) -> Any:
    m = _DATETIME.fullmatch(word)
    if m is None or (m["year"] is None and m["hour"] is None):
        raise ValueError(word)
    g = m.groupdict()
    tz: _dt.tzinfo | None = _dt.timezone.utc
    if g["zone"] and g["zone"] != "Z":
        if g["year"] is not None and g["hour"] is None:
            raise ValueError(word)  # a date never carries an offset
        offset = _dt.timedelta(hours=int(g["zh"]), minutes=int(g["zm"] or 0))
        tz = _dt.timezone(-offset if g["zone"][0] == "-" else offset)
    if g["year"] is not None:
        year = int(g["year"])
        if g["doy"] is not None:
            date = _dt.date(year, 1, 1) + _dt.timedelta(days=int(g["doy"]) - 1)
            if date.year != year or int(g["doy"]) < 1:
                raise ValueError(word)
        else:
            date = _dt.date(year, int(g["month"]), int(g["day"]))
        if g["hour"] is None:
            return date  # dates are naive, as in pvl
    if g["hour"] is not None:
        frac = g["frac"] or ""
        t = _dt.time(int(g["hour"]), int(g["minute"]), int(g["second"] or 0),
                     int(frac.ljust(6, "0")) if frac else 0, tzinfo=tz)
        if g["year"] is None:
            return t
        return _dt.datetime.combine(date, t)
    raise ValueError(word)


def _decode_word(word: str) -> Any:
    """Decode an unquoted token the way pvl's OmniDecoder does."""
    first = word[0]
    if first.isdigit() or first in "+-.":
        try:
            return int(word)
        except ValueError:
            pass
        try:
            return float(word)
        except ValueError:
            pass
        try:
            return _decode_datetime(word)
        except ValueError:
            return word
    upper = word.upper()
    if upper == "NULL":
        return None
    if upper == "TRUE":
        return True
    if upper == "FALSE":
        return False
    if word.lower() in _FLOAT_WORDS:
        return float(word)
    return word


def _decode_quoted(tok: str) -> str:
    s = tok[1:-1]
    if _NEEDS_COLLAPSE.search(s) is None:
        return s
    if "-" in s:
        s = _QUOTED_DASH.sub("", s)
    return _WS_RUN.sub(" ", s.strip(_WS))


def _decode_based(tok: str) -> int:
    m = _BASED.fullmatch(tok)
    assert m is not None  # the tokenizer only yields matching text
    sign1, radix, sign2, digits = m.groups()
    if sign1 and sign2:
        raise ValueError("two signs")
    return int((sign1 or sign2) + digits, int(radix))


class _Parser:
    __slots__ = ("tokens", "i", "text", "source")

    def __init__(self, tokens: list[_Tok], text: str, source: str):
        self.tokens = tokens
        self.i = 0
        self.text = text
        self.source = source

    def fail(self, problem: str, index: int | None = None) -> None:
        index = self.i if index is None else index
        pos = self.tokens[index][2] if index < len(self.tokens) else len(self.text)
        _raise(self.source, problem, self.text, pos)

    def block(self, into: Label, end_word: str | None, name: str | None) -> None:
        tokens, n = self.tokens, len(self.tokens)
        while True:
            if self.i >= n:
                if end_word is None:
                    return  # a module may end without END
                self.fail(f"missing {end_word} for {name}")
            kind, tok, _ = tokens[self.i]
            if kind == "punct" and tok == ";":
                self.i += 1
                continue
            if kind != "word":
                self.fail(f"expected a keyword, found {tok!r}")
            upper = tok.upper()
            if upper == "END":
                if end_word is not None:
                    self.fail(f"END before {end_word} for {name}")
                self.i += 1
                return
            if upper in ("END_GROUP", "END_OBJECT"):
                if upper != end_word:
                    self.fail(f"{tok} does not close {name or 'the label'}")
                self.i += 1
                if self.i + 1 < n and tokens[self.i][1] == "=" and tokens[self.i][0] == "punct":
                    closing = tokens[self.i + 1]
                    if closing[0] != "word" or closing[1] != name:
                        self.fail(f"{tok} = {closing[1]} does not match {name}", self.i + 1)
                    self.i += 2
                return
            self.i += 1
            self.expect_equals(tok)
            if upper in _AGGREGATES:
                if self.i >= n or tokens[self.i][0] != "word":
                    self.fail(f"expected a block name after {tok} =")
                block_name = tokens[self.i][1]
                self.i += 1
                block_kind, block_end = _AGGREGATES[upper]
                child = Label(kind=block_kind)  # type: ignore[arg-type]
                self.block(child, block_end, block_name)
                into.append(block_name, child)
            else:
                into.append(tok, self.value())

    def expect_equals(self, key: str) -> None:
        if self.i < len(self.tokens) and self.tokens[self.i][1] == "=" \
                and self.tokens[self.i][0] == "punct":
            self.i += 1
            return
        self.fail(f"expected '=' after {key}")

    def value(self) -> Any:
        tokens = self.tokens
        if self.i >= len(tokens):
            self.fail("missing value at end of label")
        kind, tok, _ = tokens[self.i]
        if kind == "word":
            if tok.upper() in _RESERVED_WORDS:
                self.fail(f"missing value (found {tok})")
            value: Any = _decode_word(tok)
        elif kind == "quoted":
            value = _decode_quoted(tok)
        elif kind == "based":
            try:
                value = _decode_based(tok)
            except ValueError:
                self.fail(f"bad based integer {tok}")
        elif kind == "punct" and tok in "({":
            value = self.sequence(")" if tok == "(" else "}")
            if tok == "{":
                try:
                    value = frozenset(value)
                except TypeError:
                    self.fail("a set may not contain sequences or sets")
        else:
            self.fail(f"expected a value, found {tok!r}")
        self.i += 1
        if self.i < len(tokens) and tokens[self.i][0] == "unit":
            value = Quantity(value, tokens[self.i][1][1:-1].strip(_WS))
            self.i += 1
        return value

    def sequence(self, closing: str) -> tuple[Any, ...]:
        # On entry self.i is at the opening bracket; on exit at the closing one.
        tokens = self.tokens
        items: list[Any] = []
        self.i += 1
        if self.i < len(tokens) and tokens[self.i][1] == closing and tokens[self.i][0] == "punct":
            return ()
        while True:
            items.append(self.value())
            if self.i >= len(tokens):
                self.fail(f"missing '{closing}'")
            kind, tok, _ = tokens[self.i]
            if kind == "punct" and tok == closing:
                return tuple(items)
            if kind != "punct" or tok != ",":
                self.fail(f"expected ',' or '{closing}', found {tok!r}")
            self.i += 1


def parse(text: str, *, source: str = "<label>") -> tuple[Label, int]:
    """Parse an ODL label and say where it ends.

    Returns
    -------
    label : Label
    end : int
        Index in ``text`` just after the END statement (``len(text)`` when there is none).
    """
    if "-\n" in text or "-\r" in text or "-\f" in text:
        text = _DASH_CONTINUATION.sub("", text)  # pvl's line-continuation rule
    tokens = _tokenize(text, source)
    if not tokens:
        raise LabelSyntaxError(source, "empty label", 1, 1)
    label = Label()
    parser = _Parser(tokens, text, source)
    parser.block(label, None, None)
    if parser.i < len(tokens):
        parser.fail("text after END")
    last = tokens[-1]
    end = last[2] + len(last[1]) if last[0] == "word" and last[1].upper() == "END" else len(text)
    return label, end


def loads(text: str, *, source: str = "<label>") -> Label:
    """Parse PDS3/ODL label text.

    Parameters
    ----------
    text : str
        The label; anything after its END statement is ignored (attached labels may be followed
        by binary data decoded as latin-1).
    source : str, keyword-only
        File name or product id used in error messages.

    Returns
    -------
    Label

    Raises
    ------
    rovercam.errors.LabelSyntaxError
        With the line and column of the first problem.

    Examples
    --------
    >>> lab = loads("EXPOSURE_DURATION = 389.12 <ms>\\nOBJECT = IMAGE\\n LINES = 2\\nEND_OBJECT\\nEND")
    >>> lab["EXPOSURE_DURATION"], lab["IMAGE"]["LINES"]
    (Quantity(value=389.12, unit='ms'), 2)
    """
    return parse(text, source=source)[0]


# --------------------------------------------------------------------------------------------
# Writer
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_KEY = re.compile(r"\^?[A-Za-z][A-Za-z0-9_]*(?::[A-Za-z][A-Za-z0-9_]*)?")


def _format_float(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"ODL has no literal for {x!r}")
    text = repr(x)
    if "e" in text or "E" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent}"
    return text


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value is None:
        return "NULL"
    if isinstance(value, Quantity):
        return f"{_format_value(value.value)} <{value.unit}>"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, str):
        if (_IDENTIFIER.fullmatch(value) and not value.endswith("_")
                and value.upper() not in _RESERVED_WORDS | {"NULL", "TRUE", "FALSE"}
                and value.lower() not in _FLOAT_WORDS):
            return value
        if '"' not in value:
            return f'"{value}"'
        if "'" not in value:
            return f"'{value}'"
        raise ValueError(f"cannot quote a string holding both quote characters: {value!r}")
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        frac = f".{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 \
            else f".{value.microsecond:06d}"
        return value.strftime("%Y-%m-%dT%H:%M:%S") + frac
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, _dt.time):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, (frozenset, set)):
        return "{" + ", ".join(_format_value(v) for v in value) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _format_value(value.item())
    raise TypeError(f"cannot write a {type(value).__name__} as an ODL value")


def _dump_block(label: Mapping[str, Any], indent: int, width: int, out: list[str]) -> None:
    items = label.pairs() if isinstance(label, Label) else list(label.items())
    pad = " " * indent
    for key, value in items:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a valid ODL keyword: {key!r}")
        if isinstance(value, Mapping):
            kind = getattr(value, "kind", "GROUP")
            kind = "OBJECT" if kind == "OBJECT" else "GROUP"
            out.append(f"{pad}{kind:<{width - indent}} = {key}")
            _dump_block(value, indent + 2, width, out)
            out.append(f"{pad}{'END_' + kind:<{width - indent}} = {key}")
        else:
            out.append(f"{pad}{key:<{width - indent}} = {_format_value(value)}")


def dumps(label: Mapping[str, Any], *, newline: str = "\r\n", width: int = 32) -> str:
    """Write a label as ODL text ending with ``END``.

    Nested mappings become GROUP blocks, or OBJECT blocks when their ``kind`` is "OBJECT".
    Strings that are ODL identifiers are written as symbols, others quoted; whitespace inside
    strings does not round-trip exactly (readers collapse runs to one space). Datetimes are
    written in UTC without a zone suffix, which readers take as UTC.

    Parameters
    ----------
    label : Label or mapping
    newline : str, keyword-only
        Line terminator; PDS3 wants CR LF.
    width : int, keyword-only
        Column at which ``=`` is aligned (cosmetic).

    Raises
    ------
    ValueError, TypeError
        A key that is not an ODL keyword, or a value ODL cannot express (NaN, bytes...).
    """
    out: list[str] = []
    _dump_block(label, 0, width, out)
    out.append("END")
    return newline.join(out) + newline
