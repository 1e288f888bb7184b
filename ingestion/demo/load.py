"""Loading the demo: its feedback, stored through the normal validation and de-duplication,
and one login per role."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, User

from accounts import roles
from ingestion.demo.generator import DEMO_SOURCES
from ingestion.importers import BATCH_SIZE, StoreResult, store_items
from ingestion.models import DataSource, SourceKind, SyncStatus
from ingestion.normalise import ItemDraft
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
    batches: dict[str, list[ItemDraft]] = {name: [] for name in sources}
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


def _store(source: DataSource, batch: list[ItemDraft], total: StoreResult) -> None:
    result = store_items(source, batch)
    total.created += result.created
    total.duplicates += result.duplicates
    batch.clear()


def make_demo_person(username: str, role: str) -> None:
    """Make a demo login with its role, once; the admin is also a superuser."""
    is_admin = role == roles.ADMIN
    user, made = User.objects.get_or_create(
        username=username, defaults={"is_staff": is_admin, "is_superuser": is_admin}
    )
    if made:
        user.set_password(DEMO_PASSWORD)
        user.save()
    user.groups.add(Group.objects.get(name=role))
