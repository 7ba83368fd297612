"""Errors the CLI turns into one line per problem and exit code 2."""

from __future__ import annotations


class AuditInputError(Exception):
    """Bad input: each problem names the file and the JSON path where it was found."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    @classmethod
    def one(cls, file: str, json_path: str, message: str) -> AuditInputError:
        return cls([(file, json_path, message)])

    def lines(self) -> list[str]:
        return [f"{file}: {path}: {message}" for file, path, message in self.problems]


class UsageError(Exception):
    """A command line that makes no sense; exit 2 like argparse's own errors."""
