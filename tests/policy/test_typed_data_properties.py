"""Properties of typed-data decisions over random payloads, policies and usage.

The oracle here reads a payload the way the signer does (eth-account's `encode_typed_data` must
accept it; numbers, booleans and addresses are read with eth-account's own coercions) and knows
the spend types from EIP-2612, DAI and Permit2 alone. It says whether a payload *may* be allowed
and at what cost:

(a) Canonical permits, in every encoding ethers and viem use, are decided exactly as the oracle
    says (allowed or not, and the cost to the atom).
(b) Well-formed random messages (random type graphs, some named like permits) are decided
    exactly as the oracle says: opaque data is allowed only for an allowlisted contract.
(c) After random mutations of permits and messages (values, keys, types, primaryType), nothing
    is allowed that the oracle would not allow, and never at another cost: what is judged is
    what gets signed.
(d) The same holds, exhaustively, for every look-alike of every value of a permit ("no" for
    false, " 5" for 5, a near-miss checksum for an address, ...).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from session_studio.policy import (
    ATOMS_PER_UNIT,
    USD,
    Permission,
    PriceBook,
    SessionPolicy,
    SessionState,
    decode_typed_data,
    evaluate_typed_data,
)

from .builders import (
    ASSETS,
    CHAIN,
    CONTRACT,
    DAI_PERMIT_FIELDS,
    NOW_MS,
    OTHER_CHAIN,
    PERMIT2,
    PERMIT_DETAILS_FIELDS,
    PERMIT_FIELDS,
    RECIPIENT,
    ROUTER,
    SENDER,
    SPENDER,
    STRANGER,
    TOKEN_PERMISSIONS_FIELDS,
    TOKENS,
    USDC_ADDRESS,
    typed_data,
    usd,
)

P = Permission
PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
USD_PRICES = {"ETH": Fraction(3000), "USDC": Fraction(1), "DAI": Fraction(1),
              "WBTC": Fraction(60000)}  # NOPRICE has none
PRICE_BOOK = PriceBook({(CHAIN, s): p for s, p in USD_PRICES.items()})
SYMBOLS = ("ETH", "USDC", "DAI", "WBTC", "NOPRICE")
TOKEN_BY_ADDRESS = {t.address: t for t in TOKENS}
ADDRESSES = [SENDER, RECIPIENT, SPENDER, STRANGER, CONTRACT, ROUTER, PERMIT2,
             *TOKEN_BY_ADDRESS]


# -- the spend types, from their specifications ---------------------------------------------

def fields(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": n, "type": t} for n, t in pairs]


DETAILS, PERMISSIONS = fields(PERMIT_DETAILS_FIELDS), fields(TOKEN_PERMISSIONS_FIELDS)
SPEND_SHAPES: dict[str, list[dict[str, list[dict[str, str]]]]] = {
    "Permit": [{"Permit": fields(PERMIT_FIELDS)}, {"Permit": fields(DAI_PERMIT_FIELDS)}],
    "PermitSingle": [{"PermitSingle": fields([("details", "PermitDetails"),
                                              ("spender", "address"),
                                              ("sigDeadline", "uint256")]),
                      "PermitDetails": DETAILS}],
    "PermitBatch": [{"PermitBatch": fields([("details", "PermitDetails[]"),
                                            ("spender", "address"),
                                            ("sigDeadline", "uint256")]),
                     "PermitDetails": DETAILS}],
    "PermitTransferFrom": [{"PermitTransferFrom": fields([
        ("permitted", "TokenPermissions"), ("spender", "address"), ("nonce", "uint256"),
        ("deadline", "uint256")]), "TokenPermissions": PERMISSIONS}],
    "PermitBatchTransferFrom": [{"PermitBatchTransferFrom": fields([
        ("permitted", "TokenPermissions[]"), ("spender", "address"), ("nonce", "uint256"),
        ("deadline", "uint256")]), "TokenPermissions": PERMISSIONS}],
}
# Primary types that can move funds: never opaque, whatever their shape.
SPEND_NAMES = {*SPEND_SHAPES, "PermitWitnessTransferFrom", "PermitBatchWitnessTransferFrom"}


# -- the oracle: the payload as the signer reads it -----------------------------------------

def ea_int(value: Any) -> int:
    """eth-account's reading of an integer field (encode_field): ints, "0x.." hex, else int()."""
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)


def ea_bool(value: Any) -> bool:
    """eth-account's reading of a bool: falsy, "False", "false" and "0" are false."""
    return not (not value or value in ("False", "false", "0"))


@dataclass(frozen=True)
class Grant:
    token: str
    amount: int
    bits: int
    spender: str
    own: bool


def grants_of(primary: str, types: dict[str, Any], message: dict[str, Any],
              contract: str | None) -> list[Grant] | None:
    """What a spend type grants, or None when it is not exactly one of the known shapes."""
    if primary not in SPEND_SHAPES or types not in SPEND_SHAPES[primary]:
        return None
    if primary == "Permit":
        if contract not in TOKEN_BY_ADDRESS:
            return None
        if "owner" in message:
            return [Grant(contract, ea_int(message["value"]), 256,
                          str(message["spender"]).lower(),
                          str(message["owner"]).lower() == SENDER)]
        amount = 2**256 - 1 if ea_bool(message["allowed"]) else 0
        return [Grant(contract, amount, 256, str(message["spender"]).lower(),
                      str(message["holder"]).lower() == SENDER)]
    if contract != PERMIT2:
        return None
    spender = str(message["spender"]).lower()
    if primary in ("PermitSingle", "PermitBatch"):
        entries = message["details"] if primary == "PermitBatch" else [message["details"]]
        bits = 160
    else:
        permitted = message["permitted"]
        entries = permitted if primary == "PermitBatchTransferFrom" else [permitted]
        bits = 256
    if not entries:
        return None
    return [Grant(str(e["token"]).lower(), ea_int(e["amount"]), bits, spender, True)
            for e in entries]


def ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def oracle(payload: Any, policy: SessionPolicy, state: SessionState) -> tuple[bool, int]:
    """(may it be allowed, at what cost) for the payload as eth-account would sign it."""
    try:
        encode_typed_data(full_message=payload)
        primary: str = payload["primaryType"]
        domain, message = payload["domain"], payload["message"]
        types = {k: v for k, v in payload["types"].items() if k != "EIP712Domain"}
        chain_id = ea_int(domain["chainId"]) if "chainId" in domain else None
        contract = (str(domain["verifyingContract"]).lower()
                    if "verifyingContract" in domain else None)
        grants = grants_of(primary, types, message, contract)
    except Exception:
        return False, 0  # the signer could not sign it, or it is no known shape
    if (state.revoked or state.expires_at_ms <= NOW_MS or CHAIN not in policy.chain_ids
            or chain_id != CHAIN):
        return False, 0
    if policy.rate_limit_per_minute is not None and (
            state.requests_last_minute >= policy.rate_limit_per_minute):
        return False, 0
    if primary not in SPEND_NAMES:
        listed = {c.lower() for c in policy.contracts}
        holds_value = contract in TOKEN_BY_ADDRESS or contract == PERMIT2
        allowed = (P.SIGN_TYPED_DATA in policy.permissions and contract in listed
                   and not holds_value)
        return allowed, 0
    if grants is None or P.APPROVE not in policy.permissions:
        return False, 0
    cost = 0
    for grant in grants:
        token = TOKEN_BY_ADDRESS.get(grant.token)
        if token is None or not grant.own or grant.amount >= 2 ** (grant.bits - 1):
            return False, 0
        if token.symbol not in policy.tokens:
            return False, 0
        if policy.recipients is not None and grant.spender not in policy.recipients:
            return False, 0
        if grant.amount:
            if token.symbol not in USD_PRICES:
                return False, 0
            cost += ceil(Fraction(grant.amount, 10**token.decimals) * USD_PRICES[token.symbol]
                         * ATOMS_PER_UNIT)
    if cost > policy.per_tx or state.spent_in_window + cost > policy.daily:
        return False, 0
    return True, cost


def decide(payload: Any, policy: SessionPolicy, state: SessionState) -> tuple[bool, int]:
    decision = evaluate_typed_data(
        policy=policy, state=state, chain_id=CHAIN,
        decoded=decode_typed_data(payload, ASSETS, sender=SENDER), prices=PRICE_BOOK,
        now_ms=NOW_MS)
    event(f"{decision.allowed} {decision.reason}")
    return decision.allowed, decision.cost


# -- strategies: policies and state ---------------------------------------------------------

@st.composite
def policies(draw: st.DrawFn) -> SessionPolicy:
    per_tx = draw(st.sampled_from([usd("1"), usd("10"), usd("1000"), 2**300]))
    return SessionPolicy(
        permissions=draw(st.one_of(
            st.sampled_from([frozenset(P), frozenset({P.APPROVE}),
                             frozenset({P.SIGN_TYPED_DATA})]),
            st.frozensets(st.sampled_from(list(P))))),
        chain_ids=draw(st.sampled_from([frozenset({CHAIN}), frozenset({CHAIN, OTHER_CHAIN}),
                                        frozenset({OTHER_CHAIN})])),
        tokens=draw(st.one_of(st.just(frozenset(SYMBOLS)),
                              st.frozensets(st.sampled_from(SYMBOLS)))),
        unit=USD, per_tx=per_tx, daily=per_tx * draw(st.integers(1, 3)),
        recipients=draw(st.sampled_from([None, None, frozenset({SPENDER}),
                                         frozenset({RECIPIENT})])),
        contracts=draw(st.sampled_from([
            {CONTRACT: None}, {}, {to_checksum_address(CONTRACT): frozenset({"0x12345678"})},
            {USDC_ADDRESS: None, PERMIT2: None}])),
        rate_limit_per_minute=draw(st.sampled_from([None, None, None, 0, 2])))


@st.composite
def lenient_policies(draw: st.DrawFn) -> SessionPolicy:
    """Policies that let well-formed requests through, so mutations are what gets tested."""
    per_tx = draw(st.sampled_from([usd("10"), 2**300]))
    return SessionPolicy(
        permissions=draw(st.sampled_from([frozenset(P),
                                          frozenset({P.APPROVE, P.SIGN_TYPED_DATA})])),
        chain_ids=frozenset({CHAIN}), tokens=frozenset(SYMBOLS), unit=USD, per_tx=per_tx,
        daily=per_tx, recipients=draw(st.sampled_from([None, None, frozenset({SPENDER})])),
        contracts={CONTRACT: None})


FRESH = SessionState(revoked=False, expires_at_ms=NOW_MS + 3_600_000, spent_in_window=0)


@st.composite
def states(draw: st.DrawFn) -> SessionState:
    return SessionState(
        revoked=draw(st.sampled_from([False] * 7 + [True])),
        expires_at_ms=NOW_MS + draw(st.sampled_from([3_600_000] * 7 + [0])),
        spent_in_window=draw(st.sampled_from([0, 0, usd("5"), usd("99")])),
        requests_last_minute=draw(st.integers(0, 2)))


# -- strategies: canonical permits, in the encodings clients use -----------------------------

def encoded_number(value: int) -> st.SearchStrategy[Any]:
    """How ethers (decimal string), viem (decimal string or number) or a dapp (hex) sends it."""
    return st.sampled_from([str(value), value, hex(value), "0x" + f"{value:x}".upper()])


def encoded_address(address: str) -> st.SearchStrategy[str]:
    return st.sampled_from([address, to_checksum_address(address),
                            "0x" + address[2:].upper()])


BOUNDARIES = [0, 1, 2**159 - 1, 2**159, 2**160 - 1, 2**255 - 1, 2**255, 2**256 - 1]


def amounts(bits: int) -> st.SearchStrategy[int]:
    """Amounts around the limits, anywhere in the field, and at the unlimited boundaries."""
    return st.one_of(st.integers(0, 2 * 10**7), st.integers(0, 2 * 10**19),
                     st.integers(0, 10**6), st.integers(0, 2**bits - 1),
                     st.sampled_from([b for b in BOUNDARIES if b < 2**bits]))
token_addresses = st.one_of(st.sampled_from(list(TOKEN_BY_ADDRESS)), st.sampled_from(ADDRESSES))


@st.composite
def permits(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Permit", "DaiPermit", "PermitSingle", "PermitBatch",
                                 "PermitTransferFrom", "PermitBatchTransferFrom"]))
    n, a = encoded_number, encoded_address
    spender = draw(st.sampled_from([SPENDER, SPENDER, RECIPIENT, STRANGER]).flatmap(a))
    deadline = draw(n(NOW_MS // 1000 + 3600))
    if kind in ("Permit", "DaiPermit"):
        contract = draw(token_addresses)
        owner = draw(st.sampled_from([SENDER, SENDER, SENDER, STRANGER]).flatmap(a))
        if kind == "Permit":
            types: dict[str, list[tuple[str, str]]] = {"Permit": PERMIT_FIELDS}
            message: dict[str, Any] = {"owner": owner, "spender": spender,
                                       "value": draw(amounts(256).flatmap(n)),
                                       "nonce": draw(n(0)), "deadline": deadline}
        else:
            types = {"Permit": DAI_PERMIT_FIELDS}
            message = {"holder": owner, "spender": spender, "nonce": draw(n(0)),
                       "expiry": deadline, "allowed": draw(st.booleans())}
        primary = "Permit"
        name = "Token"
    else:
        contract = draw(st.sampled_from([PERMIT2] * 6 + [CONTRACT, USDC_ADDRESS]))
        bits = 160 if kind in ("PermitSingle", "PermitBatch") else 256
        entries = draw(st.lists(st.tuples(token_addresses, amounts(bits)),
                                min_size=0 if "Batch" in kind else 1, max_size=3))
        if bits == 160:
            items = [{"token": draw(a(t)), "amount": draw(n(v)), "expiration": deadline,
                      "nonce": draw(n(0))} for t, v in entries]
            inner, inner_type = "details", "PermitDetails"
            types = {"PermitDetails": PERMIT_DETAILS_FIELDS}
            tail = [("spender", "address"), ("sigDeadline", "uint256")]
        else:
            items = [{"token": draw(a(t)), "amount": draw(n(v))} for t, v in entries]
            inner, inner_type = "permitted", "TokenPermissions"
            types = {"TokenPermissions": TOKEN_PERMISSIONS_FIELDS}
            tail = [("spender", "address"), ("nonce", "uint256"), ("deadline", "uint256")]
        batch = "Batch" in kind
        types[kind] = [(inner, inner_type + ("[]" if batch else "")), *tail]
        message = {inner: items if batch else items[0], "spender": spender}
        message.update({"sigDeadline": deadline} if bits == 160 else
                       {"nonce": draw(n(0)), "deadline": deadline})
        primary = kind
        name = "Permit2"
    chain_id = draw(st.sampled_from([CHAIN] * 6 + [OTHER_CHAIN, None]).flatmap(
        lambda c: st.just(None) if c is None else n(c)))
    domain: dict[str, Any] = {"name": name}
    if chain_id is not None:
        domain["chainId"] = chain_id
    domain["verifyingContract"] = draw(a(contract))
    payload = typed_data(primary, types, message, **domain)
    if draw(st.booleans()):
        del payload["types"]["EIP712Domain"]  # dapp objects often leave it out
    return payload


# -- strategies: well-formed random messages ------------------------------------------------

STRUCT_NAMES = ["Mail", "Person", "Order", "Item", "Node", "Permit", "PermitSingle",
                "PermitDetails", "TokenPermissions", "PermitTransferFrom"]
FIELD_NAMES = ["owner", "spender", "value", "nonce", "deadline", "amount", "token", "to",
               "contents", "allowed", "details", "permitted", "expiry", "holder", "wallet"]
ATOMIC = ["address", "bool", "string", "bytes", "bytes32", "bytes4", "uint256", "uint160",
          "uint48", "uint8", "int256", "int8"]


def value_of(type_: str, types: dict[str, list[tuple[str, str]]]) -> st.SearchStrategy[Any]:
    if type_.endswith("[]"):
        return st.lists(value_of(type_[:-2], types), max_size=2)
    if type_.endswith("]"):
        base, length = type_[:-1].rsplit("[", 1)
        size = int(length)
        return st.lists(value_of(base, types), min_size=size, max_size=size)
    if type_ in types:
        return st.fixed_dictionaries({f: value_of(t, types) for f, t in types[type_]})
    if type_ == "address":
        return st.sampled_from(ADDRESSES).flatmap(encoded_address)
    if type_ == "bool":
        return st.booleans()
    if type_ == "string":
        return st.text(max_size=8)
    if type_ == "bytes":
        return st.binary(max_size=8).map(lambda b: "0x" + b.hex())
    if type_.startswith("bytes"):
        size = int(type_[5:])
        return st.binary(min_size=size, max_size=size).map(lambda b: "0x" + b.hex())
    if type_.startswith("uint"):
        return st.integers(0, 2 ** int(type_[4:]) - 1).flatmap(encoded_number)
    bits = int(type_[3:])
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1).flatmap(
        lambda v: st.sampled_from([v, str(v)]))


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """A random, well-formed type graph (a DAG whose root is primaryType) and its message."""
    names = draw(st.lists(st.sampled_from(STRUCT_NAMES), min_size=1, max_size=4, unique=True))
    types: dict[str, list[tuple[str, str]]] = {}
    for i, struct in enumerate(names):
        own = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=4, unique=True))
        types[struct] = [(f, draw(st.sampled_from(ATOMIC + names[i + 1:]))
                          + draw(st.sampled_from(["", "", "", "[]", "[2]"]))) for f in own]
        if i > 0:
            types[names[i - 1]].append((f"link{i}", struct))  # every struct is reachable
    message = draw(value_of(names[0], types))
    domain: dict[str, Any] = {}
    for key, value in (("name", st.just("App")), ("version", st.just("1")),
                       ("chainId", st.sampled_from([CHAIN, CHAIN, OTHER_CHAIN, hex(CHAIN)])),
                       ("verifyingContract", st.sampled_from(
                           [CONTRACT, CONTRACT, STRANGER, ROUTER, PERMIT2, USDC_ADDRESS]
                       ).flatmap(encoded_address)),
                       ("salt", st.binary(min_size=32, max_size=32).map(
                           lambda b: "0x" + b.hex()))):
        if draw(st.sampled_from([True, True, True, False])):
            domain[key] = draw(value)
    return typed_data(names[0], types, message, **domain)


# -- strategies: mutations ------------------------------------------------------------------

NASTY: list[Any] = [
    0, 1, -1, True, False, None, 1.5, "", "0x", "0x00", "1e3", " 1", "1_0", "-1", "no", "false",
    "true", "0", 2**159, 2**160 - 1, 2**255, 2**256, str(2**256), hex(2**256), SENDER,
    STRANGER, to_checksum_address(SPENDER), SPENDER.upper(), CONTRACT, PERMIT2, USDC_ADDRESS,
    SPENDER[2:], [], {}, [1], {"a": 1}, "Permit", "PermitSingle", "PermitDetails", "Mail",
    "uint256", "uint160", "uint", "address", "bool", "string", "bytes32", "PermitDetails[]",
    "TokenPermissions[]", "EIP712Domain", CHAIN, OTHER_CHAIN, hex(CHAIN), str(CHAIN),
]
NASTY_KEYS = ["owner", "value", "amount", "name", "type", "chainId", "verifyingContract",
              "salt", "extra", "details", "Permit", "EIP712Domain", "primaryType"]
Path = tuple[Any, ...]


def paths(node: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*prefix, index))
    return found


def parent_of(root: Any, path: Path) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


_CHECKSUMMED = to_checksum_address(SPENDER)
_FLIP = next(i for i, c in enumerate(_CHECKSUMMED) if i > 1 and c.isalpha())
BAD_CHECKSUM = _CHECKSUMMED[:_FLIP] + _CHECKSUMMED[_FLIP].swapcase() + _CHECKSUMMED[_FLIP + 1:]
# Look-alikes of a value that a lax reader might take for it (or for its opposite).
LOOK_ALIKES: dict[type, list[Any]] = {
    bool: ["no", "false", "False", "true", "0", "1", "", 0, 1, None],
    int: [True, 1.0, "1e3", " 5", "5_0", "-1", "0X10", "0x", 2**160, 2**256, -1],
    str: [" 5", "5_0", "0X10", "+5", "1e3", "-0", "0x", "", SPENDER[2:], "0x" + "C3" * 20,
          to_checksum_address(STRANGER), BAD_CHECKSUM, 5, None],
}


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    payload = copy.deepcopy(draw(base))
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        where = draw(st.sampled_from([("message",), ("message",), ("domain",), ()]))
        candidates = [p for p in paths(payload) if p and p[:len(where)] == where]
        if not candidates:
            continue
        path = draw(st.sampled_from(candidates))
        parent, last = parent_of(payload, path), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "look-alike", "look-alike",
                                       "delete", "add", "rename", "duplicate"]))
        # Copies: a later mutation must not change the shared pools (hypothesis replays them).
        if action == "look-alike" and type(parent[last]) in LOOK_ALIKES:
            parent[last] = copy.deepcopy(draw(st.sampled_from(LOOK_ALIKES[type(parent[last])])))
        elif action in ("replace", "look-alike"):
            parent[last] = copy.deepcopy(draw(st.sampled_from(NASTY)))
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(NASTY_KEYS))] = copy.deepcopy(draw(st.sampled_from(NASTY)))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(NASTY_KEYS))] = parent.pop(last)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return payload


# -- (a) ------------------------------------------------------------------------------------

@PROPERTY
@given(payload=permits(), policy=policies(), state=states())
def test_canonical_permits_are_decided_exactly_as_the_signer_reads_them(
    payload: dict[str, Any], policy: SessionPolicy, state: SessionState,
) -> None:
    assert decide(payload, policy, state) == oracle(payload, policy, state)


# -- (b) ------------------------------------------------------------------------------------

@PROPERTY
@given(payload=messages(), policy=policies(), state=states())
def test_well_formed_messages_are_allowed_exactly_when_opaque_and_allowlisted(
    payload: dict[str, Any], policy: SessionPolicy, state: SessionState,
) -> None:
    assert decide(payload, policy, state) == oracle(payload, policy, state)


# -- (c) ------------------------------------------------------------------------------------

def never_beyond_the_oracle(payload: Any, policy: SessionPolicy, state: SessionState) -> None:
    allowed, cost = decide(payload, policy, state)
    if allowed:
        assert oracle(payload, policy, state) == (True, cost)
        assert cost <= policy.per_tx and state.spent_in_window + cost <= policy.daily


@PROPERTY
@given(payload=mutated(permits()), policy=lenient_policies())
def test_mutated_permits_are_never_allowed_beyond_what_the_signer_would_sign(
    payload: dict[str, Any], policy: SessionPolicy,
) -> None:
    never_beyond_the_oracle(payload, policy, FRESH)


@PROPERTY
@given(payload=mutated(messages()), policy=lenient_policies())
def test_mutated_messages_are_never_allowed_beyond_what_the_signer_would_sign(
    payload: dict[str, Any], policy: SessionPolicy,
) -> None:
    never_beyond_the_oracle(payload, policy, FRESH)


# -- (d) ------------------------------------------------------------------------------------

def leaves(node: Any, prefix: Path = ()) -> list[Path]:
    return [p for p in paths(node, prefix) if p and not isinstance(
        parent_of(node, p)[p[-1]], dict | list)]


@settings(PROPERTY, max_examples=120)
@given(payload=permits(), policy=lenient_policies())
def test_no_look_alike_of_any_permit_value_is_allowed_beyond_what_the_signer_would_sign(
    payload: dict[str, Any], policy: SessionPolicy,
) -> None:
    for path in leaves(payload):
        parent, last = parent_of(payload, path), path[-1]
        original = parent[last]
        for look_alike in LOOK_ALIKES.get(type(original), []):
            parent[last] = look_alike
            never_beyond_the_oracle(payload, policy, FRESH)
        parent[last] = original
