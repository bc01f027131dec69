from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "apps.timeline"
    label = "timeline"
    verbose_name = "Payment timeline"

    def ready(self) -> None:
        from celery import signals

        from apps.timeline import hooks

        signals.before_task_publish.connect(hooks.task_enqueued, dispatch_uid="timeline_task_enqueued")
        signals.task_prerun.connect(hooks.task_started, dispatch_uid="timeline_task_started")
        signals.task_retry.connect(hooks.task_retried, dispatch_uid="timeline_task_retried")
        signals.task_postrun.connect(hooks.task_finished, dispatch_uid="timeline_task_finished")
