from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo city (seed data, simulator): a development tool, installed for its commands.
    Nothing in the product imports it (the import-linter contract in pyproject.toml)."""

    name = "pizzadelivery.demo"
    label = "demo"
    verbose_name = "Demo city"
