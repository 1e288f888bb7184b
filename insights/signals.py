"""What insights tells the rest of the product: the apps that act on its figures (alerts)
listen, so that insights needs to know nothing about them."""

from django.dispatch import Signal

# Sent once an analysis run has written the dashboards' counts of its themes again (with no
# arguments): the weeks' figures are up to date.
themes_counted = Signal()
