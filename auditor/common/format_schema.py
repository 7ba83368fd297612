"""The part of a JSON Schema that holds its `format` assertions, for checking them apart.

jsonschema-rs given Python callbacks for formats allocates as it walks the instance, whether
or not the part it walks has a `format`: validating a 1M-user snapshot with the callbacks
peaked 100-200 MB higher than without them (the users' schema has no `format` at all). So a
document is validated twice: in full without format callbacks, and against this schema with
them, in which each `$defs` entry that can reach no `format` is replaced by `true`, so its
(large) part of the document is not walked.

Replacing a subschema by `true` only widens what it accepts. That leaves the verdict the same
where the entry is used only in places where accepting more can only accept more (`properties`,
`items`, `allOf`, `then`, ...), since the full validation still holds the rest. An entry used
under `not`, `if`, `oneOf`, `contains` or anything else is kept, and a schema using references
this module does not follow (`$dynamicRef`, a reference that is not `#/$defs/<name>`) or
`unevaluated*` keywords (which read what other subschemas matched) is kept whole.
"""

from __future__ import annotations

from typing import Any

# Keywords whose subschemas sit where accepting more can only accept more.
_WIDENING_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_WIDENING_ONE = frozenset({"additionalProperties", "items", "then", "else"})
_WIDENING_LISTS = frozenset({"allOf", "anyOf", "prefixItems"})
# Keywords whose subschemas sit anywhere else.
_OTHER_ONE = frozenset({"not", "if", "contains", "propertyNames"})
_OTHER_LISTS = frozenset({"oneOf"})
_UNFOLLOWED = frozenset(
    {"$dynamicRef", "$recursiveRef", "unevaluatedProperties", "unevaluatedItems"}
)
_DATA = frozenset({"const", "default", "enum", "examples"})  # values, not schemas
_DEFS = "#/$defs/"


class _Unfollowed(Exception):
    pass


def _references(node: Any, widening: bool, out: list[tuple[str, bool]]) -> None:
    """Each `$defs` entry `node` refers to, and whether every step to it widens."""
    if isinstance(node, list):  # schemas in a list where one was expected: kept
        for sub in node:
            _references(sub, False, out)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _UNFOLLOWED:
            raise _Unfollowed(key)
        if key == "$ref":
            if not isinstance(value, str) or not value.startswith(_DEFS) or "/" in value[8:]:
                raise _Unfollowed(str(value))
            out.append((value[len(_DEFS) :], widening))
        elif key in _WIDENING_MAPS and isinstance(value, dict):
            for sub in value.values():
                _references(sub, widening, out)
        elif key in _WIDENING_ONE:
            _references(value, widening, out)
        elif key in _WIDENING_LISTS and isinstance(value, list):
            for sub in value:
                _references(sub, widening, out)
        elif key in _OTHER_ONE:
            _references(value, False, out)
        elif key in _OTHER_LISTS and isinstance(value, list):
            for sub in value:
                _references(sub, False, out)
        elif key == "$defs":
            continue  # entries are followed where they are used
        elif key not in _DATA:
            _references(value, False, out)  # a keyword this module does not know: kept


def _mentions_format(node: Any) -> bool:
    if isinstance(node, dict):
        return "format" in node or any(_mentions_format(v) for k, v in node.items() if k != "$defs")
    if isinstance(node, list):
        return any(_mentions_format(v) for v in node)
    return False


def where_formats_are(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with each `$defs` entry that reaches no `format`, and is used only where
    widening is harmless, replaced by `true` (or `schema` itself if nothing can be)."""
    definitions = schema.get("$defs")
    if not isinstance(definitions, dict):
        return schema
    uses: dict[str, list[tuple[str, bool]]] = {}
    try:
        for name, body in definitions.items():
            found: list[tuple[str, bool]] = []
            _references(body, True, found)
            uses[name] = found
        root: list[tuple[str, bool]] = []
        _references(schema, True, root)
    except _Unfollowed:
        return schema
    # Every entry reached, and whether any way to it does not widen.
    visited: set[tuple[str, bool]] = set()
    pending = list(root)
    while pending:
        name, widening = pending.pop()
        if name not in definitions:
            return schema
        if (name, widening) not in visited:
            visited.add((name, widening))
            pending.extend((n, w and widening) for n, w in uses[name])
    reached = {name for name, _ in visited}
    narrowed = {name for name, widening in visited if not widening}
    # Entries reaching a format, through their own body or the entries they use.
    formats = {name for name, body in definitions.items() if _mentions_format(body)}
    changed = True
    while changed:
        changed = False
        for name, used in uses.items():
            if name not in formats and any(n in formats for n, _ in used):
                formats.add(name)
                changed = True
    cut = {name for name in reached if name not in formats and name not in narrowed}
    if not cut:
        return schema
    return {
        **schema,
        "$defs": {name: (True if name in cut else body) for name, body in definitions.items()},
    }
