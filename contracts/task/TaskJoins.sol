// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Accounts} from "../libraries/Accounts.sol";
import {TaskSignatures} from "./TaskSignatures.sol";

/// @title TaskJoins
/// @notice Clients join a task directly or in batches of EIP-712 join permits relayed by anyone
///         (each with a deadline and the client's current nonce), and revoke their permits.
abstract contract TaskJoins is TaskSignatures {
    /// @notice See {ITaskManager-joinAsClient}.
    function joinAsClient(uint256 taskId) external payable {
        uint256 mortgage = _terms[taskId].clientMortgage;
        if (msg.value != 0 && msg.value != mortgage) {
            revert TaskManagerWrongMortgage(taskId, mortgage, msg.value);
        }
        State memory s = _states[taskId];
        _checkJoinOpen(taskId, s.status);
        _addClient(taskId, s, msg.sender, msg.value == 0 ? mortgage : 0);
        _states[taskId].clientCount = s.clientCount;
        _funds[taskId].pot += uint128(mortgage);
        _funds[taskId].unsettled += 1;
    }

    /// @notice See {ITaskManager-joinClientsBySig}.
    function joinClientsBySig(uint256 taskId, JoinSignature[] calldata permits) external {
        uint256 count = permits.length;
        if (count == 0) revert TaskManagerEmptyBatch(taskId);
        uint256 mortgage = _terms[taskId].clientMortgage;
        State memory s = _states[taskId];
        _checkJoinOpen(taskId, s.status);
        for (uint256 k; k < count; ++k) {
            JoinSignature calldata p = permits[k];
            address client = p.client;
            if (block.timestamp > p.deadline) revert TaskManagerPermitExpired(taskId, client, p.deadline);
            bytes32 hash = _hashTypedDataV4(
                keccak256(
                    abi.encode(_JOIN_TYPEHASH, taskId, mortgage, Accounts.joinNonce(_accounts[client]), p.deadline)
                )
            );
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, p.v, p.r, p.s);
            if (err != ECDSA.RecoverError.NoError || signer != client) revert TaskManagerInvalidSignature(taskId, k);
            _addClient(taskId, s, client, mortgage);
        }
        _states[taskId].clientCount = s.clientCount;
        Funds storage funds = _funds[taskId];
        funds.pot += uint128(mortgage * count);
        funds.unsettled += uint16(count);
    }

    /// @notice See {ITaskManager-revokeJoinPermits}.
    function revokeJoinPermits() external {
        _bumpJoinNonce(msg.sender);
    }

    /// @dev Checks eligibility and records the member; the caller updates counters and funds.
    function _addClient(uint256 taskId, State memory s, address client, uint256 debit) private {
        if (s.clientCount >= _configs[taskId].maxClients) {
            revert TaskManagerTaskFull(taskId, _configs[taskId].maxClients);
        }
        if (_memberOf(taskId, client).role != MemberRole.None) revert TaskManagerAlreadyJoined(taskId, client);
        bytes32 category = _categories[taskId];
        (uint8 roles, uint16 reputation, bool hasCategory, uint256 samples) =
            _registry.eligibility(client, category, _configs[taskId].requester);
        if (roles & 1 == 0) revert TaskManagerNotRegistered(client, 1);
        if (!hasCategory) revert TaskManagerCategoryMissing(taskId, client, category);
        uint16 minimum = _terms[taskId].minReputation;
        if (reputation < minimum) revert TaskManagerReputationTooLow(taskId, client, reputation, minimum);
        uint8 index = uint8(s.clientCount);
        _enroll(taskId, client, Member({role: MemberRole.Client, index: index, gammaAtJoin: reputation}), debit);
        // H-3: the sample count is the client's registered data in the category, fixed now (in
        // the event: only the committee reads it).
        if (samples > type(uint32).max) samples = type(uint32).max;
        s.clientCount += 1;
        emit ClientJoined(taskId, client, index, reputation, uint32(samples));
    }
}
