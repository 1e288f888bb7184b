from typing import Any

from django import forms
from django.db.models import QuerySet

from ingestion.models import DataSource, Project
from insights.copy.writing import MAX_THEMES, copyable_themes
from insights.curation.corrections import PERSON_STATUSES
from insights.models import CopyKind, Sentiment, Theme


def offer_themes(field: forms.Field, themes: QuerySet[Theme]) -> None:
    """Set the themes a theme field offers (its queryset is set per request)."""
    assert isinstance(field, forms.ModelChoiceField)  # ModelMultipleChoiceField is one too
    field.queryset = themes


class AnalysisForm(forms.Form):
    source = forms.ModelChoiceField(
        DataSource.objects.all(),
        required=False,
        empty_label="All sources",
        help_text="New items of this source only; themes always span every source of a project.",
    )
    recluster = forms.BooleanField(
        required=False,
        label="Cluster every item into themes again",
        help_text="Themes keep their names and edits where they are found again.",
    )


class EvaluationLabelForm(forms.Form):
    sentiment = forms.ChoiceField(
        choices=Sentiment.choices, widget=forms.RadioSelect, label="How does this person feel?"
    )
    theme_is_right = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No"), ("", "Cannot tell")],
        coerce=lambda value: value == "yes",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        label="Is this item in the right theme?",
    )


class RenameThemeForm(forms.Form):
    name = forms.CharField(max_length=200, label="New name")


class MergeThemeForm(forms.Form):
    target = forms.ModelChoiceField(Theme.objects.none(), label="Merge into")

    def __init__(self, *args: Any, theme: Theme, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        others = Theme.objects.leaves(theme.embedding_model).filter(project=theme.project)
        others = others.exclude(pk=theme.pk)
        offer_themes(self.fields["target"], others.only("id", "name").order_by("name"))


class ThemeStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in PERSON_STATUSES])


class SentimentCorrectionForm(forms.Form):
    sentiment = forms.ChoiceField(
        choices=Sentiment.choices, widget=forms.RadioSelect, label="The right sentiment"
    )


class MoveItemForm(forms.Form):
    theme = forms.ModelChoiceField(Theme.objects.none(), label="Move to theme")

    def __init__(self, *args: Any, current: Theme | None, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A broad theme is joined through its sub-themes; an item joins its project's themes.
        themes = Theme.objects.leaves().filter(project=project)
        if current is not None:
            themes = themes.exclude(pk=current.pk)
        offer_themes(self.fields["theme"], themes.only("id", "name").order_by("name"))


class ThemeChoiceField(forms.ModelMultipleChoiceField):
    # Where several projects have themes, two may share a name: each says its project.
    with_project = False

    def label_from_instance(self, obj: Theme) -> str:
        project = f" — {obj.project.name}" if self.with_project else ""
        return f"{obj.name}{project} ({obj.size} items)"


class CopyDraftForm(forms.Form):
    themes = ThemeChoiceField(
        queryset=Theme.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=f"One to {MAX_THEMES}; each gets its own part of the draft.",
    )
    kind = forms.ChoiceField(
        choices=CopyKind.choices, widget=forms.RadioSelect, label="Kind of copy"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        themes = copyable_themes().select_related("project")
        offer_themes(self.fields["themes"], themes)
        field = self.fields["themes"]
        assert isinstance(field, ThemeChoiceField)  # declared above
        field.with_project = themes.order_by().values("project").distinct().count() > 1

    def clean_themes(self) -> list[Theme]:
        themes = list(self.cleaned_data["themes"])
        if len(themes) > MAX_THEMES:
            raise forms.ValidationError(f"Pick at most {MAX_THEMES} themes for one draft.")
        if len({theme.project_id for theme in themes}) > 1:
            # Copy speaks for one product: release notes or an FAQ mixing two would mislead.
            raise forms.ValidationError("Pick themes of one project: a draft is about one product.")
        return themes


class CopyEditForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 20}), strip=False, label="Draft")
