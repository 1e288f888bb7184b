from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from pydantic import ValidationError

from ingestion.connectors import POLLING_FORMS
from ingestion.importers import FILE_FORMATS
from ingestion.models import DataSource, ItemKind, SourceKind
from ingestion.normalise import ColumnMapping, describe_mapping_error
from ingestion.presets import PRESETS
from ingestion.ratings import RatingScale
from ingestion.source_forms import SourceForm

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
    rating_scale = forms.ChoiceField(
        required=False,
        label="Ratings are",
        choices=[("", "— as the source says, or told by the ratings —"), *RatingScale.choices],
        help_text="A CSAT or NPS column: say so here (1-5 satisfaction reads like stars).",
    )
    metadata = forms.MultipleChoiceField(required=False, label="Keep as metadata")
    date_format = forms.CharField(required=False, help_text="e.g. %m/%d/%Y %H:%M; blank: automatic")
    dayfirst = forms.BooleanField(required=False, label="Dates are day first (03/04 is 3 April)")
    timezone = forms.CharField(initial="UTC", help_text="Time zone of dates that carry none")

    OPTIONAL_COLUMNS = ("created_at", "rating", "external_id", "title", "author", "language")

    def __init__(self, *args: Any, columns: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(column, column) for column in columns]
        self._choose("text", choices)
        for name in self.OPTIONAL_COLUMNS:
            self._choose(name, [(NOT_IN_FILE, "— not in the file —"), *choices])
        self._choose("metadata", choices)
        self._choose(
            "preset",
            [("", "— none —")]
            + [
                (preset.name, preset.description)
                for preset in PRESETS.values()
                if set(preset.mapping.columns()) <= set(columns)
            ],
        )

    def _choose(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)  # every column field is one
        field.choices = choices

    def mapping(self) -> ColumnMapping:
        """Return the preset's mapping when one is picked, else the columns chosen."""
        if self.cleaned_data.get("preset"):
            return PRESETS[self.cleaned_data["preset"]].mapping
        data = {
            key: value
            for key, value in self.cleaned_data.items()
            if key not in ("preset", "rating_scale")
        }
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
        "rating": ("rating", "stars", "score", "csat", "nps", "satisfaction"),
        "external_id": ("id", "review_id", "ticket_id"),
        "title": ("title", "subject", "summary"),
        "author": ("author", "user", "username", "name"),
    }
    initial: dict[str, object] = {}
    for field, names in guesses.items():
        initial[field] = next((lowered[name] for name in names if name in lowered), NOT_IN_FILE)
    # A column named for its scale says what its ratings are.
    told = {"csat": RatingScale.CSAT, "nps": RatingScale.NPS}
    initial["rating_scale"] = told.get(str(initial["rating"]).lower(), "")
    return initial


# ---- Data sources (the source admin pages)


# The form of each kind of source: pushed and uploaded sources need only the common fields;
# each polling kind's form lives beside its connector.
SOURCE_FORMS: dict[str, type[SourceForm]] = {
    SourceKind.UPLOAD: SourceForm,
    SourceKind.WEBHOOK: SourceForm,
    **{form.connector.kind: form for form in POLLING_FORMS},
}


def source_form(kind: str, *args: Any, **kwargs: Any) -> SourceForm:
    """Return the form for a source of this kind (KeyError for an unknown kind)."""
    return SOURCE_FORMS[kind](*args, kind=kind, **kwargs)
