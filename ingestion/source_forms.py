"""The forms that create and edit sources: name, item kind and state for every kind, and the
base form of a polling kind, whose subclass lives beside its connector
(ingestion/connectors/<kind>.py)."""

from typing import Any, ClassVar

from django import forms
from pydantic import ValidationError

from ingestion.connectors.base import Connector, SecretNotCarried
from ingestion.models import DataSource, Project, default_project_id
from ingestion.normalise import describe_mapping_error
from ingestion.ratings import RatingScale
from ingestion.secrets import SecretKeyError, secret_hint


class SourceForm(forms.ModelForm):
    """A source's name, project, item kind and state; sources that are pushed or uploaded
    need no more."""

    new_project = forms.CharField(
        max_length=200,
        required=False,
        label="Or a new project",
        help_text="A product of its own: its feedback gets themes of its own.",
    )

    class Meta:
        model = DataSource
        fields = [
            "name",
            "project",
            "item_kind",
            "enabled",
            "rating_scale",
            "rating_negative_max",
            "rating_positive_min",
        ]

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        told = self.instance.scale_told_by_ratings
        now = f" (now: {told.label})" if told else ""
        field = self.fields["rating_scale"]
        assert isinstance(field, forms.ChoiceField)  # a model field with choices
        field.choices = [("", f"Told by the ratings{now}"), *RatingScale.choices]
        self.fields["project"].required = False  # a new one by name, or else the default

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}

        negative, positive = cleaned.get("rating_negative_max"), cleaned.get("rating_positive_min")
        if negative is not None and positive is not None and negative >= positive:
            self.add_error(
                "rating_positive_min", "Positive ratings must start above the negative ones."
            )
        return cleaned

    def save(self, commit: bool = True) -> DataSource:
        source = super().save(commit=False)
        if new_project := self.cleaned_data.get("new_project", "").strip():
            source.project = Project.objects.get_or_create(name=new_project)[0]
        elif self.cleaned_data.get("project") is None:
            source.project_id = default_project_id()
        source.kind = self.kind
        if commit:
            save_source(source, self.changed_columns())
        return source

    def changed_columns(self) -> list[str]:
        """Return the columns this form sets (a sync running meanwhile owns the others)."""
        return list(self._meta.fields or [])


class PollingSourceForm(SourceForm):
    """A fetched source: its connector's configuration, checked by the connector's schema.

    Secret fields are never shown back: their help text gives a hint of the stored value,
    and left blank they keep it."""

    connector: ClassVar[Connector[Any]]
    # Secrets the source cannot work without (kept from before when left blank).
    required_secrets: ClassVar[tuple[str, ...]] = ()

    class Meta(SourceForm.Meta):
        fields = [*SourceForm.Meta.fields, "sync_interval_minutes"]
        labels = {"sync_interval_minutes": "Fetch every (minutes)"}
        widgets = {"sync_interval_minutes": forms.NumberInput(attrs={"min": 1})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored_config: dict[str, object] = {}
        self.moved = False
        for name, value in self.initial_from_config(self.instance.config).items():
            self.initial.setdefault(name, value)
        for name in self.connector.secret_fields:
            hint = secret_hint(self.instance.config.get(name))
            if hint:
                self.fields[name].help_text = f"Stored: {hint}. Leave blank to keep it."

    def config_data(self) -> dict[str, object]:
        """Return the connector configuration the cleaned fields describe."""
        raise NotImplementedError

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        """Return form values for a stored configuration (secrets left out)."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in self.required_secrets:
            if not cleaned.get(name) and not self.instance.config.get(name):
                self.add_error(name, "This field is required.")
        if self.errors:
            return cleaned
        try:
            config = self.connector.config_schema.model_validate(self.config_data())
            self.stored_config = self.connector.config_to_store(config, self.instance.config)
        except ValidationError as error:
            self.add_error(None, describe_mapping_error(error))
        except SecretNotCarried as error:
            self.add_error(error.field, str(error))
        except SecretKeyError as error:
            self.add_error(None, str(error))
        return cleaned

    def save(self, commit: bool = True) -> DataSource:
        source = super().save(commit=False)
        self.moved = without_secrets(source.config, self.connector) != without_secrets(
            self.stored_config, self.connector
        )
        # Another endpoint, feed or mailbox: the old cursor means nothing there.
        if self.moved:
            source.sync_cursor = {}
            source.next_sync_at = None  # due at once
        source.config = self.stored_config
        if commit:
            save_source(source, self.changed_columns())
        return source

    def changed_columns(self) -> list[str]:
        moved = ["sync_cursor", "next_sync_at"] if self.moved else []
        return [*super().changed_columns(), "config", *moved]


def save_source(source: DataSource, columns: list[str]) -> None:
    """Insert a new source whole; update only the given columns of an existing one, so an
    edit never writes back the cursor or sync state a running sync has moved on since."""
    if source._state.adding:
        source.save()
    else:
        source.save(update_fields=[*columns, "kind"])


def without_secrets(config: dict[str, object], connector: Connector[Any]) -> dict[str, object]:
    return {key: value for key, value in config.items() if key not in connector.secret_fields}


def secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; never shown again.",
    )
