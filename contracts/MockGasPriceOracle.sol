// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title MockGasPriceOracle: the OP-stack GasPriceOracle's `getL1Fee(bytes)` with a settable fee.
/// @notice On OP-stack chains (Base, OP Mainnet) a sender also pays an L1 data fee, quoted by the
///         GasPriceOracle predeploy at 0x420000000000000000000000000000000000000F. anvil has no
///         such predeploy, so the tests deploy this contract, copy its runtime code to that address
///         (`anvil_setCode`) and set the fee there. Like the real oracle, `getL1Fee` takes the
///         unsigned RLP-encoded transaction and adds 68 bytes for the signature it lacks; the fee
///         here is simply `feePerByte` wei per byte, so a test can compute the expected quote.
///         No owner: the constructor never runs at the predeploy address, and this contract
///         exists for local chains only. `broken` makes every quote revert (an oracle failure).
contract MockGasPriceOracle {
    uint256 public feePerByte;
    bool public broken;

    error OracleBroken();

    function setFeePerByte(uint256 feePerByte_) external {
        feePerByte = feePerByte_;
    }

    function setBroken(bool broken_) external {
        broken = broken_;
    }

    /// @notice L1 fee in wei for a transaction whose unsigned RLP encoding is `data`.
    function getL1Fee(bytes calldata data) external view returns (uint256) {
        if (broken) revert OracleBroken();
        return (data.length + 68) * feePerByte;
    }
}
