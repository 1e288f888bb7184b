from django import forms

from ingestion.models import DataSource
from insights.models import Sentiment


class AnalysisForm(forms.Form):
    source = forms.ModelChoiceField(
        DataSource.objects.all(),
        required=False,
        empty_label="All sources",
        help_text="New items of this source only; themes always span every source.",
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
