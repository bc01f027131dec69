from __future__ import annotations

import factory

from apps.workers.models import DeadLetter


class DeadLetterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeadLetter

    task_id = factory.Faker("uuid4")
    task_name = "purchases.create_from_payment"
    queue = "purchases"
    args = factory.Sequence(lambda n: [10**6 + n])
    reason = "permanent"
    exception_class = "apps.purchases.services.PurchaseNotAllowed"
    message = "student 1 is paused, not active"
    traceback = "Traceback (most recent call last): ..."
