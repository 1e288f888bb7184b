"""python manage.py load_demo: the demo data set and a demo login, for `make demo`."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from accounts import roles
from ingestion.demo.generator import DEMO_SOURCES, generate_demo_feedback
from ingestion.importers import BATCH_SIZE, StoreResult, store_items
from ingestion.models import DataSource, SourceKind, SyncStatus
from ingestion.webhook import draft_from_item

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "feedlens-demo"  # noqa: S105 - printed for the local demo on purpose
# One login per role, to try each; all with the demo password.
DEMO_PEOPLE = (
    (DEMO_USERNAME, roles.ADMIN),
    ("pm", roles.PRODUCT_MANAGER),
    ("support", roles.SUPPORT_LEAD),
)


def load_demo_feedback(records: Iterable[dict[str, Any]]) -> StoreResult:
    """Store demo records in their sources through the normal validation and de-duplication."""
    sources = {
        demo.name: DataSource.objects.get_or_create(
            name=demo.name, defaults={"item_kind": demo.item_kind, "kind": SourceKind.WEBHOOK}
        )[0]
        for demo in DEMO_SOURCES
    }
    total = StoreResult()
    batches: dict[str, list] = {name: [] for name in sources}
    for record in records:
        # Demo records are webhook items but for the name of the id.
        draft = draft_from_item(sources[record["source"]], {**record, "id": record["external_id"]})
        batch = batches[record["source"]]
        batch.append(draft)
        if len(batch) == BATCH_SIZE:
            _store(sources[record["source"]], batch, total)
    for name, batch in batches.items():
        _store(sources[name], batch, total)
    for source in sources.values():
        source.record_sync(SyncStatus.OK)
    return total


def _store(source: DataSource, batch: list, total: StoreResult) -> None:
    result = store_items(source, batch)
    total.created += result.created
    total.duplicates += result.duplicates
    batch.clear()


class Command(BaseCommand):
    help = "Load the demo feedback (several weeks of reviews, tickets and posts) and a demo login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--weeks", type=int, default=8)
        parser.add_argument("--per-week", type=int, default=180)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["weeks"] * options["per_week"]
        records = generate_demo_feedback(
            seed=options["seed"], weeks=options["weeks"], items_per_week=options["per_week"]
        )
        result = load_demo_feedback(tqdm(records, total=count, desc="demo feedback", unit="item"))
        self.stdout.write(
            f"Demo feedback: {result.created:,} new items, {result.duplicates:,} already there."
        )
        for username, role in DEMO_PEOPLE:
            _demo_person(username, role)
        self.stdout.write("Also: pm (product manager) and support (support lead), same password.")
        self.stdout.write(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}")


def _demo_person(username: str, role: str) -> None:
    """Make a demo login with its role, once; the admin is also a superuser."""
    is_admin = role == roles.ADMIN
    user, made = User.objects.get_or_create(
        username=username, defaults={"is_staff": is_admin, "is_superuser": is_admin}
    )
    if made:
        user.set_password(DEMO_PASSWORD)
        user.save()
    user.groups.add(Group.objects.get(name=role))
