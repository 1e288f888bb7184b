from pathlib import Path
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from pydantic import ValidationError

from ingestion.connectors import CONNECTORS, Connector
from ingestion.importers import FILE_FORMATS
from ingestion.models import DataSource, ItemKind, SourceKind
from ingestion.normalise import ColumnMapping, describe_mapping_error
from ingestion.presets import PRESETS
from ingestion.secrets import SecretKeyError, secret_hint

NOT_IN_FILE = ""


class UploadForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=DataSource.objects.filter(enabled=True), required=False, empty_label="New source…"
    )
    new_source_name = forms.CharField(max_length=200, required=False)
    item_kind = forms.ChoiceField(choices=ItemKind.choices, label="The items are")
    file = forms.FileField(help_text="CSV, JSON (an array of objects) or JSONL, UTF-8 or UTF-16.")
    encoding = forms.CharField(max_length=40, initial="auto")

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower().lstrip(".") not in (*FILE_FORMATS, "ndjson"):
            raise forms.ValidationError("Upload a .csv, .json or .jsonl file.")
        if upload.size > settings.FEEDLENS_MAX_UPLOAD_BYTES:
            limit_mb = settings.FEEDLENS_MAX_UPLOAD_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"The file is larger than the {limit_mb} MB limit.")
        return upload

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        name = (cleaned.get("new_source_name") or "").strip()
        if not cleaned.get("source"):
            if not name:
                self.add_error("new_source_name", "Pick a source or name a new one.")
            elif DataSource.objects.filter(name=name).exists():
                self.add_error("new_source_name", "A source of that name exists: pick it above.")
        return cleaned

    def chosen_source(self) -> DataSource:
        source = self.cleaned_data["source"]
        if source:
            return source
        return DataSource.objects.create(
            name=self.cleaned_data["new_source_name"].strip(),
            item_kind=self.cleaned_data["item_kind"],
        )


class MappingForm(forms.Form):
    """Which of the file's columns holds each part of an item."""

    preset = forms.ChoiceField(required=False)
    text = forms.ChoiceField()
    created_at = forms.ChoiceField(required=False, label="Date")
    rating = forms.ChoiceField(required=False)
    external_id = forms.ChoiceField(required=False, label="Id")
    title = forms.ChoiceField(required=False)
    author = forms.ChoiceField(required=False)
    language = forms.ChoiceField(required=False)
    metadata = forms.MultipleChoiceField(required=False, label="Keep as metadata")
    date_format = forms.CharField(required=False, help_text="e.g. %m/%d/%Y %H:%M; blank: automatic")
    dayfirst = forms.BooleanField(required=False, label="Dates are day first (03/04 is 3 April)")
    timezone = forms.CharField(initial="UTC", help_text="Time zone of dates that carry none")

    OPTIONAL_COLUMNS = ("created_at", "rating", "external_id", "title", "author", "language")

    def __init__(self, *args: object, columns: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = [(column, column) for column in columns]
        self.fields["text"].choices = choices
        for name in self.OPTIONAL_COLUMNS:
            self.fields[name].choices = [(NOT_IN_FILE, "— not in the file —"), *choices]
        self.fields["metadata"].choices = choices
        self.fields["preset"].choices = [("", "— none —")] + [
            (preset.name, preset.description)
            for preset in PRESETS.values()
            if set(preset.mapping.columns()) <= set(columns)
        ]

    def mapping(self) -> ColumnMapping:
        """Return the preset's mapping when one is picked, else the columns chosen."""
        if self.cleaned_data.get("preset"):
            return PRESETS[self.cleaned_data["preset"]].mapping
        data = {key: value for key, value in self.cleaned_data.items() if key != "preset"}
        for name in self.OPTIONAL_COLUMNS:
            data[name] = data[name] or None
        data["metadata"] = tuple(data["metadata"])
        return ColumnMapping.model_validate(data)

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                self.mapping()
            except ValidationError as error:
                self.add_error(None, describe_mapping_error(error))
        return cleaned


def initial_mapping(columns: list[str]) -> dict[str, object]:
    """Return form defaults: the first preset that fits, else columns named like the fields."""
    for preset in PRESETS.values():
        if set(preset.mapping.columns()) <= set(columns):
            return {"preset": preset.name, **preset.mapping.model_dump()}
    lowered = {column.lower(): column for column in columns}
    guesses = {
        "text": ("text", "body", "review", "message", "content", "comment"),
        "created_at": ("date", "created_at", "created", "timestamp", "time"),
        "rating": ("rating", "stars", "score"),
        "external_id": ("id", "review_id", "ticket_id"),
        "title": ("title", "subject", "summary"),
        "author": ("author", "user", "username", "name"),
    }
    initial: dict[str, object] = {}
    for field, names in guesses.items():
        initial[field] = next((lowered[name] for name in names if name in lowered), NOT_IN_FILE)
    return initial


# ---- Data sources (the source admin pages)


class SourceForm(forms.ModelForm):
    """A source's name, item kind and state; sources that are pushed or uploaded need no more."""

    class Meta:
        model = DataSource
        fields = ["name", "item_kind", "enabled"]

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind

    def save(self, commit: bool = True) -> DataSource:
        source = super().save(commit=False)
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

    connector: ClassVar[Connector]  # type: ignore[type-arg]
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
        except SecretKeyError as error:
            self.add_error(None, str(error))
        return cleaned

    def save(self, commit: bool = True) -> DataSource:
        source = super().save(commit=False)
        self.moved = _without_secrets(source.config, self.connector) != _without_secrets(
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


def _without_secrets(config: dict[str, object], connector: Connector) -> dict[str, object]:  # type: ignore[type-arg]
    return {key: value for key, value in config.items() if key not in connector.secret_fields}


def _secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted; never shown again.",
    )


class RestSourceForm(PollingSourceForm):
    connector = CONNECTORS[SourceKind.REST]
    PAGING_CHOICES = [
        ("none", "No paging: one request"),
        ("cursor", "Cursor: the body names the next page"),
        ("since", "Since: ask for items newer than the newest seen"),
    ]
    # Form field -> ColumnMapping field, for the JSON keys of each item.
    MAPPING_FIELDS = {
        "text_field": "text",
        "id_field": "external_id",
        "date_field": "created_at",
        "rating_field": "rating",
        "title_field": "title",
        "author_field": "author",
    }

    url = forms.URLField(label="URL", assume_scheme="https")
    auth_header_name = forms.CharField(required=False, help_text="e.g. Authorization")
    auth_header_value = _secret_field("Auth header value")
    items_path = forms.CharField(
        required=False, help_text="Dotted path to the list of items, e.g. data.reviews"
    )
    text_field = forms.CharField(label="Text key", initial="text")
    id_field = forms.CharField(label="Id key", required=False, initial="id")
    date_field = forms.CharField(label="Date key", required=False, initial="created_at")
    rating_field = forms.CharField(label="Rating key", required=False)
    title_field = forms.CharField(label="Title key", required=False)
    author_field = forms.CharField(label="Author key", required=False)
    date_format = forms.CharField(required=False, help_text="strptime format; blank: automatic")
    timezone = forms.CharField(initial="UTC", help_text="Time zone of dates that carry none")
    paging = forms.ChoiceField(choices=PAGING_CHOICES)
    cursor_path = forms.CharField(required=False, help_text="Dotted path to the next cursor")
    cursor_param = forms.CharField(required=False, help_text="Query parameter the cursor goes in")
    since_param = forms.CharField(required=False, help_text="Query parameter the date goes in")

    def config_data(self) -> dict[str, object]:
        data = self.cleaned_data
        mapping = {key: data[field] or None for field, key in self.MAPPING_FIELDS.items()}
        mapping.update(date_format=data["date_format"], timezone=data["timezone"])
        plain = ("url", "auth_header_name", "auth_header_value", "items_path", "paging")
        paging = ("cursor_path", "cursor_param", "since_param")
        return {**{name: data[name] for name in (*plain, *paging)}, "mapping": mapping}

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        mapping = config.get("mapping")
        if not isinstance(mapping, dict):
            mapping = {}
        initial = {field: mapping.get(key) or "" for field, key in self.MAPPING_FIELDS.items()}
        initial.update({key: mapping[key] for key in ("date_format", "timezone") if key in mapping})
        names = ("url", "auth_header_name", "items_path", "paging", "cursor_path")
        names += ("cursor_param", "since_param")
        return {**initial, **{name: config[name] for name in names if name in config}}


class FeedSourceForm(PollingSourceForm):
    connector = CONNECTORS[SourceKind.RSS]

    url = forms.URLField(label="Feed URL", assume_scheme="https")

    def config_data(self) -> dict[str, object]:
        return {"url": self.cleaned_data["url"]}

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        return {"url": config["url"]} if "url" in config else {}


class ImapSourceForm(PollingSourceForm):
    connector = CONNECTORS[SourceKind.IMAP]
    required_secrets = ("password",)
    FIELDS = ("host", "port", "security", "username", "folder")

    host = forms.CharField(max_length=255)
    port = forms.IntegerField(min_value=1, max_value=65535, initial=993)
    security = forms.ChoiceField(
        choices=[
            ("ssl", "SSL/TLS (port 993)"),
            ("starttls", "STARTTLS (port 143)"),
            ("plain", "None: private networks only"),
        ]
    )
    username = forms.CharField(max_length=255)
    password = _secret_field("Password")
    folder = forms.CharField(max_length=255, initial="INBOX")

    def config_data(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in (*self.FIELDS, "password")}

    def initial_from_config(self, config: dict[str, object]) -> dict[str, object]:
        return {name: config[name] for name in self.FIELDS if name in config}


SOURCE_FORMS: dict[str, type[SourceForm]] = {
    SourceKind.UPLOAD: SourceForm,
    SourceKind.WEBHOOK: SourceForm,
    SourceKind.REST: RestSourceForm,
    SourceKind.RSS: FeedSourceForm,
    SourceKind.IMAP: ImapSourceForm,
}


def source_form(kind: str, *args: Any, **kwargs: Any) -> SourceForm:
    """Return the form for a source of this kind (KeyError for an unknown kind)."""
    return SOURCE_FORMS[kind](*args, kind=kind, **kwargs)
