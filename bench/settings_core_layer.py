"""The product's settings with channels_redis' ``RedisChannelLayer`` (lists and BZPOPMIN) instead
of the configured ``RedisPubSubChannelLayer``: the alternative the benchmark compares."""
from pizzadelivery.settings import *  # noqa: F403
from pizzadelivery.settings import CHANNEL_LAYERS, REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]},
    }
}
