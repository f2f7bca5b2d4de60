"""Colour and progress go to terminals only, and colour honours NO_COLOR."""

from __future__ import annotations

import io

import pytest

from meshc.terminal import Progress, paint, use_color


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_on_a_terminal_and_not_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(FakeTerminal())
    assert not use_color(io.StringIO())


@pytest.mark.parametrize(("name", "value"), [("NO_COLOR", "1"), ("TERM", "dumb")])
def test_no_color_or_a_dumb_terminal_turns_colour_off(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv(name, value)
    assert not use_color(FakeTerminal())


def test_an_empty_no_color_leaves_colour_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # no-color.org: "when present and not an empty string".
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(FakeTerminal())


def test_paint_wraps_only_when_enabled() -> None:
    assert paint("x", "red", True) == "\033[31mx\033[0m"
    assert paint("x", "red", False) == "x"


def test_progress_shows_the_stage_its_count_and_a_bar() -> None:
    bar = Progress(io.StringIO(), enabled=False)
    bar.stage("auditing pods", total=200)
    bar.advance(50)
    assert bar.line().startswith("auditing pods [######------------------] 50/200 (")
    bar.stage("writing reports")
    assert bar.line().startswith("writing reports (")


def test_progress_draws_nothing_on_a_stream_that_is_not_a_terminal() -> None:
    out = io.StringIO()
    bar = Progress(out, enabled=False)
    bar.start()
    bar.stage("rendering 2000 services")
    bar.close()
    assert out.getvalue() == ""
