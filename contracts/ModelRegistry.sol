// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Initial, per-round, final and perturbed model digests per task; the M3 request cache.
/// @dev Codecs are one bit each (1 = dag-pb 0x70, 0 = raw 0x55) in a per-task word: bit r for
///      round r (r < 250), bits 250/251/252 for initial/final/perturbed. The TaskManager only
///      passes codecs it has validated.
contract ModelRegistry is IModelRegistry {
    uint8 internal constant _RAW = 0x55;
    uint8 internal constant _DAG_PB = 0x70;
    uint256 internal constant _MAX_ROUNDS = 250;
    uint256 internal constant _BIT_INITIAL = 250;
    uint256 internal constant _BIT_FINAL = 251;
    uint256 internal constant _BIT_PERTURBED = 252;

    address private immutable _deployer;
    address private _taskManager;

    mapping(uint256 taskId => bytes32 digest) private _initial;
    mapping(uint256 taskId => bytes32 digest) private _final;
    mapping(uint256 taskId => bytes32 digest) private _perturbed;
    mapping(uint256 taskId => bytes32 requestKey) private _requestKey;
    mapping(uint256 taskId => uint256 bits) private _codecBits;
    mapping(uint256 taskId => mapping(uint256 round => bytes32 digest)) private _rounds;
    mapping(bytes32 requestKey => uint256 taskIdPlusOne) private _cache;

    constructor() {
        _deployer = msg.sender;
    }

    modifier onlyTaskManager() {
        if (msg.sender != _taskManager || msg.sender == address(0)) {
            revert ModelRegistryNotTaskManager(msg.sender);
        }
        _;
    }

    /// @inheritdoc IModelRegistry
    function setTaskManager(address taskManager_) external {
        if (msg.sender != _deployer) revert ModelRegistryNotDeployer(msg.sender);
        if (_taskManager != address(0)) revert ModelRegistryTaskManagerAlreadySet(_taskManager);
        if (taskManager_ == address(0)) revert ModelRegistryZeroTaskManager();
        _taskManager = taskManager_;
        emit TaskManagerSet(taskManager_);
    }

    /// @inheritdoc IModelRegistry
    function recordInitialModel(uint256 taskId, bytes32 digest, uint8 codec, bytes32 requestKey)
        external
        onlyTaskManager
    {
        _initial[taskId] = digest;
        if (codec == _DAG_PB) _codecBits[taskId] |= uint256(1) << _BIT_INITIAL;
        if (requestKey != bytes32(0)) _requestKey[taskId] = requestKey;
        emit InitialModelRecorded(taskId, digest, codec, requestKey);
    }

    /// @inheritdoc IModelRegistry
    function recordRoundModel(uint256 taskId, uint256 round, bytes32 digest, uint8 codec)
        external
        onlyTaskManager
    {
        if (round >= _MAX_ROUNDS) revert ModelRegistryRoundOutOfRange(taskId, round);
        _rounds[taskId][round] = digest;
        if (codec == _DAG_PB) _codecBits[taskId] |= uint256(1) << round;
        emit RoundModelRecorded(taskId, round, digest, codec);
    }

    /// @inheritdoc IModelRegistry
    function recordFinalModel(uint256 taskId, bytes32 digest, uint8 codec)
        external
        onlyTaskManager
    {
        _final[taskId] = digest;
        if (codec == _DAG_PB) _codecBits[taskId] |= uint256(1) << _BIT_FINAL;
        emit FinalModelRecorded(taskId, digest, codec);
        bytes32 key = _requestKey[taskId];
        if (key != bytes32(0) && _cache[key] == 0) {
            _cache[key] = taskId + 1;
            emit RequestCached(key, taskId);
        }
    }

    /// @inheritdoc IModelRegistry
    function recordPerturbedModel(uint256 taskId, bytes32 digest, uint8 codec)
        external
        onlyTaskManager
    {
        if (digest == bytes32(0)) revert ModelRegistryZeroDigest(taskId);
        bytes32 previous = _perturbed[taskId];
        if (previous != bytes32(0)) revert ModelRegistryPerturbedModelExists(taskId, previous);
        _perturbed[taskId] = digest;
        uint256 bit = uint256(1) << _BIT_PERTURBED;
        _codecBits[taskId] = codec == _DAG_PB ? _codecBits[taskId] | bit : _codecBits[taskId] & ~bit;
        emit PerturbedModelRecorded(taskId, digest, codec);
    }

    /// @inheritdoc IModelRegistry
    function initialModel(uint256 taskId) external view returns (bytes32, uint8) {
        return (_initial[taskId], _codec(taskId, _BIT_INITIAL));
    }

    /// @inheritdoc IModelRegistry
    function roundModel(uint256 taskId, uint256 round) external view returns (bytes32, uint8) {
        if (round >= _MAX_ROUNDS) return (bytes32(0), 0);
        return (_rounds[taskId][round], _codec(taskId, round));
    }

    /// @inheritdoc IModelRegistry
    function finalModel(uint256 taskId) external view returns (bytes32, uint8) {
        return (_final[taskId], _codec(taskId, _BIT_FINAL));
    }

    /// @inheritdoc IModelRegistry
    function perturbedModel(uint256 taskId) external view returns (bytes32, uint8) {
        return (_perturbed[taskId], _codec(taskId, _BIT_PERTURBED));
    }

    /// @inheritdoc IModelRegistry
    function requestKeyOf(uint256 taskId) external view returns (bytes32) {
        return _requestKey[taskId];
    }

    /// @inheritdoc IModelRegistry
    function cachedModel(bytes32 requestKey)
        external
        view
        returns (uint256 taskId, bytes32 digest, uint8 codec)
    {
        uint256 plusOne = _cache[requestKey];
        if (plusOne == 0) return (0, bytes32(0), 0);
        taskId = plusOne - 1;
        if (_perturbed[taskId] != bytes32(0)) {
            return (taskId, _perturbed[taskId], _codec(taskId, _BIT_PERTURBED));
        }
        return (taskId, _final[taskId], _codec(taskId, _BIT_FINAL));
    }

    /// @inheritdoc IModelRegistry
    function taskManager() external view returns (address) {
        return _taskManager;
    }

    function _codec(uint256 taskId, uint256 bit) private view returns (uint8) {
        return (_codecBits[taskId] >> bit) & 1 == 1 ? _DAG_PB : _RAW;
    }
}
