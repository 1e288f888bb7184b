from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Developer tooling: `manage.py benchmark` and `manage.py evaluate` (make bench, make
    eval). Installed where the source tree is; the production image leaves it out."""

    name = "devtools"
    verbose_name = "Developer tools: benchmark and evaluation"
