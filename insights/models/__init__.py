"""The insights app's models, one module per part of the data path; imported here so that
Django finds them and callers write `from insights.models import Theme`."""

from insights.models.analysis import (
    AnalysisRun,
    AssignmentMethod,
    Calibration,
    ItemEmbedding,
    ItemSentiment,
    ModelVersion,
    NameSource,
    RunStatus,
    Sentiment,
    SentimentClassifier,
    SummaryKind,
    TextEmbedding,
    Theme,
    ThemeAssignment,
    ThemeStatus,
    UnitEmbedding,
    decode_vector,
    quoted_part,
    themes_of_items,
)
from insights.models.curation import Correction, CorrectionKind, EvaluationLabel
from insights.models.outputs import CopyDraft, CopyKind, Report, ReportSchedule, Weekday
from insights.models.querysets import sentiment_label_is, theme_sentiment_label_is

__all__ = [
    "AnalysisRun",
    "AssignmentMethod",
    "Calibration",
    "CopyDraft",
    "CopyKind",
    "Correction",
    "CorrectionKind",
    "EvaluationLabel",
    "ItemEmbedding",
    "ItemSentiment",
    "ModelVersion",
    "NameSource",
    "Report",
    "ReportSchedule",
    "RunStatus",
    "Sentiment",
    "SentimentClassifier",
    "SummaryKind",
    "TextEmbedding",
    "Theme",
    "ThemeAssignment",
    "ThemeStatus",
    "UnitEmbedding",
    "Weekday",
    "decode_vector",
    "quoted_part",
    "sentiment_label_is",
    "theme_sentiment_label_is",
    "themes_of_items",
]
