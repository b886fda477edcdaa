"""The error raised for bad configuration values, so messages always name key, value and rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hydra.errors import CompactHydraException


class ConfigValueError(CompactHydraException, ValueError):
    """A configuration value that is not allowed.

    A CompactHydraException, so that train.py and dl2.generate print its one-line message
    rather than a traceback.

    `key` is the parameter name where the error is raised; the pipeline prefixes it with the
    config group (``pad`` becomes ``model.net.pad``) so the user sees the key to change.
    """

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(self._text())

    def __reduce__(self) -> tuple:
        """Picklable with its three parts (a joblib worker sends its error to the launcher:
        without this the launcher failed to rebuild it and lost the message)."""
        return (type(self), (self.key, self.value, self.allowed))

    def _text(self) -> str:
        return f"{self.key}={self.value!r} is not allowed: {self.allowed}"

    def __str__(self) -> str:
        return self._text()

    def under(self, prefix: str) -> ConfigValueError:
        """The same error with the key placed under a config path such as ``model``."""
        return ConfigValueError(
            f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed
        )


def check_choice(key: str, value: Any, choices: tuple[Any, ...] | list[Any]) -> None:
    """Raise ConfigValueError unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigValueError(key, value, "choose one of " + ", ".join(map(str, choices)))


def check_positive(key: str, value: Any) -> None:
    """Raise ConfigValueError unless `value` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigValueError(key, value, "must be a positive integer")


def invalid_yaml(path: Path) -> str | None:
    """Why the file `path` is not YAML ("line 2, column 14: expected ',' or ']'"), or None
    when it parses (its keys and values are for the schema that reads it to check)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return where + (err.problem or err.context or "not YAML")
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        return str(err).splitlines()[0]
    return None
