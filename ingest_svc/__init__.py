"""ingest_svc: market WebSocket pool, L2 books, top-of-book stream to the engine."""
