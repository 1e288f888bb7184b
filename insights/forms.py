from django import forms

from ingestion.models import DataSource


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
