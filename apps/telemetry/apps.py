from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "apps.telemetry"
    label = "telemetry"
    verbose_name = "Telemetry"

    def ready(self) -> None:
        from celery import signals

        from apps.telemetry import hooks

        signals.task_prerun.connect(hooks.task_started, dispatch_uid="telemetry_task_prerun")
        signals.task_postrun.connect(hooks.task_finished, dispatch_uid="telemetry_task_postrun")
        signals.task_retry.connect(hooks.task_retried, dispatch_uid="telemetry_task_retry")
        signals.before_task_publish.connect(hooks.task_stamp_enqueued_at, dispatch_uid="telemetry_enqueued_at")
        signals.worker_ready.connect(hooks.worker_main_ready, dispatch_uid="telemetry_worker_ready")
        signals.worker_process_init.connect(hooks.worker_child_started, dispatch_uid="telemetry_worker_child")
        signals.worker_process_shutdown.connect(hooks.process_stopping, dispatch_uid="telemetry_worker_child_stop")
        signals.worker_shutdown.connect(hooks.process_stopping, dispatch_uid="telemetry_worker_stop")
        signals.beat_init.connect(hooks.beat_started, dispatch_uid="telemetry_beat_init")
