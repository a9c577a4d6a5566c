"""The marketplace: restaurants, menus, customers, drivers and orders.

Lifecycle fields are written only by ``pizzadelivery.services``; nothing here has behaviour
beyond small derived properties.
"""
from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_noop

from pizzadelivery.lifecycle import ON_THE_ROAD, CancelReason, OrderStatus

LAT_VALIDATORS = [MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))]
LNG_VALIDATORS = [MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))]


def coordinate(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=9, decimal_places=6, **kwargs)


class Restaurant(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    address = models.CharField(max_length=255)
    lat = coordinate(validators=LAT_VALIDATORS)
    lng = coordinate(validators=LNG_VALIDATORS)
    is_open = models.BooleanField(default=True)
    prep_minutes = models.PositiveSmallIntegerField(default=12, help_text="Typical oven-to-box time.")
    description = models.CharField(max_length=255, blank=True)
    # Restaurant staff: the users who run this pizzeria's kitchen (pizzadelivery.policy).
    staff = models.ManyToManyField("auth.User", blank=True, related_name="restaurants",
                                   help_text="Kitchen accounts: they see and move this pizzeria's orders.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MenuItem(models.Model):
    class Size(models.TextChoices):
        SMALL = "S", gettext_noop("Small (26 cm)")
        MEDIUM = "M", gettext_noop("Medium (30 cm)")
        LARGE = "L", gettext_noop("Large (34 cm)")
        ONE = "-", gettext_noop("One size")

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="menu_items")
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=255, blank=True)
    size = models.CharField(max_length=1, choices=Size.choices, default=Size.MEDIUM)
    price = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    is_available = models.BooleanField(default=True)

    class Meta:
        ordering = ["restaurant", "name", "size"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name", "size"], name="menu_item_unique_size"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_size_display()})"


class Customer(models.Model):
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=32)
    # Optional: where the customer's e-mail notifications go (pizzadelivery.notifications).
    email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Driver(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", gettext_noop("Available")
        BUSY = "busy", gettext_noop("Busy")
        OFFLINE = "offline", gettext_noop("Offline")

    class Vehicle(models.TextChoices):
        BIKE = "bike", gettext_noop("Bicycle")
        EBIKE = "ebike", gettext_noop("E-bike")
        SCOOTER = "scooter", gettext_noop("Scooter")
        CAR = "car", gettext_noop("Car")

    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=32, blank=True)
    vehicle = models.CharField(max_length=16, choices=Vehicle.choices, default=Vehicle.SCOOTER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFFLINE, db_index=True)
    lat = coordinate(null=True, blank=True, validators=LAT_VALIDATORS)
    lng = coordinate(null=True, blank=True, validators=LNG_VALIDATORS)
    heading = models.FloatField(null=True, blank=True)
    speed_kmh = models.FloatField(null=True, blank=True)
    location_updated_at = models.DateTimeField(null=True, blank=True)
    moved_at = models.DateTimeField(null=True, blank=True,
                                    help_text="Last report that moved the driver (stationary alerts).")
    user = models.OneToOneField("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="driver")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=12, unique=True)
    restaurant = models.ForeignKey(Restaurant, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    driver = models.ForeignKey(Driver, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")

    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    kitchen_status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    delivery_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True, default="")

    delivery_address = models.CharField(max_length=255)
    delivery_lat = coordinate(validators=LAT_VALIDATORS)
    delivery_lng = coordinate(validators=LNG_VALIDATORS)
    notes = models.CharField(max_length=500, blank=True)
    # The language the customer ordered in (their checkout's, or the API caller's Accept-Language):
    # their e-mails are written in it.
    language = models.CharField(max_length=16, blank=True)
    total = models.DecimalField(max_digits=10, decimal_places=2)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    placed_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    preparing_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    out_for_delivery_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True,
                                     help_text="The staff's note; never shown to the customer.")
    cancel_code = models.CharField(max_length=20, choices=CancelReason.choices, blank=True,
                                   help_text="Why, as a choice: the customer is told its customer-facing message.")
    # Proof of delivery: made at dispatch, shown to the customer only, told to the driver at the door.
    delivery_pin = models.CharField(max_length=4, blank=True)
    pin_attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong PINs tried so far.")

    eta_at = models.DateTimeField(null=True, blank=True, help_text="Current estimated arrival.")
    eta_at_dispatch = models.DateTimeField(null=True, blank=True, help_text="ETA first promised.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
        ]
        constraints = [
            # The database itself refuses a second active delivery for one driver.
            models.UniqueConstraint(
                fields=["driver"],
                condition=models.Q(delivery_status__in=list(ON_THE_ROAD)),
                name="one_active_delivery_per_driver",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def has_delivery(self) -> bool:
        return bool(self.delivery_status)

    def reached_at(self, status: str) -> object:
        return getattr(self, f"{status}_at", None)


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    menu_item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    size = models.CharField(max_length=1)
    unit_price = models.DecimalField(max_digits=8, decimal_places=2)
    quantity = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["id"]

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class FleetSettings(models.Model):
    """How the fleet is run, switched by dispatchers (one row): auto-dispatch on or off."""

    auto_dispatch = models.BooleanField(default=False, help_text="Give ready (or nearly ready) orders to the nearest "
                                                                 "free driver without a dispatcher.")
    changed_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "fleet settings"

    def __str__(self) -> str:
        return f"auto-dispatch {'on' if self.auto_dispatch else 'off'}"
