"""Typed readers for settings that come from the environment.

Every reader records the variable it read in ``VARIABLES_READ``, so that tests can
check `.env.example` and `docker-compose.yml` against what the code really reads.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

VARIABLES_READ: set[str] = set()


def envstr(name: str, default: str) -> str:
    """Return the variable, or the contents of the file named by NAME_FILE, or default.

    An empty variable counts as unset, as compose's ${NAME:-} leaves it."""
    VARIABLES_READ.add(name)
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name) or default


def envbool(name: str, default: str) -> bool:
    value = envstr(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str) -> int:
    value = envstr(name, default)
    try:
        return int(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from error


def envlist(name: str, default: str) -> list[str]:
    """Return a comma-separated variable as a list with blanks removed."""
    return [part.strip() for part in envstr(name, default).split(",") if part.strip()]


def envpath(name: str, default: Path) -> Path:
    return Path(envstr(name, str(default))).expanduser()
