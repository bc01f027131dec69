from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "apps.workers"
    label = "deadletters"
    verbose_name = "Dead letters"

    def ready(self) -> None:
        from celery import signals

        from apps.workers.connections import task_connection_release

        signals.task_postrun.connect(task_connection_release, dispatch_uid="workers_connection_release")
