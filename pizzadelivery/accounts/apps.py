from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Logging in and out for every role, and each role's way home."""

    name = "pizzadelivery.accounts"
    label = "accounts"
    verbose_name = "Accounts"
