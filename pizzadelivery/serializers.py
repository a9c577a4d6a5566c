"""Output serializers of the shapes the mirror's documents share across APIs (a place, an
order's restaurant, lines and address, a driver's position): one component each in the schema."""
from __future__ import annotations

from rest_framework import serializers

from pizzadelivery.infra.fields import IsoDateTimeField


class LatLngOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class OrderRestaurantOut(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    prep_minutes = serializers.IntegerField()
    location = LatLngOut()


class OrderLineOut(serializers.Serializer):
    menu_item = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=8, decimal_places=2)
    line_total = serializers.DecimalField(max_digits=10, decimal_places=2)


class AddressOut(serializers.Serializer):
    text = serializers.CharField()
    lat = serializers.FloatField()
    lng = serializers.FloatField()


class PositionOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    heading = serializers.FloatField(allow_null=True, help_text="Degrees from north, 0 to 359.")
    speed_kmh = serializers.FloatField(allow_null=True)
    updated_at = IsoDateTimeField(allow_null=True)
    moved_at = IsoDateTimeField(allow_null=True, help_text="The last report that moved the driver.")
