import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from feedlens.env import envbool, envint, envlist, envstr


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly this environment."""
    clean = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SECRET_KEY")}
    code = "import feedlens.settings as s; print(s.DATABASES['default']['ENGINE'], s.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = load_settings(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_runs_on_the_embedded_sqlite_default(tmp_path: Path) -> None:
    result = load_settings(DEBUG="true", DATABASE_URL="", FEEDLENS_VAR_DIR=str(tmp_path))
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True"]
    assert (tmp_path).is_dir()


def test_a_secret_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("FEEDLENS_TEST_KEY_FILE", str(secret))
    assert envstr("FEEDLENS_TEST_KEY", "default") == "from-a-file"


def test_typed_readers_reject_values_of_the_wrong_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDLENS_TEST_FLAG", "maybe")
    monkeypatch.setenv("FEEDLENS_TEST_COUNT", "many")
    with pytest.raises(ImproperlyConfigured, match="FEEDLENS_TEST_FLAG must be true or false"):
        envbool("FEEDLENS_TEST_FLAG", "false")
    with pytest.raises(ImproperlyConfigured, match="FEEDLENS_TEST_COUNT must be a whole number"):
        envint("FEEDLENS_TEST_COUNT", "1")
    monkeypatch.setenv("FEEDLENS_TEST_HOSTS", " a.example, ,b.example ")
    assert envlist("FEEDLENS_TEST_HOSTS", "") == ["a.example", "b.example"]


def test_celery_acknowledges_late_and_speaks_only_json() -> None:
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    assert (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        > settings.CELERY_TASK_TIME_LIMIT
    )


# What README's "Deploying" tells a production install behind a TLS proxy to set.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789-abcdefgh",
    "ALLOWED_HOSTS": "feedback.example.com",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def test_the_documented_production_settings_pass_djangos_deployment_check() -> None:
    clean = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**clean, **PRODUCTION_ENV},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
