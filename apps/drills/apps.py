from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "apps.drills"
    label = "drills"
    verbose_name = "Fault drills"

    def ready(self) -> None:
        from apps.drills import checks  # noqa: F401  (registers the deploy check)
