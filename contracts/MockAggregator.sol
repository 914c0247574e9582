// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title MockAggregator: a Chainlink-style price feed whose answer the owner sets.
/// @notice The policy engine values token spends through an AggregatorV3Interface feed and must
///         refuse stale or non-positive prices. Tests need to produce exactly those situations
///         (a fresh price, an old `updatedAt`, a zero answer), which a real feed cannot, so the
///         owner sets `answer` and `updatedAt` directly. Every `setAnswer` opens a new round.
contract MockAggregator {
    address public owner;
    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;

    uint80 private latestRound;
    int256 private latestAnswer;
    uint256 private latestStartedAt;
    uint256 private latestUpdatedAt;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NotOwner();

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        owner = msg.sender;
        decimals = decimals_;
        description = description_;
        _setAnswer(initialAnswer, block.timestamp);
    }

    /// @notice Set the price and the time it claims to be from; `updatedAt` may lie in the past
    ///         on purpose, to simulate a stale feed.
    function setAnswer(int256 answer, uint256 updatedAt) external {
        if (msg.sender != owner) revert NotOwner();
        _setAnswer(answer, updatedAt);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (latestRound, latestAnswer, latestStartedAt, latestUpdatedAt, latestRound);
    }

    function _setAnswer(int256 answer, uint256 updatedAt) private {
        latestRound += 1;
        latestAnswer = answer;
        latestStartedAt = updatedAt;
        latestUpdatedAt = updatedAt;
        emit AnswerUpdated(answer, latestRound, updatedAt);
    }
}
