from collections.abc import Iterator

import pytest

from tests.nominatim_stand_in import StandIn, serving


@pytest.fixture
def nominatim(settings) -> Iterator[StandIn]:
    """GEOCODER=nominatim, asking a local stand-in (set its ``results`` or ``status``)."""
    with serving() as stand_in:
        settings.GEOCODER, settings.GEOCODER_URL, settings.GEOCODER_TIMEOUT = "nominatim", stand_in.url, 2
        yield stand_in
