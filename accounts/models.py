"""What the accounts app stores besides Django's users and groups: the mail it sent people,
so that password resets and invitations can be limited (accounts.throttle)."""

from django.db import models
from django.utils import timezone


class MailKind(models.TextChoices):
    PASSWORD_RESET = "password_reset", "Password reset"
    INVITATION = "invitation", "Invitation"


class SentMail(models.Model):
    """One account mail sent: to whom, at whose request (the client's address), when."""

    kind = models.CharField(max_length=20, choices=MailKind.choices)
    recipient = models.EmailField()
    client_address = models.GenericIPAddressField(null=True, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "recipient", "sent_at"], name="sent_mail_recipient"),
            models.Index(fields=["kind", "client_address", "sent_at"], name="sent_mail_client"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} at {self.sent_at:%Y-%m-%d %H:%M}"
