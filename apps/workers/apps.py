from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "apps.workers"
    label = "deadletters"
    verbose_name = "Dead letters"

    def ready(self) -> None:
        from celery import signals

        from apps.workers.connections import worker_connections_init
        from lib.background import stop_all

        signals.worker_init.connect(worker_connections_init, dispatch_uid="workers_connections_init")
        # A pool process ends with os._exit, past atexit: the batched writes (timeline, outbox) are written here.
        signals.worker_process_shutdown.connect(stop_all, dispatch_uid="workers_batches_child_stop")
        signals.worker_shutdown.connect(stop_all, dispatch_uid="workers_batches_stop")
