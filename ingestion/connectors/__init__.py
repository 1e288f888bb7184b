"""Polling connectors, one module per source kind; see base.py for the interface."""

from ingestion.connectors.base import Connector, ConnectorError, Cursor, Page
from ingestion.connectors.imap import ImapConnector
from ingestion.connectors.rest import RestConnector
from ingestion.connectors.rss import FeedConnector

CONNECTORS: dict[str, Connector] = {  # type: ignore[type-arg]
    connector.kind: connector for connector in (RestConnector(), FeedConnector(), ImapConnector())
}


def connector_for(kind: str) -> Connector:  # type: ignore[type-arg]
    """Return the connector of a polling kind; KeyError for a kind that is not polled."""
    return CONNECTORS[kind]


__all__ = ["CONNECTORS", "Connector", "ConnectorError", "Cursor", "Page", "connector_for"]
