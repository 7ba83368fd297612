"""Built-in checks: one module per area. Modules whose name starts with `_` hold helpers."""
