from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "apps.workers"
    label = "deadletters"
    verbose_name = "Dead letters"

    def ready(self) -> None:
        from celery import signals

        from apps.workers.connections import worker_connections_init

        signals.worker_init.connect(worker_connections_init, dispatch_uid="workers_connections_init")
