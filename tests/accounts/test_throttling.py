"""Sign-ins are paused after too many wrong passwords, per account and per client address
(django-axes), and the reset mail anyone can ask for is limited (accounts.throttle)."""

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def sign_in(username: str, password: str, address: str = "203.0.113.7") -> tuple[int, bool]:
    """Post the login form from address; return the status and whether it signed in."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code, "_auth_user_id" in client.session


@pytest.fixture
def limit(settings: object) -> int:
    return settings.AXES_FAILURE_LIMIT  # type: ignore[attr-defined]


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused(
    pm_user: User, limit: int
) -> None:
    for _ in range(limit - 1):
        assert sign_in("pm", WRONG) == (200, False)
    assert sign_in("pm", WRONG) == (429, False)  # the last one allowed pauses sign-in
    status, signed_in = sign_in("pm", "pm-password-1")
    assert (status, signed_in) == (429, False)
    page = Client(REMOTE_ADDR="203.0.113.7").post(
        reverse("login"), {"username": "pm", "password": "pm-password-1"}
    )
    assert "Sign-in paused" in page.content.decode()


def test_the_pause_holds_for_the_account_from_another_address(pm_user: User, limit: int) -> None:
    for number in range(limit):
        sign_in("pm", WRONG, address=f"198.51.100.{number + 1}")
    assert sign_in("pm", "pm-password-1", address="192.0.2.50") == (429, False)


def test_the_pause_holds_for_the_address_with_another_account(
    pm_user: User, support_user: User, limit: int
) -> None:
    for number in range(limit):
        sign_in(f"guess-{number}", WRONG)
    assert sign_in("support", "support-password-1") == (429, False)
    assert sign_in("support", "support-password-1", address="192.0.2.50") == (302, True)


def test_signing_in_to_ones_own_account_does_not_lift_the_count_on_another(
    pm_user: User, support_user: User, limit: int
) -> None:
    # An attacker with an account of their own, guessing pm's password from one address.
    for _ in range(limit - 1):
        assert sign_in("pm", WRONG) == (200, False)
        assert sign_in("support", "support-password-1") == (302, True)
    assert sign_in("pm", WRONG) == (429, False)
    assert sign_in("pm", "pm-password-1", address="192.0.2.50") == (429, False)


def ask_for_reset(email: str, address: str = "203.0.113.7") -> int:
    response = Client(REMOTE_ADDR=address).post(reverse("password_reset"), {"email": email})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    return len(mail.outbox)


def test_reset_mail_to_one_address_is_limited_per_hour(pm_user: User, settings: object) -> None:
    pm_user.email = "pm@example.com"
    pm_user.save()
    for number in range(30):
        ask_for_reset("pm@example.com", address=f"198.51.100.{number + 1}")
    assert len(mail.outbox) == settings.FEEDLENS_RESET_MAILS_PER_ADDRESS  # type: ignore[attr-defined]


def test_reset_mail_asked_for_from_one_address_is_limited_per_hour(settings: object) -> None:
    settings.FEEDLENS_RESET_MAILS_PER_CLIENT = 4  # type: ignore[attr-defined]
    for number in range(6):
        User.objects.create_user(f"person{number}", f"person{number}@example.com", "x-1234567")
        ask_for_reset(f"person{number}@example.com")
    assert len(mail.outbox) == 4
    assert ask_for_reset("person5@example.com", address="192.0.2.50") == 5


def test_behind_a_trusted_proxy_each_client_is_counted_by_its_forwarded_address(
    pm_user: User, limit: int, settings: object
) -> None:
    settings.FEEDLENS_TRUSTED_PROXIES = ["10.0.0.0/24"]  # type: ignore[attr-defined]

    def through_proxy(forwarded_for: str, username: str, password: str) -> int:
        client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
        response = client.post(reverse("login"), {"username": username, "password": password})
        return response.status_code

    # One client guesses, writing a new address of its own before the proxy's each time.
    for number in range(limit):
        through_proxy(f"192.0.2.{number}, 198.51.100.7", f"guess-{number}", WRONG)
    assert through_proxy("192.0.2.99, 198.51.100.7", "pm", "pm-password-1") == 429
    # Another client behind the same proxy is not held back by it.
    assert through_proxy("203.0.113.9", "pm", "pm-password-1") == 302


def test_a_client_that_is_no_trusted_proxy_cannot_choose_its_address(
    pm_user: User, limit: int, settings: object
) -> None:
    settings.FEEDLENS_TRUSTED_PROXIES = ["10.0.0.0/24"]  # type: ignore[attr-defined]
    for number in range(limit):
        client = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
        client.post(reverse("login"), {"username": f"guess-{number}", "password": WRONG})
    assert sign_in("pm", "pm-password-1", address="198.51.100.7") == (429, False)
