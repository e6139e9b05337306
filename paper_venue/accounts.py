"""Paper accounts: pUSD collateral and outcome-token positions per address, fills, fees, settlement.

Pure. Amounts are integer units of 1e-6 (pUSD and outcome tokens both have 6 decimals, protocol
2.1), so a share that pays 1 pUSD pays exactly SHARE_SCALE units. Addresses are keys in lower
case. New accounts start with a configurable balance (the real venue's balance is on chain).

The venue is an account too (`VENUE`): it quotes the scenario's liquidity, receives fees and may go
negative (it mints what it sells). With it in the ledger, every fill and every settlement is a
transfer, so the totals of collateral and of each token's shares never change — the property the
tests check.

Reservations: collateral behind resting BUYs and shares behind resting SELLs are held back, so an
account cannot promise the same pUSD twice ("not enough balance / allowance", protocol 2.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from paper_venue.matching import PRICE_SCALE, SHARE_SCALE

VENUE = "venue"
DEFAULT_STARTING_COLLATERAL = 10_000 * SHARE_SCALE  # 10,000 pUSD
BPS = 10_000


class BalanceError(ValueError):
    """Not enough free collateral or shares; the message is the venue's."""

    def __init__(self, message: str = "not enough balance / allowance") -> None:
        super().__init__(message)


@dataclass
class Account:
    collateral: int
    positions: dict[str, int] = field(default_factory=dict)
    reserved_collateral: int = 0
    reserved_shares: dict[str, int] = field(default_factory=dict)
    # pUSD units the wallet approved the exchanges to pull; None: unlimited (max uint256, what approvals
    # usually are). Reported by GET /balance-allowance; the paper venue does not enforce it on orders.
    allowance: int | None = None

    def free_collateral(self) -> int:
        return self.collateral - self.reserved_collateral

    def free_shares(self, token_id: str) -> int:
        return self.positions.get(token_id, 0) - self.reserved_shares.get(token_id, 0)


def trade_value(price: int, size: int) -> int:
    """pUSD units for `size` share units at `price`, rounded down (one number, paid and received)."""
    return price * size // PRICE_SCALE


def taker_fee(price: int, size: int, fee_rate_bps: float) -> int:
    """V2 taker fee = shares x rate x p(1-p) (exponent 1, protocol 2.5; PCC2 fees.py), in pUSD units,
    rounded up. Makers pay none."""
    if fee_rate_bps <= 0:
        return 0
    bps_units = round(fee_rate_bps * 100)  # 1/100 bp, so fractional bps from the structure survive
    numerator = size * bps_units * price * (PRICE_SCALE - price)
    denominator = BPS * 100 * PRICE_SCALE * PRICE_SCALE
    return -(-numerator // denominator)


def max_taker_fee(limit: int, size: int, fee_rate_bps: float, buy: bool) -> int:
    """The largest fee an order could pay filling `size` anywhere at or better than `limit`.

    p(1-p) peaks at 0.5: a BUY may fill anywhere below its limit, a SELL anywhere above it.
    """
    half = PRICE_SCALE // 2
    worst = min(limit, half) if buy else max(limit, half)
    return taker_fee(worst, size, fee_rate_bps)


class Accounts:
    def __init__(self, starting_collateral: int = DEFAULT_STARTING_COLLATERAL) -> None:
        self.starting_collateral = starting_collateral
        self._accounts: dict[str, Account] = {VENUE: Account(0)}

    # -- reading ----------------------------------------------------------------------------------

    def get(self, address: str) -> Account:
        """The account, created with the starting balance on first sight."""
        key = address.lower() if address != VENUE else VENUE
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = Account(self.starting_collateral)
        return account

    def known(self, address: str) -> bool:
        return address.lower() in self._accounts

    def addresses(self) -> list[str]:
        return list(self._accounts)

    def total_collateral(self) -> int:
        return sum(a.collateral for a in self._accounts.values())

    def total_shares(self, token_id: str) -> int:
        return sum(a.positions.get(token_id, 0) for a in self._accounts.values())

    # -- paper-only set-up ------------------------------------------------------------------------

    def set_balance(self, address: str, collateral: int, positions: Mapping[str, int] | None = None) -> Account:
        """Replace an account's collateral (and positions, when given); reservations stay."""
        account = self.get(address)
        account.collateral = collateral
        if positions is not None:
            account.positions = {t: s for t, s in positions.items() if s}
        return account

    # -- checks and reservations --------------------------------------------------------------------

    def require_collateral(self, address: str, units: int) -> None:
        if address == VENUE:
            return
        if self.get(address).free_collateral() < units:
            raise BalanceError()

    def require_shares(self, address: str, token_id: str, units: int) -> None:
        if address == VENUE:
            return
        if self.get(address).free_shares(token_id) < units:
            raise BalanceError()

    def reserve(self, address: str, token_id: str, collateral: int = 0, shares: int = 0) -> None:
        if address == VENUE:
            return
        account = self.get(address)
        account.reserved_collateral += collateral
        if shares:
            account.reserved_shares[token_id] = account.reserved_shares.get(token_id, 0) + shares

    def release(self, address: str, token_id: str, collateral: int = 0, shares: int = 0) -> None:
        if address == VENUE:
            return
        account = self.get(address)
        account.reserved_collateral = max(0, account.reserved_collateral - collateral)
        if shares:
            left = account.reserved_shares.get(token_id, 0) - shares
            if left > 0:
                account.reserved_shares[token_id] = left
            else:
                account.reserved_shares.pop(token_id, None)

    # -- transfers --------------------------------------------------------------------------------

    def settle_fill(self, buyer: str, seller: str, token_id: str, price: int, size: int, fee: int,
                    fee_payer: str) -> int:
        """Move `size` shares seller → buyer and their value buyer → seller; the fee goes to the venue.

        Returns the value moved. The fee payer is the taker (either side).
        """
        value = trade_value(price, size)
        b, s = self.get(buyer), self.get(seller)
        b.collateral -= value
        s.collateral += value
        _add_position(b, token_id, size)
        _add_position(s, token_id, -size)
        if fee:
            self.get(fee_payer).collateral -= fee
            self.get(VENUE).collateral += fee
        return value

    def resolve(self, winning_token: str, tokens: Iterable[str]) -> dict[str, int]:
        """Settle a resolved market: each winning share pays 1 pUSD, the others 0; positions close.

        Returns the payout per address (the venue included: it pays what it minted).
        """
        payouts: dict[str, int] = {}
        tokens = list(tokens)
        for address, account in self._accounts.items():
            won = account.positions.get(winning_token, 0)
            if won:
                account.collateral += won  # SHARE_SCALE share units = SHARE_SCALE pUSD units
                payouts[address] = won
            for token in tokens:
                account.positions.pop(token, None)
                account.reserved_shares.pop(token, None)
        return payouts


def _add_position(account: Account, token_id: str, delta: int) -> None:
    value = account.positions.get(token_id, 0) + delta
    if value:
        account.positions[token_id] = value
    else:
        account.positions.pop(token_id, None)
