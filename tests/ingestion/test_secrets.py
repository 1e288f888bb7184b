"""Secrets in source configuration are encrypted at rest, shown only as a hint, and a key
that does not fit gives an error that says what to do, recorded on the source."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from ingestion.connectors import connector_for
from ingestion.connectors.imap import ImapConfig
from ingestion.models import DataSource, SourceKind, SyncStatus
from ingestion.secrets import SecretKeyError, decrypt_secret, encrypt_secret, secret_hint
from ingestion.sync import sync_source

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def secrets_key(settings: object) -> None:
    settings.FEEDLENS_SECRETS_KEY = "the-first-key"  # type: ignore[attr-defined]


def test_a_stored_secret_is_not_its_plaintext_and_decrypts_back() -> None:
    stored = encrypt_secret(PASSWORD)
    assert PASSWORD not in json.dumps(stored)
    assert stored["hint"] == "aple"
    assert decrypt_secret(stored) == PASSWORD


def test_the_hint_shows_the_end_of_a_long_secret_and_nothing_of_a_short_one() -> None:
    assert secret_hint(encrypt_secret(PASSWORD)) == "••••aple"
    assert secret_hint(encrypt_secret("hunter22")) == "••••"
    assert secret_hint("") == ""


def test_a_wrong_key_gives_an_error_that_names_the_setting(settings: object) -> None:
    stored = encrypt_secret(PASSWORD)
    settings.FEEDLENS_SECRETS_KEY = "another-key"  # type: ignore[attr-defined]
    with pytest.raises(SecretKeyError, match="FEEDLENS_SECRETS_KEY is not the key it was stored"):
        decrypt_secret(stored, "password")


def test_without_a_key_no_secret_is_stored(settings: object) -> None:
    settings.FEEDLENS_SECRETS_KEY = ""  # type: ignore[attr-defined]
    with pytest.raises(SecretKeyError, match="FEEDLENS_SECRETS_KEY is not set"):
        encrypt_secret(PASSWORD)


@pytest.mark.django_db
def test_a_wrong_key_is_recorded_on_the_source_when_it_syncs(settings: object) -> None:
    config = ImapConfig(host="127.0.0.1", port=1, username="support", password=PASSWORD)
    stored = connector_for(SourceKind.IMAP).config_to_store(config, {})
    source = DataSource.objects.create(name="Mailbox", kind=SourceKind.IMAP, config=stored)
    settings.FEEDLENS_SECRETS_KEY = "a-key-rotated-by-mistake"  # type: ignore[attr-defined]
    result = sync_source(source.pk)
    assert result.status == SyncStatus.FAILED
    source.refresh_from_db()
    assert source.last_error.startswith("the password cannot be decrypted: FEEDLENS_SECRETS_KEY")
    assert source.failure_count == 1


def key_setting(**env: str) -> str:
    """Return FEEDLENS_SECRETS_KEY as settings load it in a fresh interpreter with env."""
    keep = {key: os.environ[key] for key in ("PATH", "FEEDLENS_VAR_DIR") if key in os.environ}
    result = subprocess.run(
        [sys.executable, "-c", "import feedlens.settings as s; print(s.FEEDLENS_SECRETS_KEY)"],
        env={**keep, "SECRET_KEY": "the-secret-key", **env},
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
        check=True,
    )
    return result.stdout.strip()


def test_production_has_no_default_key_and_the_demo_derives_one_from_the_secret_key(
    tmp_path: object,
) -> None:
    assert key_setting(DEBUG="false") == ""
    assert "the-secret-key" in key_setting(DEBUG="true")
    key_file = tmp_path / "key"  # type: ignore[operator]
    key_file.write_text("from-a-file\n")
    assert key_setting(DEBUG="false", FEEDLENS_SECRETS_KEY_FILE=str(key_file)) == "from-a-file"
