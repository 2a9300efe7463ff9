"""Making untrusted text safe to show in places that would otherwise interpret it."""

from __future__ import annotations

import html
import re

# Every character with a meaning in CommonMark or GitHub-flavoured markdown (and HTML's < and >).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=])")


# What GitHub-flavoured markdown turns into links by itself (www.…, http://…, name@host), found
# in the text after escapes are read, so escaping cannot stop it: a word joiner (U+2060,
# invisible) after "www", "@" and the scheme's ":" can.
_AUTOLINK_TRIGGERS = re.compile(r"(?i)(www)(?=\.)|(@)|(?<=http)(:)|(?<=https)(:)")
WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """Backslash-escape every markdown-significant character so `text` renders literally, and
    break what would become an automatic link.

    For messages that carry uploaded names or content into elements that render markdown
    (errors, captions); the text itself is shown through plain-text elements instead.
    """
    text = _AUTOLINK_TRIGGERS.sub(lambda m: m.group(0) + WORD_JOINER, text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def visible_whitespace(text: str) -> str:
    """Newlines as ⏎ and spaces as ·, for labelling single characters in charts."""
    return text.replace("\n", "⏎").replace(" ", "·").replace("\t", "⇥")


def marked_text_html(text: str, span: tuple[int, int] | None) -> str:
    """`text` as escaped HTML in a monospace block, with text[span[0]:span[1]] marked as copied."""
    if span is None or span[0] >= span[1]:
        body = html.escape(text)
    else:
        start, end = span
        body = (
            html.escape(text[:start])
            + '<mark style="background:#f3d9fa;border-bottom:2px solid #9467bd" '
            'title="copied verbatim from the training text">'
            + html.escape(text[start:end])
            + "</mark>"
            + html.escape(text[end:])
        )
    return (
        '<pre style="white-space:pre-wrap;overflow-wrap:anywhere;font-size:0.85rem;'
        'padding:0.75rem 1rem;border-radius:0.5rem;background:rgba(128,128,128,0.08)">'
        f"{body}</pre>"
    )
