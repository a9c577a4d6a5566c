"""Every Redis key of the mirror, and nothing else names one.

  m:order:<uuid>            hash  doc (JSON OrderDocument), status, driver_id
  m:orders:all              zset  order id -> created (epoch s)
  m:orders:status:<status>  zset  order id -> created, one set per status
  m:orders:delivered        zset  order id -> delivered (epoch s)
  m:driver:<id>             hash  doc (JSON DriverDocument), status
  m:drivers:all             set   driver ids
  m:drivers:available       GEO   available drivers with a known position
  mirror:ready              string  set once the mirror was (re)built from the database
Every key but the ready flag starts with ``prefix()``: a rebuild deletes them all first.
"""
from __future__ import annotations

from pizzadelivery.infra.redis import key

DOC = "doc"  # the field of an order's or a driver's hash that holds its JSON document


def prefix() -> str:
    return key("m", "")


def ready() -> str:
    return key("mirror", "ready")


def order(order_id: object) -> str:
    return key("m", "order", order_id)


def driver(driver_id: object) -> str:
    return key("m", "driver", driver_id)


def orders_all() -> str:
    return key("m", "orders", "all")


def orders_with_status(status: str) -> str:
    return key("m", "orders", "status", status)


def orders_delivered() -> str:
    return key("m", "orders", "delivered")


def drivers_all() -> str:
    return key("m", "drivers", "all")


def drivers_available() -> str:
    return key("m", "drivers", "available")
