// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Accounts} from "../libraries/Accounts.sol";
import {TaskStorage} from "./TaskStorage.sol";

/// @title TaskLedger
/// @notice The internal balance ledger: deposit once, joins lock from it, settlement credits
///         it, and `withdraw` is the only way value leaves the contract (pull payments).
abstract contract TaskLedger is TaskStorage, ReentrancyGuardTransient {
    /// @notice See {ITaskManager-deposit}.
    function deposit() external payable {
        if (msg.value == 0) revert TaskManagerZeroAmount();
        _credit(msg.sender, msg.value);
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice See {ITaskManager-withdraw}.
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert TaskManagerZeroAmount();
        _debit(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TaskManagerTransferFailed(msg.sender, amount);
    }

    /// @notice See {ITaskManager-balanceOf}.
    function balanceOf(address account) external view returns (uint256) {
        return Accounts.balance(_accounts[account]);
    }
}
