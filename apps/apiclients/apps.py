from django.apps import AppConfig


class ApiClientsConfig(AppConfig):
    name = "apps.apiclients"
    label = "apiclients"
    verbose_name = "API clients"
