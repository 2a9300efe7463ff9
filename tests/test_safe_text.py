"""Untrusted text made safe: markdown escaping and visible whitespace."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from dashboard.safe_text import WORD_JOINER, escape_markdown, visible_whitespace

# ASCII characters with a meaning in CommonMark, GitHub-flavoured markdown, Streamlit's markdown
# (":" for emoji shortcodes and colour directives, "$" for LaTeX) or HTML ("<", ">", "&", quotes).
MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:&\"'=")
# Text built mostly from those characters, so the interesting cases come up often.
markdownish = st.text(alphabet=st.sampled_from(sorted(MARKDOWN_SPECIAL) + list("ab 1\n\t☃é")))


def unescape(text: str) -> str:
    """What a markdown renderer shows for backslash-escaped text."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def unescaped_specials(escaped: str) -> list[str]:
    """Markdown-special characters in `escaped` that no backslash makes literal."""
    found, i = [], 0
    while i < len(escaped):
        if escaped[i] == "\\" and i + 1 < len(escaped):
            i += 2  # an escape pair: the character after the backslash is literal
            continue
        if escaped[i] in MARKDOWN_SPECIAL:
            found.append(escaped[i])
        i += 1
    return found


@given(st.text() | markdownish)
def test_escaping_then_unescaping_gives_back_the_original(text):
    """As a reader sees it: the invisible word joiners that break automatic links aside."""
    shown = unescape(escape_markdown(text))
    assert shown.replace(WORD_JOINER, "") == text.replace(WORD_JOINER, "")


@given(st.text() | markdownish)
def test_every_markdown_special_character_is_made_literal(text):
    assert unescaped_specials(escape_markdown(text)) == []


@given(st.text(alphabet=st.characters(exclude_characters=sorted(MARKDOWN_SPECIAL) + ["@"])))
def test_text_without_special_characters_is_left_alone(text):
    assert escape_markdown(text) == text


def test_injection_attempts_are_escaped_character_by_character():
    assert escape_markdown("<script>") == "\\<script\\>"
    assert escape_markdown("[x](javascript:alert(1))") == "\\[x\\]\\(javascript\\:alert\\(1\\)\\)"
    assert escape_markdown("**bold** _it_ `code`") == "\\*\\*bold\\*\\* \\_it\\_ \\`code\\`"
    assert escape_markdown(":red[alert] $x$") == "\\:red\\[alert\\] \\$x\\$"


def test_visible_whitespace_marks_newlines_spaces_and_tabs():
    assert visible_whitespace("a b\n\tc") == "a·b⏎⇥c"
    assert visible_whitespace(" ") == "·"
    assert visible_whitespace("\n") == "⏎"


@given(st.text(alphabet=st.characters(exclude_characters=[" ", "\n", "\t"])))
def test_visible_whitespace_leaves_other_characters_alone(text):
    assert visible_whitespace(text) == text


@given(st.text())
def test_visible_whitespace_keeps_one_symbol_per_character(text):
    shown = visible_whitespace(text)
    assert len(shown) == len(text)
    assert not {" ", "\n", "\t"} & set(shown)


# What remark-gfm links by itself in text (mdast-util-gfm-autolink-literal), after escapes.
GFM_WWW = re.compile(r"(?<![\w.-])www(?=\.)[-.\w]+", re.IGNORECASE)
GFM_PROTOCOL = re.compile(r"https?://[-.\w]+", re.IGNORECASE)
GFM_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+")


def test_names_that_markdown_would_link_by_itself_are_not_links() -> None:
    for name in (
        "www.example.org-songs.txt",
        "me@example.com.txt",
        "see https://example.org/x and http://a.b",
        "WWW.Example.ORG",
    ):
        shown = unescape(escape_markdown(name))
        for pattern in (GFM_WWW, GFM_PROTOCOL, GFM_EMAIL):
            assert not pattern.search(shown), (name, shown)
        assert shown.replace(WORD_JOINER, "") == name


@given(st.text(alphabet=st.sampled_from(list("w.@:/htps-ab1 "))))
def test_no_text_escaped_is_linked_by_markdown(text):
    shown = unescape(escape_markdown(text))
    for pattern in (GFM_WWW, GFM_PROTOCOL, GFM_EMAIL):
        assert not pattern.search(shown), shown
