"""Money without floats: integer base units in, integer limit-unit atoms out.

Every limit has a unit (`USD` or one token symbol). Internally an amount in a limit unit is an
integer count of *atoms*, 10**-18 of the unit, whatever the unit: one scale means a USD limit, a
USDC limit and a WETH limit are compared with the same code, and 18 places are enough for gas
costs of a fraction of a cent. Conversions round *up*, so rounding can only make a request look
more expensive, never let one slip under a cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

ATOM_DECIMALS = 18
ATOMS_PER_UNIT: int = 10**ATOM_DECIMALS
USD = "USD"
_PLAIN_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?", re.ASCII)


class AmountError(ValueError):
    """A human amount ("10.5") that is not a non-negative decimal within the atom scale."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """Something that can be moved on one chain: the native coin (`address=None`) or an ERC-20."""

    chain_id: int
    symbol: str
    decimals: int
    address: str | None = None  # lower-case hex; None for the chain's native coin

    @property
    def is_native(self) -> bool:
        return self.address is None


def ceil_fraction(value: Fraction) -> int:
    """Smallest integer >= value; the direction that never under-charges."""
    return -((-value.numerator) // value.denominator)


def parse_amount(text: str) -> int:
    """Parse a plain decimal string in the unit ("10", "0.25") into atoms, exactly.

    Only ASCII digits with an optional fraction: no exponent ("1e2"), no "_" separators, no
    other scripts' digits, no sign. Done on the digits themselves rather than through Decimal,
    whose default 28-digit context would silently round large amounts.
    """
    match = _PLAIN_DECIMAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise AmountError(f'expected a plain decimal amount like "10" or "0.25", got {text!r}')
    whole: str = match.group(1)
    fraction: str = match.group(2) or ""
    if len(fraction) > ATOM_DECIMALS:
        raise AmountError(f"amount has more than {ATOM_DECIMALS} decimal places: {text!r}")
    atoms = int(whole) * ATOMS_PER_UNIT + int(fraction.ljust(ATOM_DECIMALS, "0") or "0")
    if atoms >= 2**256:
        raise AmountError(f"amount too large: {text!r}")
    return atoms


def format_amount(atoms: int) -> str:
    """Render atoms as a plain decimal string in the unit ("10", "0.063"), never scientific."""
    sign = "-" if atoms < 0 else ""
    whole, frac = divmod(abs(atoms), ATOMS_PER_UNIT)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:018d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class PriceBook:
    """USD prices per whole unit of each asset, gathered by the caller before deciding.

    Keys are (chain_id, symbol). A missing price means "unknown", which the engine refuses:
    it never guesses a value. Every lookup is by the exact (chain, symbol) asked for: a symbol's
    price on another chain never stands in for it (two chains' "USDC" are two assets, and a
    stale feed must make its own asset unpriceable rather than let some other entry show
    through; POLICY.md "missing or stale price" fails closed).
    """

    usd_per_unit: dict[tuple[int, str], Fraction]

    def price(self, chain_id: int, symbol: str) -> Fraction | None:
        found = self.usd_per_unit.get((chain_id, symbol))
        return found if found is not None and found > 0 else None

    def unit_price(self, chain_id: int, symbol: str) -> Fraction | None:
        """USD price of a limit unit on the request's chain: 1 for USD, else that chain's price.

        A token unit that has no usable price on this chain (not configured here, or its feed
        is stale) makes every conversion into it unpriceable.
        """
        if symbol == USD:
            return Fraction(1)
        return self.price(chain_id, symbol)


def value_in_unit(asset: Asset, amount: int, unit: str, prices: PriceBook) -> int | None:
    """Worth of `amount` base units of `asset` in `unit` atoms, rounded up; None: unpriceable."""
    whole_units = Fraction(amount, 10**asset.decimals)
    if asset.symbol == unit:
        return ceil_fraction(whole_units * ATOMS_PER_UNIT)
    asset_usd = prices.price(asset.chain_id, asset.symbol)
    unit_usd = prices.unit_price(asset.chain_id, unit)
    if asset_usd is None or unit_usd is None:
        return None
    return ceil_fraction(whole_units * asset_usd / unit_usd * ATOMS_PER_UNIT)
