"""Cells that a spreadsheet would run as a formula, made inert on the way into the file and
restored on the way out.

Spreadsheet programs take a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or a carriage return before one) for a formula, so a customer named
``=HYPERLINK("http://evil", "Click")`` or ``+cmd|' /C calc'!A0`` becomes a link or a command
on the desk of whoever opens the export. OWASP's rule is to put a single quote before such a
cell: a spreadsheet shows a quoted cell as text.

The rule, exact both ways so that what syncer reads back is what it wrote:

- Writing: a cell whose text starts with one of ``= + - @``, tab or CR, possibly after some
  single quotes, gets one more ``'`` in front: ``=1+2`` -> ``'=1+2``, ``'=1+2`` -> ``''=1+2``.
  A plain number (``-12.5``, ``+3``, ``-1e-05``, ``-12,5``) is left alone: it runs nothing, and
  quoting it would make it text in a numeric column.
- Reading: a cell that starts with one or more ``'`` followed by one of those characters loses
  its first ``'``. Any other cell is read as it is (``'hello``, ``'``, ``''``, ``-12.5``).

Every text that writing leaves alone is one reading leaves alone, and every text writing quotes
reading unquotes once, so ``read(write(text)) == text`` for every text.
"""

from __future__ import annotations

import re

DANGEROUS = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's list)."""
QUOTE = "'"
FIRST = DANGEROUS | {QUOTE}
"""First characters :func:`escape` looks further at; any other cell is written as it is."""
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")
"""Digits with an optional sign, decimal point or comma and exponent: no letters but an
exponent's, no operator but a sign, so nothing a spreadsheet could run."""


def escape(text: str) -> str:
    """The cell ``text`` is written as."""
    if not text or text[0] not in FIRST:
        return text  # nearly every cell: decided on its first character
    body = text.lstrip(QUOTE)
    if not body or body[0] not in DANGEROUS or _PLAIN_NUMBER.fullmatch(text):
        return text
    return QUOTE + text


def unescape(text: str) -> str:
    """The text a cell written by :func:`escape` holds."""
    if not text or text[0] != QUOTE:
        return text
    body = text.lstrip(QUOTE)
    return text[1:] if body and body[0] in DANGEROUS else text
