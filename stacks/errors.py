"""User-facing errors: each problem is one located line; the CLI exits 2 on them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "ConfigError", "MissingSecretError"]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One bad input: where (file, line, key path), what (value), and what is allowed."""

    file: str
    key: str
    message: str
    value: object = None
    line: int | None = None
    has_value: bool = True

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        shown = f" = {_short(self.value)}" if self.has_value else ""
        key = f" {self.key}{shown}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(Exception):
    """Bad stack configuration. Carries every problem found, each printable on one line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class MissingSecretError(ConfigError):
    """The configuration is valid but needs a secret the stack does not set yet.

    ``secrets``: the secret keys (unqualified, e.g. ``hfToken``) that are missing, in problem order.
    """

    def __init__(self, problems: list[Problem], secrets: list[str] | None = None):
        super().__init__(problems)
        self.secrets = list(dict.fromkeys(secrets or []))
