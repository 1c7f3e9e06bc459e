"""The quick-import switch, importable without pandas or altair (report workers use it first)."""

from __future__ import annotations

import sys

__all__ = ["skip_slow_optional_imports"]


def skip_slow_optional_imports() -> None:
    """Skip ``rfc3987_syntax``, an optional jsonschema format checker that costs ~2 s per import.

    jsonschema imports it eagerly when installed (python-jsonschema/jsonschema#1428) only to
    check the ``iri`` formats, which altair never validates. Setting its ``sys.modules`` entry
    to ``None`` is the documented way to make an import fail; jsonschema then skips the check.
    It only helps before altair (or nbformat) is first imported in the process.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
