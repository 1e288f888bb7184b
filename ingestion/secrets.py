"""Secrets in source configuration (API tokens, mailbox passwords), encrypted at rest.

A secret is stored in DataSource.config as {"encrypted": "<Fernet token>", "hint": "abcd"}:
the key comes from settings.FEEDLENS_SECRETS_KEY, and only the sync decrypts. The hint (the
last characters of a long secret) lets a person recognise it without the page showing it.
"""

import base64
import hashlib
from typing import TypeGuard

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

HIDDEN = "••••"
# Secrets shorter than this show no characters at all in their hint: four characters of
# an eight-character password give too much away.
MIN_LENGTH_FOR_HINT = 12
HINT_CHARS = 4


class SecretKeyError(Exception):
    """The secrets key is missing, or is not the key the secret was encrypted with."""


def _fernet() -> Fernet:
    key = settings.FEEDLENS_SECRETS_KEY
    if not key:
        raise SecretKeyError(
            "FEEDLENS_SECRETS_KEY is not set: set it (or FEEDLENS_SECRETS_KEY_FILE) to a long "
            "random string to store source passwords and tokens"
        )
    # Any string works as the setting; Fernet wants 32 bytes, so it gets a digest of it.
    digest = hashlib.sha256(f"feedlens-source-secrets:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(value: str) -> dict[str, str]:
    """Return the stored form of a secret: its Fernet token and a hint to recognise it by."""
    hint = value[-HINT_CHARS:] if len(value) >= MIN_LENGTH_FOR_HINT else ""
    return {"encrypted": _fernet().encrypt(value.encode()).decode(), "hint": hint}


def decrypt_secret(stored: object, name: str = "secret") -> str:
    """Return the plaintext of a stored secret; SecretKeyError when the key does not fit."""
    if not is_stored_secret(stored):
        raise SecretKeyError(f"the {name} is not stored encrypted; enter it again")
    try:
        return _fernet().decrypt(stored["encrypted"].encode()).decode()
    except InvalidToken as error:
        raise SecretKeyError(
            f"the {name} cannot be decrypted: FEEDLENS_SECRETS_KEY is not the key it was "
            "stored with (restore that key, or enter the secret again)"
        ) from error


def is_stored_secret(value: object) -> TypeGuard[dict[str, str]]:
    return isinstance(value, dict) and isinstance(value.get("encrypted"), str)


def secret_hint(stored: object) -> str:
    """Return what a page may show of a stored secret: "••••abcd", "••••", or "" if none."""
    if not is_stored_secret(stored):
        return ""
    return HIDDEN + str(stored.get("hint", ""))
