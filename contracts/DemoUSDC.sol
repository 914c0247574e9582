// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title DemoUSDC: a small, readable ERC-20 with EIP-2612 permit for local development.
/// @notice Deployed on the dev chain (`make dev`) and in end-to-end tests so the sidecar's
///         policy engine sees a token shaped like mainnet USDC: 6 decimals, symbol "USDC",
///         `permit` signed over an EIP-712 domain with version "1". It is written here rather
///         than imported so the repo downloads nothing to build it and a reviewer can read all of
///         it in one sitting. Not for production: the owner can mint without limit.
contract DemoUSDC {
    string public constant name = "USD Coin (demo)";
    string public constant symbol = "USDC";
    uint8 public constant decimals = 6;
    /// @dev Version string of the EIP-712 domain; mainnet USDC uses "2", ours is "1" by design.
    string public constant version = "1";

    /// @dev keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// @dev EIP-2612's fixed typehash; wallets and the policy engine hash exactly this string.
    bytes32 public constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    address public owner;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    /// @notice EIP-2612 per-owner permit counter: each permit consumes exactly one nonce, which
    ///         is what makes a signed permit single-use.
    mapping(address => uint256) public nonces;

    // The domain separator is cached for the deployment chain and recomputed after a fork
    // changes block.chainid, so a permit signed for one chain never verifies on another.
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error ZeroAddress();
    error InsufficientBalance(uint256 balance, uint256 needed);
    error InsufficientAllowance(uint256 allowance, uint256 needed);
    error AllowanceBelowZero(uint256 allowance, uint256 subtracted);
    error PermitExpired(uint256 deadline);
    error InvalidSignature();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor() {
        owner = msg.sender;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
        emit OwnershipTransferred(address(0), msg.sender);
    }

    // ---- owner ---------------------------------------------------------------------------

    function mint(address to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert ZeroAddress();
        totalSupply += amount;
        // Cannot overflow: a balance never exceeds totalSupply, which was checked just above.
        unchecked {
            balanceOf[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    // ---- ERC-20 --------------------------------------------------------------------------

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spendAllowance(from, msg.sender, amount);
        _transfer(from, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        _approve(msg.sender, spender, amount);
        return true;
    }

    function increaseAllowance(address spender, uint256 addedValue) external returns (bool) {
        _approve(msg.sender, spender, allowance[msg.sender][spender] + addedValue);
        return true;
    }

    function decreaseAllowance(address spender, uint256 subtractedValue) external returns (bool) {
        uint256 current = allowance[msg.sender][spender];
        if (current < subtractedValue) revert AllowanceBelowZero(current, subtractedValue);
        unchecked {
            _approve(msg.sender, spender, current - subtractedValue);
        }
        return true;
    }

    // ---- EIP-2612 ------------------------------------------------------------------------

    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
    }

    function permit(
        address holder,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (block.timestamp > deadline) revert PermitExpired(deadline);
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, holder, spender, value, nonces[holder]++, deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", DOMAIN_SEPARATOR(), structHash));
        // Reject high-s signatures (EIP-2) so a permit has exactly one valid encoding, and
        // reject ecrecover's zero address so a garbage signature never "owns" address(0).
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) {
            revert InvalidSignature();
        }
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0) || signer != holder) revert InvalidSignature();
        _approve(holder, spender, value);
    }

    // ---- internals -----------------------------------------------------------------------

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256(bytes(version)), block.chainid, address(this)
            )
        );
    }

    function _transfer(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        uint256 fromBalance = balanceOf[from];
        if (fromBalance < amount) revert InsufficientBalance(fromBalance, amount);
        unchecked {
            balanceOf[from] = fromBalance - amount;
            balanceOf[to] += amount;
        }
        emit Transfer(from, to, amount);
    }

    function _approve(address holder, address spender, uint256 amount) private {
        if (spender == address(0)) revert ZeroAddress();
        allowance[holder][spender] = amount;
        emit Approval(holder, spender, amount);
    }

    function _spendAllowance(address holder, address spender, uint256 amount) private {
        uint256 current = allowance[holder][spender];
        // An allowance of type(uint256).max is "unlimited" and never decreases, as in USDC and
        // OpenZeppelin; the policy engine treats such approvals as unlimited, so the token must too.
        if (current != type(uint256).max) {
            if (current < amount) revert InsufficientAllowance(current, amount);
            unchecked {
                allowance[holder][spender] = current - amount;
            }
        }
    }
}
