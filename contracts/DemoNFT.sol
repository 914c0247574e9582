// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title DemoNFT: the approval surface of an ERC-721 collection, for attack tests.
/// @notice The sidecar's attack catalogue (POLICY.md, "approvals through the back door") needs a
///         contract a session may call whose `setApprovalForAll` and `approve` really hand
///         tokens to an operator, so a test can show on chain what a wrongly signed approval
///         does. It is written here rather than imported so the repo downloads nothing to build
///         it. Not a full ERC-721: no safe transfers, no metadata, and anyone can mint.
contract DemoNFT {
    mapping(uint256 => address) public ownerOf;
    mapping(uint256 => address) public getApproved;
    mapping(address => mapping(address => bool)) public isApprovedForAll;

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);

    error NotAuthorised();
    error AlreadyMinted(uint256 tokenId);

    function mint(address to, uint256 tokenId) external {
        if (ownerOf[tokenId] != address(0)) revert AlreadyMinted(tokenId);
        ownerOf[tokenId] = to;
        emit Transfer(address(0), to, tokenId);
    }

    function approve(address approved, uint256 tokenId) external {
        address holder = ownerOf[tokenId];
        if (msg.sender != holder && !isApprovedForAll[holder][msg.sender]) revert NotAuthorised();
        getApproved[tokenId] = approved;
        emit Approval(holder, approved, tokenId);
    }

    function setApprovalForAll(address operator, bool approved) external {
        isApprovedForAll[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    /// @dev What an operator does with an approval: takes the token.
    function transferFrom(address from, address to, uint256 tokenId) external {
        if (ownerOf[tokenId] != from) revert NotAuthorised();
        if (msg.sender != from && !isApprovedForAll[from][msg.sender]
            && getApproved[tokenId] != msg.sender) revert NotAuthorised();
        delete getApproved[tokenId];
        ownerOf[tokenId] = to;
        emit Transfer(from, to, tokenId);
    }
}
