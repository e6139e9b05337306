"""A paper venue on ephemeral ports (manual scenario unless a test asks otherwise), stopped after the test."""

from __future__ import annotations

import pytest

from paper_venue.venue import PaperVenue, VenueConfig


@pytest.fixture
async def start_venue():
    started: list[PaperVenue] = []

    async def start(**config) -> PaperVenue:
        venue = PaperVenue(VenueConfig(**{"scenario": "manual", "seed": 7, "step_s": 0.05, **config}))
        await venue.start("127.0.0.1:0", "127.0.0.1:0")
        started.append(venue)
        return venue

    yield start
    for venue in started:
        await venue.stop()


@pytest.fixture
async def venue(start_venue) -> PaperVenue:
    return await start_venue()
