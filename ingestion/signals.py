"""What ingestion tells the rest of the product: the apps that keep figures about items
(insights' daily counts) listen, so that ingestion needs to know nothing about them."""

from django.dispatch import Signal

# Sent with item_ids (the new items' ids) by store_items, in the transaction that stores
# them: a listener's writes commit with the items.
items_stored = Signal()
