"""Making untrusted text safe to show in places that would otherwise interpret it."""

from __future__ import annotations

import re

# Every character with a meaning in CommonMark or GitHub-flavoured markdown (and HTML's < and >).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=])")


def escape_markdown(text: str) -> str:
    """Backslash-escape every markdown-significant character so `text` renders literally.

    For messages that carry uploaded names or content into elements that render markdown
    (errors, captions); the text itself is shown through plain-text elements instead.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def visible_whitespace(text: str) -> str:
    """Newlines as ⏎ and spaces as ·, for labelling single characters in charts."""
    return text.replace("\n", "⏎").replace(" ", "·").replace("\t", "⇥")
