"""What every stage may use, and nothing stage-specific: input errors, JSON reading and
atomic writes, UTC times, secret redaction. Imports nothing else from the package."""
