"""Spending limits as exact values: the admin API takes decimal strings in the limit unit.

Floats are refused on purpose: `0.1 + 0.2` is not `0.3`, and a limit is money. Amounts in a
token's base units (what contracts and `transfer()` use) are converted with the token's
decimals by moving the decimal point, never by dividing floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from ._errors import ValidationError

MAX_PLACES = 18  # the server keeps amounts as integers of 10^-18 of the unit
# Decimal's default context keeps 28 significant digits and would round a 30-digit amount;
# the API takes up to 40 integer digits and 18 places, so arithmetic here runs wider.
PRECISION = 80

Amount = Decimal | int | str


def to_decimal(value: Amount, name: str) -> Decimal:
    """An exact non-negative amount; `name` is the argument, for the error."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValidationError(f"{name}: give a Decimal, int or decimal string, not "
                              f"{type(value).__name__} (floats are not exact)", field=name)
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValidationError(f"{name}: {value!r} is not a decimal amount", field=name) from exc
    if not amount.is_finite() or amount < 0:
        raise ValidationError(f"{name}: must be a finite amount >= 0", field=name)
    with localcontext(prec=PRECISION):
        exponent = amount.normalize().as_tuple().exponent  # trailing zeros are harmless
    if isinstance(exponent, int) and -exponent > MAX_PLACES:
        raise ValidationError(f"{name}: at most {MAX_PLACES} decimal places", field=name)
    return amount


def decimal_string(amount: Decimal) -> str:
    """`Decimal("1E+1")` -> `"10"`, `Decimal("0.50")` -> `"0.5"`: the API's plain form."""
    with localcontext(prec=PRECISION):
        text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"


def from_base_units(amount: int, decimals: int, name: str) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValidationError(f"{name}: base units are a non-negative int", field=name)
    if not 0 <= decimals <= MAX_PLACES:
        raise ValidationError(f"decimals: between 0 and {MAX_PLACES}", field="decimals")
    with localcontext(prec=PRECISION):
        return Decimal(amount).scaleb(-decimals)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """A session's spending limits: per transaction (gas included) and per rolling day.

    `Limit.usd("10", daily="100")` values everything in USD; `Limit.token("USDC",
    per_tx=10_000_000, daily=100_000_000, decimals=6)` takes base units of a token and
    limits in that token (10 and 100 USDC). Or give the unit and decimal amounts directly:
    `Limit(unit="USDC", per_tx=Decimal("10"), daily=Decimal("100"))`.
    """

    unit: str
    per_tx: Decimal
    daily: Decimal

    def __post_init__(self) -> None:
        if not self.unit:
            raise ValidationError("limit_unit: give a unit (USD or a token symbol)",
                                  field="limit_unit")
        object.__setattr__(self, "per_tx", to_decimal(self.per_tx, "per_tx_limit"))
        object.__setattr__(self, "daily", to_decimal(self.daily, "daily_limit"))

    @classmethod
    def usd(cls, per_tx: Amount, *, daily: Amount) -> Limit:
        return cls(unit="USD", per_tx=to_decimal(per_tx, "per_tx_limit"),
                   daily=to_decimal(daily, "daily_limit"))

    @classmethod
    def token(cls, symbol: str, *, per_tx: int, daily: int, decimals: int) -> Limit:
        """Limits in `symbol` from base units; `decimals` is the token's (6 for USDC).

        The admin API does not publish token decimals, so the caller states them: a wrong
        guess would silently scale a limit by powers of ten.
        """
        return cls(unit=symbol, per_tx=from_base_units(per_tx, decimals, "per_tx_limit"),
                   daily=from_base_units(daily, decimals, "daily_limit"))

    def as_fields(self) -> dict[str, str]:
        """The admin API's / `studio_createSession`'s fields for this limit."""
        return {"limit_unit": self.unit, "per_tx_limit": decimal_string(self.per_tx),
                "daily_limit": decimal_string(self.daily)}
