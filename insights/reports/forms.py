"""Forms of the report pages: what to report on, and the schedules that email reports."""

from datetime import date
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.core.validators import validate_email

from ingestion.models import DataSource, Project
from insights.models import ReportSchedule
from insights.reports.archive import FORMAT_CHOICES
from insights.reports.period import Period, PeriodError, default_time_zone, iso_week, last_full_week

# The longest period a report may cover from the form: a year of days on the charts.
MAX_DAYS = 366


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


class ProjectField(forms.ModelChoiceField):
    """The product a report is about: each week's report covers the sources it has then."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            queryset=Project.objects.order_by("name"),
            required=False,
            empty_label="Every project",
            **kwargs,
        )


class SourcesField(forms.ModelMultipleChoiceField):
    """The sources a report covers, of its project where it has one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            queryset=DataSource.objects.select_related("project").order_by("project__name", "name"),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text="None ticked: every source (of the project, if one is chosen).",
            **kwargs,
        )

    def label_from_instance(self, obj: DataSource) -> str:
        return f"{obj.name} ({obj.project.name})"


def check_sources_in_project(data: dict[str, Any]) -> None:
    """Refuse ticked sources that are not the chosen project's: the report would be empty."""
    project, sources = data.get("project"), data.get("sources") or []
    if project is None:
        return
    outside = [source.name for source in sources if source.project_id != project.pk]
    if outside:
        raise forms.ValidationError(
            f"Not a source of “{project.name}”: {', '.join(outside)}. Tick its sources, or none."
        )


class ReportForm(forms.Form):
    """A week, or a start and end date (none: the last full week), sources and formats."""

    week = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"type": "week", "placeholder": "2015-W08"}),
        help_text="An ISO week, like 2015-W08.",
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    time_zone = forms.ChoiceField(choices=time_zone_choices)
    project = ProjectField()
    sources = SourcesField()
    formats = forms.MultipleChoiceField(choices=FORMAT_CHOICES, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].initial = default_time_zone()
        self.fields["formats"].initial = [name for name, _ in FORMAT_CHOICES]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_sources_in_project(data)
        if "time_zone" in data:
            try:
                data["period"] = self._period(data)
            except PeriodError as error:
                raise forms.ValidationError(str(error)) from error
        return data

    def _period(self, data: dict[str, Any]) -> Period:
        week, start, end = data.get("week"), data.get("start"), data.get("end")
        if week and (start or end):
            raise PeriodError("give either a week or a start and end date, not both")
        if week:
            return iso_week(week, data["time_zone"])
        if start or end:
            return _date_range(start, end, data["time_zone"])
        return last_full_week(data["time_zone"])


def _date_range(start: date | None, end: date | None, time_zone: str) -> Period:
    if not (start and end):
        raise PeriodError("give both a start and an end date")
    period = Period(start, end, time_zone)
    if period.days > MAX_DAYS:
        raise PeriodError(f"a report covers at most {MAX_DAYS} days")
    return period


class RecipientsField(forms.CharField):
    """Email addresses, one per line or separated by commas; each one checked."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    # A list of addresses where CharField has one string: the override changes the type on
    # purpose, and Django's form machinery passes the value along without looking at it.
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        addresses = [part.strip() for part in text.replace(",", "\n").splitlines()]
        return list(dict.fromkeys(address for address in addresses if address))

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise forms.ValidationError("Give at least one email address.")
        bad = []
        for address in value:
            try:
                validate_email(address)
            except forms.ValidationError:
                bad.append(address)
        if bad:
            raise forms.ValidationError(f"Not an email address: {', '.join(bad)}")


class ReportScheduleForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=time_zone_choices)
    project = ProjectField(help_text="Each week's report covers the sources it has then.")
    sources = SourcesField()
    recipients = RecipientsField(help_text="One address per line (or separated by commas).")

    class Meta:
        model = ReportSchedule
        fields = [
            "name",
            "weekday",
            "time",
            "time_zone",
            "project",
            "sources",
            "recipients",
            "enabled",
        ]
        widgets = {"time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["time_zone"].initial = default_time_zone()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        check_sources_in_project(data)
        return data
