"""paper_venue: a local Polymarket stand-in (market WebSocket + CLOB REST) for runs, tests and benchmarks."""
