"""EIP-712 typed data: from an `eth_signTypedData_v4` payload to intents, refusing to guess.

A typed-data signature can move funds as surely as a transaction: a permit is an approval that
costs its signer no gas and no transaction. So the payload is validated as strictly as calldata,
and more strictly than the signer (eth-account) reads it, so that what is judged here is exactly
what gets signed:

- `types`, `primaryType`, `domain` and `message` must all be present, and nothing else. Every
  struct and field name is an identifier, every field type an EIP-712 type, every struct
  reachable from `primaryType`, which is the only root (eth-account derives the primary type as
  the one root and signs that). `EIP712Domain`, when given, lists exactly the domain's fields
  with their standard types.
- The message has exactly the fields of its type (eth-account hashes a missing struct, string
  or bytes field as empty and ignores an extra one: either would let what is judged differ from
  what is signed).
  Numbers are ints or strings as ethers and viem send them ("123", "0x7b"), in range; booleans
  are JSON booleans (eth-account reads the string "no" as true); addresses are 0x and 40 hex,
  mixed case only with a valid checksum; bytes are 0x-hex, `bytesN` exactly N bytes.

Size is bounded before anything is hashed (catalogue 14): eth-account re-derives a struct's
type string, walking every type it depends on, for every instance it hashes, so the cost grows
with types times instances (a few hundred types and tens of thousands of empty instances took
minutes). At most MAX_STRUCT_TYPES struct types of MAX_FIELDS fields, arrays of
MAX_ARRAY_ITEMS, strings and bytes of MAX_VALUE_CHARS, and a total of MAX_HASH_WORK units where
an instance costs the fields of its type's whole dependency set: `TypedDataTooLarge`, which the
RPC plane answers with -32602. The worst payload within the bounds hashes in a few
milliseconds (bench/exhaustion.py).

Known spend types are recognised by primary type AND exact shape (field names, types, order,
nested structs), never by name alone: a `Permit` of any other shape is `Undecodable`, not opaque.

- EIP-2612 `Permit(owner, spender, value, nonce, deadline)` at a configured token.
- DAI `Permit(holder, spender, nonce, expiry, allowed)`: `allowed=true` is unlimited (2**256-1),
  `allowed=false` a revocation (0).
- Permit2 (`verifyingContract` = the chain's Permit2) `PermitSingle`, `PermitBatch` (uint160
  allowances), `PermitTransferFrom`, `PermitBatchTransferFrom` (uint256 one-off transfers whose
  recipient the spender picks, so they are judged as approvals of the spender).

A permit naming an owner other than the signer becomes a FOREIGN_FUNDS intent, which the engine
refuses as `permission_denied`: such a signature is useless on-chain, and nobody with a
legitimate purpose asks for one. Witness transfers (`Permit*WitnessTransferFrom`), empty
batches, permits of unconfigured tokens and any unrecognised message whose domain is a
configured token or Permit2 (where value-moving signatures live) are `Undecodable`. Anything
else is opaque: no intents, signed only for an allowlisted `verifyingContract`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from ._intents import (
    ChainAssets,
    DecodedTypedData,
    Intent,
    IntentKind,
    TypedDataIntents,
    Undecodable,
)
from ._money import Asset

MAX_DEPTH = 32  # struct and array nesting; real permits need 3
# Size bounds (see the module docstring). Real payloads are far inside them: a Seaport order
# has 4 struct types of at most 11 fields and costs under a thousand units, a Permit2 batch of
# 100 tokens about 3300.
MAX_STRUCT_TYPES = 32
MAX_FIELDS = 64
MAX_ARRAY_ITEMS = 1024
MAX_VALUE_CHARS = 32 * 1024  # one string, or one bytes value's hex
MAX_HASH_WORK = 4_096  # about 5 ms of eth-account's hashing at worst (bench/exhaustion.py)
_INSTANCE_UNITS = 16
MAX_NUMBER_CHARS = 80  # "2**256-1" has 78 decimal digits; longer strings are not uint256s
MAX_NAME_CHARS = 256  # type and field names; also keeps parsing a type string linear
UINT160_BITS = 160

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*", re.ASCII)
_ARRAY = re.compile(r"(.+)\[((?:[1-9][0-9]{0,5})?)\]", re.ASCII)  # T[] or T[k], k > 0
_SIZED = re.compile(r"(u?int|bytes)([1-9][0-9]{0,2})", re.ASCII)
_DECIMAL = re.compile(r"-?[0-9]+", re.ASCII)
_HEX_QUANTITY = re.compile(r"0x[0-9a-fA-F]+", re.ASCII)
_HEX_BYTES = re.compile(r"0x(?:[0-9a-fA-F]{2})*", re.ASCII)
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)

_TOP_LEVEL = frozenset({"types", "primaryType", "domain", "message"})
_DOMAIN_TYPES: Mapping[str, str] = {
    "name": "string", "version": "string", "chainId": "uint256",
    "verifyingContract": "address", "salt": "bytes32",
}
_DOMAIN = "EIP712Domain"
_FIELD_KEYS = frozenset({"name", "type"})
# Not EIP-712 types, but eth-account treats them as atomic: a struct by these names would be
# hashed differently by it than by every other implementation.
_SOLIDITY_ALIASES = frozenset({"uint", "int"})

Fields = tuple[tuple[str, str], ...]  # (field name, field type), in declared order
Types = Mapping[str, Fields]

# -- known spend types: the exact struct set each primary type must come with ------------------
_PERMIT_DETAILS: Fields = (("token", "address"), ("amount", "uint160"),
                           ("expiration", "uint48"), ("nonce", "uint48"))
_TOKEN_PERMISSIONS: Fields = (("token", "address"), ("amount", "uint256"))
EIP2612_PERMIT: Types = {"Permit": (
    ("owner", "address"), ("spender", "address"), ("value", "uint256"), ("nonce", "uint256"),
    ("deadline", "uint256"))}
DAI_PERMIT: Types = {"Permit": (
    ("holder", "address"), ("spender", "address"), ("nonce", "uint256"), ("expiry", "uint256"),
    ("allowed", "bool"))}
PERMIT_SINGLE: Types = {
    "PermitSingle": (("details", "PermitDetails"), ("spender", "address"),
                     ("sigDeadline", "uint256")),
    "PermitDetails": _PERMIT_DETAILS}
PERMIT_BATCH: Types = {
    "PermitBatch": (("details", "PermitDetails[]"), ("spender", "address"),
                    ("sigDeadline", "uint256")),
    "PermitDetails": _PERMIT_DETAILS}
PERMIT_TRANSFER_FROM: Types = {
    "PermitTransferFrom": (("permitted", "TokenPermissions"), ("spender", "address"),
                           ("nonce", "uint256"), ("deadline", "uint256")),
    "TokenPermissions": _TOKEN_PERMISSIONS}
PERMIT_BATCH_TRANSFER_FROM: Types = {
    "PermitBatchTransferFrom": (("permitted", "TokenPermissions[]"), ("spender", "address"),
                                ("nonce", "uint256"), ("deadline", "uint256")),
    "TokenPermissions": _TOKEN_PERMISSIONS}
# Permit2's primary types: with "Permit", the names that are exactly recognised or undecodable.
PERMIT2_TYPES = frozenset({"PermitSingle", "PermitBatch", "PermitTransferFrom",
                           "PermitBatchTransferFrom", "PermitWitnessTransferFrom",
                           "PermitBatchWitnessTransferFrom"})


class _Malformed(ValueError):
    """The payload is not well-formed EIP-712 (or not in the strict form accepted here)."""


class TypedDataTooLarge(ValueError):
    """The payload exceeds a size bound: refused before it is hashed, as invalid params."""


class _HashWork:
    """What hashing the message will cost eth-account, counted while the message is read.

    Units are about a microsecond each (measured, bench/exhaustion.py): a struct instance costs
    16, plus its own fields, plus every field of every struct its type depends on and a unit
    per 32 characters of their declarations (eth-account walks and renders that whole set again
    for each instance); an array costs 1, a value 2, plus a unit per 256 characters of a string
    or bytes.
    """

    def __init__(self, types: Types) -> None:
        self.spent = 0
        declared = {name: len(fields) + (len(name) + sum(len(f) + len(t) + 2 for f, t in fields))
                    // 32 for name, fields in types.items()}
        self.instance_cost = {
            name: _INSTANCE_UNITS + len(fields) + sum(
                declared[dep] for dep in _reachable(name, types))
            for name, fields in types.items()}

    def spend_on(self, type_: str, value: object, *, array: bool) -> None:
        if array:
            units = 1
        elif type_ in self.instance_cost:
            units = self.instance_cost[type_]
        else:  # hashing a string or bytes is linear: a unit per 256 characters
            units = 2 + (len(value) // 256 if isinstance(value, str) else 0)
        self.spent += units
        if self.spent > MAX_HASH_WORK:
            raise TypedDataTooLarge(f"typed data would cost more than {MAX_HASH_WORK} units to "
                                    "hash (struct instances times the fields their types "
                                    "depend on)")


@dataclass(frozen=True, slots=True)
class _Domain:
    chain_id: int | None
    verifying_contract: str | None


def decode_typed_data(
    typed: Mapping[str, Any], assets: ChainAssets, *, sender: str
) -> DecodedTypedData:
    """What signing `typed` for `sender` would authorise, or why that cannot be told.

    Raises `TypedDataTooLarge` for a payload beyond the size bounds, before any hashing.
    """
    try:
        types, primary = _validate_types(typed)
        domain = _validate_domain(typed.get("domain"), typed["types"])
        message = _value(primary, typed.get("message"), types, depth=0, work=_HashWork(types))
    except _Malformed as exc:
        return Undecodable(detail=f"malformed typed data: {exc}")
    assert isinstance(message, dict)  # a struct value is always parsed into a dict
    return _recognise(primary, types, message, domain, assets, sender=sender.lower())


# -- structure -----------------------------------------------------------------------------

def _validate_types(typed: Mapping[str, Any]) -> tuple[Types, str]:
    """The message structs (EIP712Domain aside) and the primary type, checked."""
    if not isinstance(typed, Mapping):
        raise _Malformed("expected an object with types, primaryType, domain and message")
    if set(typed) != _TOP_LEVEL:
        raise _Malformed(f"expected exactly the keys {sorted(_TOP_LEVEL)}, got "
                         f"{sorted(map(str, typed))}")
    raw_types = typed["types"]
    primary = typed["primaryType"]
    if not isinstance(raw_types, Mapping):
        raise _Malformed("types must be an object")
    if not isinstance(primary, str):
        raise _Malformed("primaryType must be a string")
    if len(raw_types) > MAX_STRUCT_TYPES + (_DOMAIN in raw_types):
        raise TypedDataTooLarge(f"typed data declares {len(raw_types)} types; at most "
                                f"{MAX_STRUCT_TYPES} structs besides {_DOMAIN}")
    types: dict[str, Fields] = {}
    for name, fields in raw_types.items():
        if name == _DOMAIN:
            continue
        if not isinstance(name, str) or not _identifier(name) or _is_atomic(name) or (
                name in _SOLIDITY_ALIASES):
            raise _Malformed(f"invalid struct name {name!r:.40}")
        types[name] = _fields(name, fields)
    if primary not in types:
        raise _Malformed(f"primaryType {primary!r} is not defined among the message types")
    referenced_by_others: set[str] = set()
    for name, fields in types.items():
        for _field, type_ in fields:
            base = _base_type(type_)
            if not _is_atomic(base) and base not in types:
                raise _Malformed(f"type {base!r} of {name} is not defined")
            if base != name:
                referenced_by_others.add(base)
    if primary in referenced_by_others:
        raise _Malformed(f"primaryType {primary} is not the root of its types")
    reachable = _reachable(primary, types)
    if set(types) != reachable:
        raise _Malformed(f"types not used by {primary}: {sorted(set(types) - reachable)}")
    return types, primary


def _fields(struct: str, raw: object) -> Fields:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise _Malformed(f"fields of {struct} must be an array")
    if len(raw) > MAX_FIELDS:
        raise TypedDataTooLarge(f"{struct!r:.40} has {len(raw)} fields; at most {MAX_FIELDS}")
    fields: list[tuple[str, str]] = []
    for field in raw:
        if not isinstance(field, Mapping) or set(field) != _FIELD_KEYS:
            raise _Malformed(f"each field of {struct} must be exactly {{name, type}}")
        name, type_ = field["name"], field["type"]
        if not isinstance(name, str) or not _identifier(name):
            raise _Malformed(f"invalid field name {name!r:.40} in {struct}")
        if not isinstance(type_, str) or len(type_) > MAX_NAME_CHARS or (
                not _well_formed_type(type_)):
            raise _Malformed(f"invalid type {type_!r:.40} of {struct}.{name}")
        fields.append((name, type_))
    if len({name for name, _ in fields}) != len(fields):
        raise _Malformed(f"duplicate field names in {struct}")
    return tuple(fields)


def _identifier(name: str) -> bool:
    return len(name) <= MAX_NAME_CHARS and _IDENTIFIER.fullmatch(name) is not None


def _well_formed_type(type_: str) -> bool:
    base = _base_type(type_)
    if base == _DOMAIN:
        return False  # the domain is hashed on its own; a message cannot embed it
    return _is_atomic(base) or _identifier(base)


def _base_type(type_: str) -> str:
    while (match := _ARRAY.fullmatch(type_)) is not None:
        type_ = match.group(1)
    return type_


def _is_atomic(type_: str) -> bool:
    if type_ in ("address", "bool", "string", "bytes"):
        return True
    match = _SIZED.fullmatch(type_)
    if match is None:
        return False
    size = int(match.group(2))
    if match.group(1) == "bytes":
        return 1 <= size <= 32
    return size % 8 == 0 and 8 <= size <= 256


def _reachable(primary: str, types: Types) -> set[str]:
    seen = {primary}
    pending = [primary]
    while pending:
        for _field, type_ in types[pending.pop()]:
            base = _base_type(type_)
            if base in types and base not in seen:
                seen.add(base)
                pending.append(base)
    return seen


def _validate_domain(raw: object, raw_types: Mapping[str, Any]) -> _Domain:
    if not isinstance(raw, Mapping):
        raise _Malformed("domain must be an object")
    unknown = set(raw) - set(_DOMAIN_TYPES)
    if unknown:
        raise _Malformed(f"unknown domain fields {sorted(map(str, unknown))}")
    if _DOMAIN in raw_types:
        # eth-account hashes the domain from its keys, whatever this list says; a list that
        # disagrees (chainId declared but absent, or present but undeclared) is refused.
        declared = _fields(_DOMAIN, raw_types[_DOMAIN])
        if set(declared) != {(name, _DOMAIN_TYPES[name]) for name in raw}:
            raise _Malformed("types.EIP712Domain does not match the domain's fields")
    parsed = {name: _value(_DOMAIN_TYPES[name], value, {}, depth=0)
              for name, value in raw.items()}
    chain_id = parsed.get("chainId")
    contract = parsed.get("verifyingContract")
    assert chain_id is None or isinstance(chain_id, int)
    assert contract is None or isinstance(contract, str)
    return _Domain(chain_id=chain_id, verifying_contract=contract)


def _value(type_: str, value: object, types: Types, *, depth: int,
           work: _HashWork | None = None) -> object:
    """`value` checked against `type_` and normalised (ints, lower-case addresses, bytes),
    its hashing cost counted on `work`."""
    if depth > MAX_DEPTH:
        raise _Malformed("nested too deeply")
    array = _ARRAY.fullmatch(type_)
    if work is not None:
        work.spend_on(type_, value, array=array is not None)
    if array is not None:
        if not isinstance(value, list | tuple):
            raise _Malformed(f"expected an array for {type_}")
        if len(value) > MAX_ARRAY_ITEMS:
            raise TypedDataTooLarge(f"an array of {len(value)} items; at most "
                                    f"{MAX_ARRAY_ITEMS}")
        length = array.group(2)
        if length and len(value) != int(length):
            raise _Malformed(f"expected {length} items for {type_}, got {len(value)}")
        return [_value(array.group(1), item, types, depth=depth + 1, work=work)
                for item in value]
    if type_ in types:
        if not isinstance(value, Mapping):
            raise _Malformed(f"expected an object for {type_}")
        names = [name for name, _ in types[type_]]
        if set(value) != set(names):
            raise _Malformed(f"{type_} needs exactly the fields {names}, got "
                             f"{sorted(map(str, value))}")
        return {name: _value(field_type, value[name], types, depth=depth + 1, work=work)
                for name, field_type in types[type_]}
    return _atomic(type_, value)


def _atomic(type_: str, value: object) -> object:
    if type_ == "address":
        return _address(value)
    if type_ == "bool":
        if not isinstance(value, bool):
            raise _Malformed(f"expected true or false, got {value!r:.40}")
        return value
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise TypedDataTooLarge(f"a {type_} value of {len(value)} characters; at most "
                                f"{MAX_VALUE_CHARS}")
    if type_ == "string":
        if not isinstance(value, str):
            raise _Malformed(f"expected a string, got {type(value).__name__}")
        return value
    if type_.startswith("bytes"):
        if not isinstance(value, str) or not _HEX_BYTES.fullmatch(value):
            raise _Malformed(f"expected 0x-hex bytes for {type_}")
        raw = bytes.fromhex(value[2:])
        if type_ != "bytes" and len(raw) != int(type_[5:]):
            raise _Malformed(f"expected {type_[5:]} bytes for {type_}, got {len(raw)}")
        return raw
    signed = not type_.startswith("u")
    bits = int(type_[3:] if signed else type_[4:])
    number = _number(value, signed=signed)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    if not low <= number < high:
        raise _Malformed(f"{number} is out of range for {type_}")
    return number


def _number(value: object, *, signed: bool) -> int:
    """An int, or a decimal or 0x-hex string; never a bool, float or Python's lax int() forms."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Malformed(f"expected a number, got {type(value).__name__}")
    if isinstance(value, int):
        return value
    if len(value) > MAX_NUMBER_CHARS:
        raise _Malformed("number string too long")
    if _HEX_QUANTITY.fullmatch(value):
        return int(value[2:], 16)
    if _DECIMAL.fullmatch(value) and (signed or not value.startswith("-")):
        return int(value)
    raise _Malformed(f"expected a decimal or 0x-hex number, got {value!r:.40}")


def _address(value: object) -> str:
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise _Malformed(f"expected a 0x address, got {value!r:.50}")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and (
            to_checksum_address(value) != value):
        raise _Malformed(f"address {value} has an invalid checksum")
    return value.lower()


# -- recognition ---------------------------------------------------------------------------

def _recognise(primary: str, types: Types, message: dict[str, Any], domain: _Domain,
               assets: ChainAssets, *, sender: str) -> DecodedTypedData:
    contract = domain.verifying_contract

    def found(*intents: Intent) -> TypedDataIntents:
        return TypedDataIntents(domain_chain_id=domain.chain_id, verifying_contract=contract,
                                primary_type=primary, intents=intents, opaque=False)

    if primary == "Permit":
        token = None if contract is None else assets.token_at(contract)
        if types in (EIP2612_PERMIT, DAI_PERMIT):
            if token is None:
                return Undecodable(detail=f"permit of an unknown token {contract}")
            return found(_token_permit(message, token, dai=types == DAI_PERMIT, sender=sender))
        return Undecodable(detail="a Permit of unexpected shape cannot be valued")
    if primary in PERMIT2_TYPES:
        if not assets.is_permit2(contract):
            return Undecodable(detail=f"{primary} for {contract}, which is not Permit2 here")
        intents = _permit2(primary, types, message, assets)
        return intents if isinstance(intents, Undecodable) else found(*intents)
    if contract is not None and (assets.token_at(contract) is not None
                                 or assets.is_permit2(contract)):
        return Undecodable(detail=f"unrecognised {primary} message for {contract}, which holds "
                                  f"value: only permits are understood there")
    return TypedDataIntents(domain_chain_id=domain.chain_id, verifying_contract=contract,
                            primary_type=primary, intents=(), opaque=True)


def _token_permit(message: dict[str, Any], token: Asset, *, dai: bool, sender: str) -> Intent:
    if dai:
        # DAI's permit is all or nothing: `allowed` sets the allowance to 2**256-1 or 0.
        owner, amount = message["holder"], (2**256 - 1 if message["allowed"] else 0)
    else:
        owner, amount = message["owner"], message["value"]
    kind = IntentKind.TOKEN_APPROVAL if owner == sender else IntentKind.FOREIGN_FUNDS
    return Intent(kind=kind, asset=token, amount=amount, counterparty=message["spender"])


def _permit2(primary: str, types: Types, message: dict[str, Any], assets: ChainAssets
             ) -> tuple[Intent, ...] | Undecodable:
    expected = {"PermitSingle": PERMIT_SINGLE, "PermitBatch": PERMIT_BATCH,
                "PermitTransferFrom": PERMIT_TRANSFER_FROM,
                "PermitBatchTransferFrom": PERMIT_BATCH_TRANSFER_FROM}.get(primary)
    if expected is None:
        return Undecodable(detail=f"Permit2 {primary} is not supported")
    if types != expected:
        return Undecodable(detail=f"a {primary} of unexpected shape cannot be valued")
    if primary in ("PermitSingle", "PermitBatch"):
        details = message["details"]
        entries, bits = (details if primary == "PermitBatch" else [details]), UINT160_BITS
    else:
        permitted = message["permitted"]
        entries, bits = (permitted if primary == "PermitBatchTransferFrom" else [permitted]), 256
    if not entries:
        return Undecodable(detail=f"{primary} names no token")
    intents: list[Intent] = []
    for entry in entries:
        token = assets.token_at(entry["token"])
        if token is None:
            return Undecodable(detail=f"{primary} of an unknown token {entry['token']}")
        # The owner is the signer: Permit2 messages carry no owner field.
        intents.append(Intent(kind=IntentKind.TOKEN_APPROVAL, asset=token,
                              amount=entry["amount"], counterparty=message["spender"],
                              amount_bits=bits))
    return tuple(intents)
