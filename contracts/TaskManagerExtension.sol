// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {TaskSetup} from "./task/TaskSetup.sol";
import {TaskStorage} from "./task/TaskStorage.sol";
import {TaskViews} from "./task/TaskViews.sol";

/// @title TaskManagerExtension
/// @notice The second half of {TaskManager}: task creation, miner joins, start, cancellation
///         and the views. It only runs by DELEGATECALL from TaskManager (in TaskManager's
///         storage); calling it directly reverts for every state-changing function.
// Its payable functions revert unless delegated to, so no ether can be locked here.
// slither-disable-next-line locked-ether
contract TaskManagerExtension is TaskSetup, TaskViews {
    address private immutable _self;

    /// @param registry_ the ParticipantRegistry.
    /// @param models_ the ModelRegistry.
    /// @param slashBps_ share of a miner's stake slashed per offense, in basis points.
    /// @param limits_ the protocol bounds every task must respect.
    constructor(IParticipantRegistry registry_, IModelRegistry models_, uint256 slashBps_, Limits memory limits_)
        TaskStorage(registry_, models_, slashBps_, limits_)
    {
        _self = address(this);
    }

    function _onlyDelegated() internal view override {
        if (address(this) == _self) revert TaskManagerExtensionDirectCall();
    }
}
