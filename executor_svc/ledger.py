"""Collateral, inventory and what open signals have reserved of them.

Pure: no I/O, no clock. The executor starts with zero of everything (CONTRACT.md); UpdateBalance
replaces collateral and the whole inventory map and leaves reservations alone, so a reservation
made before an update is still held after it.

A signal reserves at signing: the collateral its buy legs may spend (fees included) and, for an
unbundle, the shares its sell legs give. `release` hands a reservation back untouched (nothing was
spent: denied after reserving, rejected, dry run); `settle` books what really happened and drops
the reservation. Reserved totals are summed from the open reservations on demand (math.fsum:
exactly rounded, so order-independent) instead of kept as running floats: releasing a reservation
restores exactly the figures as if it had never been made, with no drift. Open reservations are
bounded by the instances in flight, a handful, so the sums are cheap.

Share quantities are compared in the venue's 6-decimal units, so float noise in an inventory
(10.01 arriving as 10.009999999999998) never denies the share it stands for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Ledger", "LedgerError", "Reservation", "share_units"]

_UNITS = 1_000_000  # outcome tokens have 6 decimals, like pUSD
# The most pUSD, or shares of one token, UpdateBalance accepts: far above any real account, and far below
# where the arithmetic in 6-decimal units or hundredths of a share overflows a float (1e308 pUSD did).
MAX_BALANCE = 1e12


class LedgerError(ValueError):
    """A ledger operation that cannot be applied; the ledger is left unchanged."""


def share_units(shares: float) -> int:
    """Shares as the venue's integer units (1e-6 share)."""
    return round(shares * _UNITS)


@dataclass(frozen=True, slots=True)
class Reservation:
    collateral: float  # pUSD
    inventory: Mapping[str, float]  # token id -> shares, read-only


def _finite(name: str, value: float, *, non_negative: bool = True) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or (non_negative and value < 0):
        kind = "a finite number >= 0" if non_negative else "a finite number"
        raise LedgerError(f"{name} must be {kind}, got {value!r}")
    return float(value)


def _balance(name: str, value: float) -> float:
    value = _finite(name, value)
    if value > MAX_BALANCE:
        raise LedgerError(f"{name} must be at most {MAX_BALANCE:.0e}, got {value!r}")
    return value


def _inventory_map(name: str, inventory: Mapping[str, float], check=_finite) -> dict[str, float]:
    checked: dict[str, float] = {}
    for token_id, shares in inventory.items():
        if not isinstance(token_id, str) or not token_id:
            raise LedgerError(f"{name}: token ids must be non-empty strings, got {token_id!r}")
        checked[token_id] = check(f"{name}[{token_id}]", shares)
    return checked


class Ledger:
    """Balances and reservations of one executor process (one event loop: no locking needed)."""

    __slots__ = ("_collateral", "_inventory", "_reservations")

    def __init__(self, collateral: float = 0.0, inventory: Mapping[str, float] | None = None) -> None:
        self._collateral = 0.0
        self._inventory: dict[str, float] = {}
        self._reservations: dict[str, Reservation] = {}
        self.replace(collateral, inventory or {})

    # --- reading ---

    @property
    def collateral(self) -> float:
        return self._collateral

    @property
    def inventory(self) -> Mapping[str, float]:
        """Token id -> shares held, read-only (reservations not subtracted)."""
        return MappingProxyType(self._inventory)

    def reserved(self) -> float:
        """Collateral held by open reservations (BalanceState.reserved)."""
        if not self._reservations:
            return 0.0
        return math.fsum(r.collateral for r in self._reservations.values())

    def exposure(self) -> float:
        """pUSD at stake across open results, the figure max_exposure caps: their reserved collateral.
        An unbundle reserves shares, not collateral, so it adds none."""
        return self.reserved()

    def available(self) -> float:
        """Collateral free for a new reservation; negative if an update lowered it below the reserved."""
        return self._collateral - self.reserved()

    def reserved_inventory(self, token_id: str) -> float:
        if not self._reservations:
            return 0.0
        return math.fsum(r.inventory.get(token_id, 0.0) for r in self._reservations.values())

    def available_inventory(self, token_id: str) -> float:
        """Shares of a token free to sell (may be negative after an update lowered the holding)."""
        return self._inventory.get(token_id, 0.0) - self.reserved_inventory(token_id)

    def holds(self, signal_id: str) -> bool:
        return signal_id in self._reservations

    def reservation(self, signal_id: str) -> Reservation | None:
        return self._reservations.get(signal_id)

    @property
    def open_reservations(self) -> int:
        return len(self._reservations)

    # --- changing ---

    def reserve(
        self, signal_id: str, collateral: float, inventory_by_token: Mapping[str, float] | None = None
    ) -> Reservation:
        """Hold collateral and shares for a signal. Raises LedgerError (and changes nothing) for a
        signal id already holding a reservation, a negative or non-finite amount, or more than is
        available: a reservation never takes available collateral or inventory below zero."""
        if not isinstance(signal_id, str) or not signal_id:
            raise LedgerError(f"signal_id must be a non-empty string, got {signal_id!r}")
        if signal_id in self._reservations:
            raise LedgerError(f"signal {signal_id} already holds a reservation")
        collateral = _finite("collateral", collateral)
        shares = _inventory_map("inventory", inventory_by_token or {})
        available = self.available()
        if collateral > 0.0 and collateral > available:
            raise LedgerError(f"reserving {collateral!r} pUSD but only {available!r} is available")
        for token_id, amount in shares.items():
            free = self.available_inventory(token_id)
            if share_units(amount) > share_units(free):
                raise LedgerError(f"reserving {amount!r} shares of {token_id} but only {free!r} are free")
        reservation = Reservation(collateral, MappingProxyType({t: s for t, s in shares.items() if s > 0.0}))
        self._reservations[signal_id] = reservation
        return reservation

    def restore(self, signal_id: str, collateral: float, inventory_by_token: Mapping[str, float]) -> Reservation:
        """Hold what a batch of unknown outcome may have spent, found in the journal at start. Unlike
        `reserve` it does not check what is available: the money may be gone already, and holding
        it can only make later sizing more careful (available may go negative until it settles)."""
        if signal_id in self._reservations:
            return self._reservations[signal_id]
        collateral = _finite("collateral", collateral)
        shares = _inventory_map("inventory", inventory_by_token)
        reservation = Reservation(collateral, MappingProxyType({t: s for t, s in shares.items() if s > 0.0}))
        self._reservations[signal_id] = reservation
        return reservation

    def release(self, signal_id: str) -> Reservation | None:
        """Hand a reservation back, nothing spent. Idempotent: an unknown id returns None."""
        return self._reservations.pop(signal_id, None)

    def settle(
        self, signal_id: str, spent_collateral: float, filled_by_token_signed: Mapping[str, float]
    ) -> Reservation:
        """Book a finished signal and drop its reservation.

        spent_collateral: pUSD paid incl. fees, negative when collateral was received (a sale).
        filled_by_token_signed: shares bought (+) or sold (-) per token. These are the venue's facts,
        so they may exceed what was reserved (a better fill changes nothing; the venue is the truth).
        """
        if signal_id not in self._reservations:
            raise LedgerError(f"signal {signal_id!r} holds no reservation")
        spent = _finite("spent_collateral", spent_collateral, non_negative=False)
        fills: dict[str, float] = {}
        for token_id, shares in filled_by_token_signed.items():
            if not isinstance(token_id, str) or not token_id:
                raise LedgerError(f"fills: token ids must be non-empty strings, got {token_id!r}")
            fills[token_id] = _finite(f"fills[{token_id}]", shares, non_negative=False)
        self._collateral -= spent
        for token_id, shares in fills.items():
            held = self._inventory.get(token_id, 0.0) + shares
            if share_units(held) == 0:
                self._inventory.pop(token_id, None)  # sold out: keep the map free of float dust
            else:
                self._inventory[token_id] = held
        return self._reservations.pop(signal_id)

    def replace(self, collateral: float, inventory: Mapping[str, float]) -> None:
        """UpdateBalance: collateral and the whole inventory map are replaced; reservations stay.
        Raises LedgerError (and changes nothing) for a negative, non-finite or absurd (> MAX_BALANCE) figure."""
        collateral = _balance("collateral", collateral)
        shares = _inventory_map("inventory", inventory, _balance)
        self._collateral = collateral
        self._inventory = shares
