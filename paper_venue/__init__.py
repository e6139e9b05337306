"""paper_venue: a local Polymarket stand-in (market WebSocket + CLOB REST) for runs, tests and benchmarks.

Pure core: matching.py (books, FOK/FAK/GTC), accounts.py (pUSD, positions, fees, settlement),
orders.py (V2 order JSON, amounts, EIP-712 signer), auth.py (L1/L2 auth, API keys), faults.py,
exchange.py (the venue's state and order flow, as events), wire.py (Polymarket JSON shapes),
scenarios.py (markets, prices, injected arbitrages, replay files).
Shells: ws.py (/ws/market), clob.py (REST + paper-only /admin), venue.py (assembly and the scenario
loop), service.py + __main__.py (the gRPC service and its flags).
"""
