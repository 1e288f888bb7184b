"""Turn one raw record (a CSV row, a JSON object, a webhook item) into a valid item draft.

Everything here is a plain function over plain values, so importers, the webhook and the
connectors share one definition of a valid item and of "the same item".
"""

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as date_parser
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

# Character replacing bytes that could not be decoded; a row that has it is rejected.
UNDECODABLE = "\ufffd"
TITLE_MAX_CHARS = 500
AUTHOR_MAX_CHARS = 255
EXTERNAL_ID_MAX_CHARS = 255
# Metadata an item may carry, as JSON: enough for a few dozen fields, not a document.
METADATA_MAX_BYTES = 16 * 1024
METADATA_MAX_DEPTH = 8
# Dates further ahead than this are a mistake in the data (wrong format or time zone).
FUTURE_TOLERANCE = timedelta(days=2)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)")


class RowError(ValueError):
    """A record that cannot become an item; says which field and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
        self.message = message


class ColumnMapping(BaseModel):
    """Which column (or JSON key, dotted for nesting) holds each part of an item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    created_at: str | None = None
    rating: str | None = None
    external_id: str | None = None
    title: str | None = None
    author: str | None = None
    language: str | None = None
    # Columns copied as they are into the item's metadata.
    metadata: tuple[str, ...] = ()
    # strptime format for created_at; when empty, ISO 8601 and common formats are recognised.
    date_format: str = ""
    # Read "03/04/2015" as 3 April rather than 4 March.
    dayfirst: bool = False
    # Time zone of dates that carry none.
    timezone: str = "UTC"

    @field_validator("text")
    @classmethod
    def _text_is_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name the column that holds the text")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    def columns(self) -> list[str]:
        """Return every column the mapping reads."""
        named = [
            self.text,
            self.created_at,
            self.rating,
            self.external_id,
            self.title,
            self.author,
            self.language,
        ]
        return [column for column in named if column] + list(self.metadata)


def describe_mapping_error(error: ValidationError) -> str:
    """Return pydantic's complaints about a mapping as one line a user can act on."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'mapping'}: {problem['msg']}"
        for problem in error.errors()
    )


@dataclass
class ItemDraft:
    """A validated item, not yet stored."""

    text: str
    kind: str
    content_hash: str
    external_id: str = ""
    title: str = ""
    author_handle: str = ""
    rating: float | None = None
    language: str = ""
    created_at: datetime | None = None
    metadata: dict[str, object] = field(default_factory=dict)


def clean_text(value: str) -> str:
    """Return text in NFC form, without control characters or runs of blank space."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def clean_line(value: object, field_name: str) -> str:
    """Return a short field (id, author, title, language, a metadata key) as one line of
    text; RowError when it is a JSON object or list, or is not valid Unicode."""
    text = _as_str(_scalar(value, field_name))
    _check_unicode(text, field_name)
    return _WHITESPACE.sub(" ", clean_text(text)).strip()


def clean_metadata(value: object, field_name: str = "metadata") -> dict[str, object]:
    """Return an item's metadata fit to store as JSON: keys and strings cleaned as short
    fields; RowError for what JSON cannot hold (NaN, Infinity, numbers beyond a float), for
    nesting deeper than METADATA_MAX_DEPTH and for more than METADATA_MAX_BYTES."""
    if not isinstance(value, dict):
        raise RowError(field_name, "must be a JSON object")
    cleaned = _clean_json(value, field_name, depth=1)
    assert isinstance(cleaned, dict)
    size = len(json.dumps(cleaned, ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise RowError(
            field_name, f"is {size:,} bytes as JSON; the limit is {METADATA_MAX_BYTES:,}"
        )
    return cleaned


def _clean_json(value: object, field_name: str, depth: int) -> object:
    if depth > METADATA_MAX_DEPTH:
        raise RowError(field_name, f"nests deeper than {METADATA_MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {
            clean_line(key, field_name): _clean_json(item, field_name, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_clean_json(item, field_name, depth + 1) for item in value]
    if isinstance(value, str):
        _check_unicode(value, field_name)
        return _CONTROL_CHARS.sub("", value)
    if isinstance(value, Decimal | float) and not math.isfinite(value):
        # As the client wrote it ("Infinity", "NaN"), not as Python prints it ("inf").
        written = json.dumps(float(value))
        raise RowError(field_name, f"holds {written}, which JSON cannot store")
    if isinstance(value, Decimal):  # an integer too long for Python to read (read_json_number)
        raise RowError(field_name, "holds a number with too many digits")
    return value


def _scalar(value: object, field_name: str) -> object:
    if isinstance(value, dict | list):
        raise RowError(field_name, f"is a JSON {'object' if isinstance(value, dict) else 'list'}")
    return value


def _check_unicode(text: str, field_name: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RowError(field_name, "holds a character that is not valid Unicode") from None


# Digits an integer of a JSON body may have and be read as one: past a float's range, no
# field of an item can hold it.
LONGEST_INT_DIGITS = 300


def read_json_number(digits: str) -> int | Decimal:
    """Read an integer of a JSON body (json.loads(parse_int=...)): as an int when it could
    be a number of this product, else as a Decimal that the field's check then rejects. A
    bare int() fails the whole body beyond 4,300 digits and float() overflows."""
    return int(digits) if len(digits) <= LONGEST_INT_DIGITS else Decimal(digits)


def content_hash(text: str, created_at: datetime | None) -> str:
    """Return the identity of an item with no external id: its text, case and spacing
    aside, and the moment it was written."""
    key = _WHITESPACE.sub(" ", text.casefold()).strip()
    moment = created_at.astimezone(UTC).isoformat() if created_at else ""
    return hashlib.sha256(f"{key}\x1f{moment}".encode()).hexdigest()


def parse_datetime(value: object, mapping: ColumnMapping, now: datetime) -> datetime | None:
    """Return an aware datetime for value, None for a blank one; RowError if it is no date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    tz = ZoneInfo(mapping.timezone)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float | Decimal) or (isinstance(value, str) and value.isdigit()):
        moment = _from_epoch(float(value))
    elif isinstance(value, str):
        moment = _parse_date_string(value.strip(), mapping)
    else:
        raise RowError("created_at", f"expected a date, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if moment > now + FUTURE_TOLERANCE:
        raise RowError("created_at", f"{value!r} is in the future")
    return moment


def _from_epoch(seconds: float) -> datetime:
    if seconds > 1e11:  # milliseconds, as JavaScript sends them
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise RowError("created_at", f"{seconds!r} is not a valid timestamp") from error


def _parse_date_string(value: str, mapping: ColumnMapping) -> datetime:
    if mapping.date_format:
        try:
            return datetime.strptime(value, mapping.date_format)
        except ValueError as error:
            raise RowError(
                "created_at", f"{value!r} does not match the format {mapping.date_format!r}"
            ) from error
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    # A default in year 1 shows when the string had no year, which dateutil would guess.
    no_year = datetime(1, 1, 1)
    try:
        moment = date_parser.parse(value, dayfirst=mapping.dayfirst, default=no_year)
    except (ValueError, OverflowError) as error:
        raise RowError("created_at", f"{value!r} is not a date") from error
    if moment.year == 1:
        raise RowError("created_at", f"{value!r} has no year")
    return moment


def parse_rating(value: object) -> float | None:
    """Return a numeric rating ("4", "4.5", "4/5", "4 stars"), or None for a blank one."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RowError("rating", f"expected a number, got {value!r}")
    if isinstance(value, int | float | Decimal):
        rating = float(value)
    else:
        match = _NUMBER.match(str(value))
        if not match:
            raise RowError("rating", f"{value!r} is not a number")
        rating = float(match.group(1).replace(",", "."))
    if not 0 <= rating <= 10:
        raise RowError("rating", f"{rating:g} is outside 0 to 10")
    return rating


def read_field(record: dict[str, object], column: str | None) -> object:
    """Return record[column]; a dotted column reaches into nested JSON objects."""
    if not column:
        return None
    if column in record:
        return record[column]
    value: object = record
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _as_str(value: object) -> str:
    return "" if value is None else str(value).strip()


def _limited(value: str, limit: int, field_name: str, truncated: list[str]) -> str:
    """Cut an over-long short field rather than lose the item; the cut is recorded."""
    if len(value) <= limit:
        return value
    truncated.append(field_name)
    return value[: limit - 1] + "…"


def build_draft(
    record: dict[str, object],
    mapping: ColumnMapping,
    kind: str,
    *,
    max_chars: int,
    now: datetime,
) -> ItemDraft:
    """Return the item a record describes; RowError names the first field that is wrong."""
    raw_text = read_field(record, mapping.text)
    if raw_text is None:
        raise RowError("text", f"the column {mapping.text!r} is missing")
    text = clean_text(_as_str(_scalar(raw_text, "text")))
    _check_unicode(text, "text")
    if not text:
        raise RowError("text", "is empty")
    if UNDECODABLE in text:
        raise RowError("text", "has bytes that are not valid in the file's encoding")
    if len(text) > max_chars:
        raise RowError("text", f"has {len(text):,} characters; the limit is {max_chars:,}")
    created_at = parse_datetime(read_field(record, mapping.created_at), mapping, now)
    external_id = clean_line(read_field(record, mapping.external_id), "external_id")
    if len(external_id) > EXTERNAL_ID_MAX_CHARS:
        raise RowError("external_id", f"is longer than {EXTERNAL_ID_MAX_CHARS} characters")
    truncated: list[str] = []
    title, author = read_field(record, mapping.title), read_field(record, mapping.author)
    metadata = clean_metadata({column: read_field(record, column) for column in mapping.metadata})
    draft = ItemDraft(
        text=text,
        kind=kind,
        content_hash=content_hash(text, created_at),
        external_id=external_id,
        title=_limited(clean_line(title, "title"), TITLE_MAX_CHARS, "title", truncated),
        author_handle=_limited(clean_line(author, "author"), AUTHOR_MAX_CHARS, "author", truncated),
        rating=parse_rating(read_field(record, mapping.rating)),
        language=clean_line(read_field(record, mapping.language), "language")[:16],
        created_at=created_at,
        metadata=metadata,
    )
    if truncated:
        draft.metadata["truncated_fields"] = truncated
    return draft
