"""engine_svc: market structure, arbitrage evaluation, signal stream to the executor."""
