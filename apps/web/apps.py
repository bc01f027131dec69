from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "apps.web"
    label = "web"
    verbose_name = "Web edge"

    def ready(self) -> None:
        from celery.signals import before_task_publish, task_postrun, task_prerun

        from apps.web import checks  # noqa: F401  (registers the PgBouncer statement timeout check)
        from apps.web.correlation import (
            celery_add_correlation_header,
            celery_bind_correlation_id,
            celery_unbind_correlation_id,
        )

        before_task_publish.connect(celery_add_correlation_header, dispatch_uid="ops_correlation_publish")
        task_prerun.connect(celery_bind_correlation_id, dispatch_uid="ops_correlation_prerun")
        task_postrun.connect(celery_unbind_correlation_id, dispatch_uid="ops_correlation_postrun")
