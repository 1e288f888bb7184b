"""Polling connectors, one module per source kind; see base.py for what a kind is made of."""

from typing import Any

from ingestion.connectors.base import Connector, ConnectorError, Cursor, Page
from ingestion.connectors.imap import ImapSourceForm
from ingestion.connectors.rest import RestSourceForm
from ingestion.connectors.rss import FeedSourceForm
from ingestion.source_forms import PollingSourceForm

# Every polling kind, registered here once: its form names its connector.
POLLING_FORMS: tuple[type[PollingSourceForm], ...] = (
    RestSourceForm,
    FeedSourceForm,
    ImapSourceForm,
)
CONNECTORS: dict[str, Connector[Any]] = {
    form.connector.kind: form.connector for form in POLLING_FORMS
}


def connector_for(kind: str) -> Connector[Any]:
    """Return the connector of a polling kind; KeyError for a kind that is not polled."""
    return CONNECTORS[kind]


__all__ = [
    "CONNECTORS",
    "POLLING_FORMS",
    "Connector",
    "ConnectorError",
    "Cursor",
    "Page",
    "connector_for",
]
