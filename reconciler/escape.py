"""Making live values (names, tags, ids, ``_status`` and error messages) safe to print.

Anything that comes from LaunchDarkly may hold control characters, ANSI escape sequences,
newlines, bidi overrides or Markdown and HTML syntax, and a name like ``"x\\n  + forged"``
must never forge a line of a plan. ``text`` shows every such character as a visible escape
(``\\n``, ``\\x1b``, ``\\u202e``); renderers run it over every line they print (the text
renderer in one place: its line painter). ``markdown`` and ``markdown_code`` additionally
neutralise Markdown and HTML syntax for a pull-request comment (entities for ``<``, ``>``,
``&``, ``"``; backslashes before Markdown punctuation, ``|`` included; ``markdown_code``
keeps a plain backtick span when that is safe), and ``in_code_block``
makes text safe inside a fenced code block (no backtick runs, no ``<`` that could close the
surrounding ``<details>``). All are pure functions with a fast path for clean strings.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible formatting characters that can reorder or hide
# text on screen: bidi marks, embeddings, overrides and isolates, zero-width characters,
# line and paragraph separators, the BOM, and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MARKDOWN = re.compile(r"""[\\`*_\[\]{}()#+!|~$<>&"]""")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}
_CODE_BLOCK = re.compile("[`<]")
_CODE_SPAN_UNSAFE = re.compile("[`|<>&\\\\]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: str) -> str:
    """``value`` with control, bidi and invisible formatting characters as visible escapes."""
    return _UNSAFE.sub(_visible, value) if _UNSAFE.search(value) else value


def _markdown_char(match: re.Match[str]) -> str:
    char = match.group()
    return _ENTITIES.get(char) or f"\\{char}"


def markdown(value: str) -> str:
    """``text(value)`` that Markdown and HTML show literally, also inside a table cell."""
    value = text(value)
    return _MARKDOWN.sub(_markdown_char, value) if _MARKDOWN.search(value) else value


def markdown_code(value: str) -> str:
    """``value`` as inline code, also inside a table cell: a backtick span when that shows it
    literally, else ``<code>`` around ``markdown(value)`` (a backtick span cannot hold
    backticks or ``|``, and would show ``&lt;`` as is). Mentions and links stay inert in
    both."""
    shown = text(value)
    if _CODE_SPAN_UNSAFE.search(shown) is None and shown.strip(" ") == shown and shown:
        return f"`{shown}`"
    return f"<code>{markdown(value)}</code>"


def _code_block_char(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def in_code_block(value: str) -> str:
    """``value``'s lines, each ``text``-escaped, such that they cannot end a fenced code block
    or open or close an HTML tag around it: backticks and ``<`` become ``\\x60`` and
    ``\\x3c``."""
    value = lines(value)
    return _CODE_BLOCK.sub(_code_block_char, value) if _CODE_BLOCK.search(value) else value


def lines(value: str) -> str:
    """``value`` with each of its lines ``text``-escaped: for multi-line messages (errors,
    logs) whose own line breaks are meant, while the values inside them are not trusted."""
    return "\n".join(text(line) for line in value.split("\n"))
