from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The customer's pages: pizzerias, menu, cart and checkout."""

    name = "pizzadelivery.storefront"
    label = "storefront"
    verbose_name = "Storefront"
