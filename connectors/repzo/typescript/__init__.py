"""A reader for TypeScript declaration files, in pure Python: enough of the language to answer
what properties a type has, which string values a literal type allows and which dotted field
paths a record type holds. It knows nothing about any particular SDK.

- ``tokens``: the tokenizer;
- ``types``: type-expression nodes and ``render``, which writes one back as text;
- ``declarations``: interfaces, type aliases and constants of a parsed file, by namespace;
- ``parser``: the parser that builds them, ``parse_types`` for a whole file;
- ``resolve``: ``Resolver``, which answers questions about the parsed types.
"""

from connectors.repzo.typescript.declarations import Module
from connectors.repzo.typescript.parser import parse_types
from connectors.repzo.typescript.resolve import Resolver
from connectors.repzo.typescript.types import render

__all__ = ["Module", "Resolver", "parse_types", "render"]
