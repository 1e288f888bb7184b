"""Ready-made column mappings for the public datasets the team tests and evaluates on.

Each preset says how a file's columns become items, so that
`manage.py import_feedback PATH --preset NAME` or the upload form need no typing.
"""

from dataclasses import dataclass

from ingestion.models import ItemKind
from ingestion.normalise import ColumnMapping


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    item_kind: str
    mapping: ColumnMapping
    # Where the file lies under FEEDLENS_DATASETS_DIR, for tests and evaluation.
    dataset_file: str


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        Preset(
            name="airline_tweets",
            description="Twitter US Airline Sentiment (Feb 2015): tweets to six airlines.",
            item_kind=ItemKind.SOCIAL_POST,
            mapping=ColumnMapping(
                text="text",
                created_at="tweet_created",
                external_id="tweet_id",
                date_format="%m/%d/%Y %H:%M",
                # The original release stamps tweets in US Pacific time (-0800).
                timezone="America/Los_Angeles",
                metadata=("airline", "airline_sentiment", "negativereason"),
            ),
            dataset_file="airline_tweets/tweets.csv",
        ),
        Preset(
            name="banking77",
            description="Banking77: customer-support queries to a bank, labelled with 77 intents.",
            item_kind=ItemKind.TICKET,
            mapping=ColumnMapping(text="text", metadata=("category",)),
            dataset_file="banking77/train.csv",
        ),
        Preset(
            name="amazon_reviews",
            description="Datafiniti reviews of Amazon devices (Echo, Fire, Kindle), 1 to 5 stars.",
            item_kind=ItemKind.REVIEW,
            mapping=ColumnMapping(
                text="reviews.text",
                title="reviews.title",
                created_at="reviews.date",
                rating="reviews.rating",
                author="reviews.username",
                metadata=("name", "asins", "reviews.doRecommend"),
            ),
            dataset_file="datafiniti_amazon_reviews/Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv",
        ),
        Preset(
            name="comcast_complaints",
            description="Consumer complaints about an internet provider (April to June 2015).",
            item_kind=ItemKind.TICKET,
            mapping=ColumnMapping(
                text="Customer Complaint",
                created_at="date_fixed",
                external_id="Ticket #",
                timezone="America/New_York",
                metadata=("Received Via", "City", "State", "Status"),
            ),
            dataset_file="comcast_complaints_2015/comcast_complaints_fixed_dates.csv",
        ),
    ]
}
