"""JSON text read and written by orjson where it gives exactly what the standard library gives.

An admission decodes the review once and encodes the policies' input once.
With the standard library that is 40 and 18 µs of the 210 µs a review costs
the webhook in one thread; orjson does the same in 10 and 2 (both timed on
the bench's 4.3 kB Pod reviews). Where orjson and the standard library part
ways, the standard library decides, so every caller sees what it always saw:

- orjson reads an integer past 64 bits as a float: text with a run of 19
  digits or more (the shortest integer out of range) is read by the
  standard library, which keeps it whole;
- orjson keeps the last of two equal keys without saying so: text whose
  decoded document, written again, has fewer strings than the text (a key
  is a string, so a dropped member takes one with it) is read by the
  standard library caller that refuses duplicates;
- text orjson refuses (a lone surrogate escape, a number out of a double's
  range, a byte order mark, anything else) goes to the standard library,
  which reads it or says why not in its own words;
- orjson writes NaN and infinities as ``null``, where the standard library
  refuses them. orjson writes only a :class:`JSONDocument`, which cannot
  hold either; for anything else it raises (a key that is not a string, an
  integer past 64 bits, a lone surrogate, nesting past 255) and the standard
  library writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

# The shortest integers orjson cannot hold exactly (below -2**63 or above
# 2**64 - 1) have 19 digits. Looked for as a substring once every digit is a
# "0" and everything else a space: a regular expression takes 40 µs on a
# review, this 2.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19


class JSONDocument(dict[str, Any]):
    """A JSON object as a decoder refusing non-finite numbers read it, or a projection of one.

    What it holds is what JSON text can: string keys, finite numbers, and
    only the standard JSON types, which is what lets :func:`dumps` write it
    with orjson. A plain dict, which may come from YAML or a caller, is
    written by the standard library.
    """


def like(source: Any, document: Any) -> Any:
    """``document``, made of parts of ``source``, marked a :class:`JSONDocument` if ``source`` is one."""
    if isinstance(source, JSONDocument) and type(document) is dict:
        return JSONDocument(document)
    return document


def loads(text: bytes, fallback: Callable[[bytes], Any] = json.loads) -> Any:
    """``fallback(text)``, read by orjson wherever orjson reads ``text`` the same way.

    ``fallback`` reads with the standard library and decides every text
    orjson would read differently or refuses; it may be stricter than
    ``json.loads`` (refuse duplicate keys, say) but must read what it accepts
    as ``json.loads`` does.
    """
    try:
        doc = orjson.loads(text)
        # Written again to count its strings; past 255 levels orjson will not.
        exact = _LONG_NUMBER not in text.translate(_DIGITS_AS_ZEROS) and _quotes(
            text
        ) == orjson.dumps(doc).count(b'"')
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        exact = False
    return doc if exact else fallback(text)


def dumps(document: Any, fallback: Callable[[Any], bytes], *, finite: bool = False) -> bytes:
    """Compact UTF-8 JSON of ``document``, by orjson if it may and can, else ``fallback(document)``.

    orjson may write a :class:`JSONDocument`, or anything when the caller
    says it is ``finite`` (holds no NaN or infinity, as the webhook's own
    answers, which hold no floats). It writes no whitespace and no escapes
    beyond the ones JSON needs, as ``json.dumps(separators=(",", ":"),
    ensure_ascii=False)`` does.
    """
    if finite or isinstance(document, JSONDocument):
        try:
            return orjson.dumps(document)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return fallback(document)


def _quotes(text: bytes) -> int:
    """The quote marks of valid JSON ``text``, counting each ``\\u0022`` as one: never fewer than orjson writes for it.

    orjson writes each string between two quote marks and each quote inside
    one as ``\\"``: ``2 * strings + quotes inside`` in all. The text has as
    many strings, and its quotes inside are written ``\\"`` (one quote mark)
    or ``\\u0022`` (counted here; an escaped backslash before ``u0022``
    counts too, one too many, which only sends the text to the standard
    library). So this count equals orjson's when every string survived the
    decoding and exceeds it when a duplicate key took one with it.
    """
    return text.count(b'"') + text.count(b"\\u0022")
