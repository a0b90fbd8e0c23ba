// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskSignatures
/// @notice The EIP-712 domain (name "FedChain TaskManager", version "1", chain id, this
///         contract) and the typed structs clients sign: Update and JoinTask.
abstract contract TaskSignatures is TaskStorage, EIP712 {
    constructor() EIP712("FedChain TaskManager", "1") {}

    function _updateStructHash(
        uint256 taskId,
        uint64 round,
        bytes32 digest,
        uint32 numSamples,
        uint8 codec
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(_UPDATE_TYPEHASH, taskId, round, digest, numSamples, codec));
    }

    /// @dev EIP-712 typed-data hash: keccak256("\x19\x01" || domainSeparator || structHash).
    function _typedHash(bytes32 domain, bytes32 structHash) internal pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domain)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// @notice See {ITaskManager-hashUpdate}.
    function hashUpdate(uint256 taskId, uint64 round, bytes32 digest, uint32 numSamples, uint8 codec)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_updateStructHash(taskId, round, digest, numSamples, codec));
    }

    /// @notice See {ITaskManager-hashAttestation}.
    function hashAttestation(uint256 taskId, uint64 round, bytes32 verdictHash)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(_ATTESTATION_TYPEHASH, taskId, round, verdictHash)));
    }

    /// @notice See {ITaskManager-hashJoin}.
    function hashJoin(uint256 taskId, uint256 mortgage, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(_JOIN_TYPEHASH, taskId, mortgage, nonce, deadline)));
    }

    /// @notice See {ITaskManager-domainSeparator}.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
