// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {TaskJoins} from "./task/TaskJoins.sol";
import {TaskLedger} from "./task/TaskLedger.sol";
import {TaskRounds} from "./task/TaskRounds.sol";
import {TaskSettlement} from "./task/TaskSettlement.sol";
import {TaskStorage} from "./task/TaskStorage.sol";

/// @title TaskManager
/// @notice The FedChain task protocol (see {ITaskManager}; bind its address with that ABI).
/// @dev One deployed contract cannot hold the whole protocol under the 24 KiB code limit, so it
///      comes in two halves sharing one storage layout ({TaskStorage}): this contract holds the
///      money and the hot paths (ledger, joins, submissions, verdicts, settlement); every other
///      selector (task creation, miner joins, start, cancel, views) is forwarded by `fallback`
///      with DELEGATECALL to the immutable {TaskManagerExtension}, which runs in this storage.
contract TaskManager is TaskLedger, TaskJoins, TaskRounds, TaskSettlement {
    address private immutable _extension;

    /// @param registry_ the ParticipantRegistry (reputation, credits; its gammamax and h are copied).
    /// @param models_ the ModelRegistry.
    /// @param slashBps_ share of a miner's stake slashed per offense, in basis points.
    /// @param limits_ the protocol bounds every task must respect (see {ITaskTypes-Limits}).
    /// @param extension_ the TaskManagerExtension deployed with the same four arguments.
    constructor(
        IParticipantRegistry registry_,
        IModelRegistry models_,
        uint256 slashBps_,
        Limits memory limits_,
        address extension_
    ) TaskStorage(registry_, models_, slashBps_, limits_) {
        ITaskManager ext = ITaskManager(extension_);
        if (
            extension_.code.length == 0 || ext.registry() != address(registry_)
                || ext.models() != address(models_) || ext.slashBps() != slashBps_
                || keccak256(abi.encode(ext.limits())) != keccak256(abi.encode(limits_))
        ) revert TaskManagerInvalidDeployment(address(registry_), address(models_), slashBps_);
        _extension = extension_;
    }

    /// @notice The extension every selector not implemented here is forwarded to.
    function extension() external view returns (address) {
        return _extension;
    }

    /// @dev Forwards to the extension by DELEGATECALL (its code, this storage and balance) and
    ///      bubbles its result or revert data up unchanged.
    fallback() external payable {
        address target = _extension;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}
