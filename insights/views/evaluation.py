from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from feedlens.access import role_required
from ingestion.models import FeedbackItem
from insights.curation.accuracy import (
    assignment_to_check,
    evaluation_tables,
    next_item_to_label,
    rating_agreement,
    record_label,
)
from insights.forms import EvaluationLabelForm
from insights.models import EvaluationLabel


@role_required()
def evaluation(request: HttpRequest) -> HttpResponse:
    """The analysis's accuracy on this company's feedback, from people's labels."""
    labels = list(EvaluationLabel.objects.select_related("item__source"))
    context = {
        "tables": evaluation_tables(labels),
        "label_count": len(labels),
        "ratings": rating_agreement(),
    }
    return render(request, "insights/evaluation.html", context)


@role_required("insights.add_evaluationlabel")
def evaluation_label(request: HttpRequest) -> HttpResponse:
    """Label one random analysed item, then the next."""
    form = EvaluationLabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = get_object_or_404(FeedbackItem, pk=request.POST.get("item"))
        record_label(
            item, form.cleaned_data["sentiment"], form.cleaned_data["theme_is_right"], request.user
        )
        return redirect("insights:evaluation_label")
    next_item = next_item_to_label()
    assignment = assignment_to_check(next_item) if next_item else None
    theme = assignment.theme if assignment else None
    context = {"form": form, "item": next_item, "theme": theme}
    return render(request, "insights/evaluation_label.html", context)
