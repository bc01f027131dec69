from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "apps.workers"
    label = "deadletters"
    verbose_name = "Dead letters"
