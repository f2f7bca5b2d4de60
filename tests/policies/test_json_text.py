"""JSON text through orjson: whatever the text, the standard library's reading and writing."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from meshc.policies import json_text
from meshc.policies.json_text import JSONDocument


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, and of the same Python types (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def reading(read: Any, text: bytes) -> tuple[str, Any]:
    try:
        return "value", read(text)
    except Exception as exc:  # noqa: BLE001 - the very exception is what is compared
        return type(exc).__name__, str(exc)


def agree(text: bytes, fallback: Any = json.loads) -> None:
    fast, slow = reading(lambda t: json_text.loads(t, fallback), text), reading(fallback, text)
    assert fast[0] == slow[0]
    assert same(fast[1], slow[1]) if fast[0] == "value" else fast[1] == slow[1]


def refusing_duplicates(text: bytes) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)

    return json.loads(text, object_pairs_hook=unique)


# Keys from a small alphabet, so that objects written by hand below repeat them.
keys = st.text(st.sampled_from('ab"\\/\u0022é\ud800'), max_size=3)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.sampled_from('ab"\\/:,{}[]\x00\x1f\u2028é\U0001f600\ud800\udc00'), max_size=8)
)


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """JSON text of every kind the standard library reads, duplicate keys and escapes included."""

    def write(value: Any) -> str:
        if isinstance(value, dict):
            members = [f"{write(k)}:{write(v)}" for k, v in value.items()]
            if value and draw(st.booleans()):  # a duplicate of some member
                k = draw(st.sampled_from(list(value)))
                members.append(f"{write(k)}:{write(draw(scalars))}")
            return "{" + ",".join(members) + "}"
        if isinstance(value, list):
            return "[" + ",".join(map(write, value)) + "]"
        text = json.dumps(value, ensure_ascii=draw(st.booleans()))
        if isinstance(value, str) and draw(st.booleans()):
            text = text.replace('\\"', "\\u0022").replace("/", "\\/")
        return text

    doc = draw(
        st.recursive(
            scalars,
            lambda children: (
                st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)
            ),
            max_leaves=12,
        )
    )
    return write(doc).encode("utf-8", "surrogatepass")


@given(json_texts())
@example(b'{"a":1,"a":2}')
@example(b'{"a":1,"a":2,"b":"\\u0022\\u0022"}')  # quotes escaped that make up for a dropped key
@example(b'{"a":"\\\\u0022","a":2}')
@example(b"[18446744073709551615, 18446744073709551616, -9223372036854775809]")
@example(b"[1e400, -1e400, 4.9e-325, 0.1000000000000000055511151231257827, -0.0]")
@example(b'["\\ud800", "\\udc00\\ud800", "\\ud83d\\ude00"]')
@example(b'\xef\xbb\xbf{"a": 1}')
@example(b' \t\n\r{"a" : [ 1 , 2 ] } \r\n')
def test_orjson_reads_nothing_differently_from_the_standard_library(text: bytes) -> None:
    agree(text)
    agree(text, refusing_duplicates)


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b"NaN", b"[Infinity]", b"01", b"[1,]", b'"a\x01"', "é".encode("utf-16"), b"\xff"],
)
def test_text_orjson_refuses_is_the_standard_librarys_to_read_or_refuse(text: bytes) -> None:
    agree(text)  # json.loads reads NaN and Infinity, and refuses the rest in its own words
    agree(text, refusing_duplicates)


def test_a_document_past_orjsons_nesting_is_read_by_the_standard_library() -> None:
    text = b"[" * 300 + b"]" * 300
    assert json_text.loads(text, lambda t: "read by the fallback") == "read by the fallback"


def test_integers_orjson_would_round_stay_whole() -> None:
    assert json_text.loads(b"[123456789012345678901234567890]") == [123456789012345678901234567890]


def test_a_duplicate_key_reaches_the_fallback_that_refuses_it() -> None:
    with pytest.raises(ValueError, match="duplicate key"):
        json_text.loads(b'{"a": 1, "a": 2, "b": "\\u0022\\u0022"}', refusing_duplicates)


@given(json_texts())
def test_a_decoded_document_is_written_as_the_standard_library_writes_it(text: bytes) -> None:
    try:
        doc = json.loads(text)
    except ValueError:
        return
    written = json_text.dumps(JSONDocument(doc) if isinstance(doc, dict) else doc, stdlib)
    assert same(json.loads(written), json.loads(stdlib(doc)))


def stdlib(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def test_orjson_writes_a_document_as_the_standard_library_does_byte_for_byte() -> None:
    doc = JSONDocument({"a": ["é\u2028\x01\n/", 1, -2.5, True, None, {"b": '\\"'}]})
    assert json_text.dumps(doc, lambda _: b"the fallback") == stdlib(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"a": math.nan},  # a plain dict may hold what orjson would write as null
        JSONDocument({1: "a key that is not a string"}),
        JSONDocument({"a": 2**64}),
        JSONDocument({"a": "\ud800"}),
    ],
    ids=["nan in a plain dict", "int key", "integer past 64 bits", "lone surrogate"],
)
def test_what_orjson_may_not_or_cannot_write_goes_to_the_fallback(doc: Any) -> None:
    assert json_text.dumps(doc, lambda _: b"the fallback") == b"the fallback"


def test_an_answer_said_finite_is_written_by_orjson_whatever_its_type() -> None:
    answer = {"uid": "u", "allowed": True, "warnings": ["é"]}
    assert json_text.dumps(answer, lambda _: b"the fallback", finite=True) == stdlib(answer)


def test_a_part_of_a_decoded_document_keeps_the_mark_and_others_do_not() -> None:
    decoded = JSONDocument({"request": {"a": 1}})
    assert type(json_text.like(decoded, {"request": {}})) is JSONDocument
    assert type(json_text.like({"request": {}}, {"request": {}})) is dict
    assert json_text.like(decoded, [1]) == [1]
