// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IModelRegistry
/// @notice Digests of each task's models (M5) and the M3 request cache.
/// @dev A model reference is the 32-byte sha2-256 digest of the blob's IPFS CIDv1 multihash plus
///      the CID codec (0x55 raw for a single-chunk file, 0x70 dag-pb otherwise), enough to
///      rebuild the CID. Local model digests live in TaskManager's {UpdateSubmitted} events.
interface IModelRegistry {
    /// @notice Emitted when a task registers its initial model (and optional request key).
    event InitialModelRecorded(
        uint256 indexed taskId, bytes32 digest, uint8 codec, bytes32 indexed requestKey
    );
    /// @notice Emitted when a round's global model is finalized.
    event RoundModelRecorded(uint256 indexed taskId, uint256 indexed round, bytes32 digest, uint8 codec);
    /// @notice Emitted when a task's final global model is recorded.
    event FinalModelRecorded(uint256 indexed taskId, bytes32 digest, uint8 codec);
    /// @notice Emitted when the requester records the DP-perturbed final model (M4c).
    event PerturbedModelRecorded(uint256 indexed taskId, bytes32 digest, uint8 codec);
    /// @notice Emitted when a request key is answered by a finished task (M3 cache).
    event RequestCached(bytes32 indexed requestKey, uint256 indexed taskId);
    /// @notice Emitted once, when the deployer names the TaskManager.
    event TaskManagerSet(address indexed taskManager);

    /// @notice The caller is not the deployer allowed to set the TaskManager.
    error ModelRegistryNotDeployer(address caller);
    /// @notice The TaskManager was already set.
    error ModelRegistryTaskManagerAlreadySet(address taskManager);
    /// @notice The TaskManager address is zero.
    error ModelRegistryZeroTaskManager();
    /// @notice Only the TaskManager writes task entries.
    error ModelRegistryNotTaskManager(address caller);
    /// @notice The round number is beyond what the registry stores (rounds <= 250).
    error ModelRegistryRoundOutOfRange(uint256 taskId, uint256 round);
    /// @notice The task's perturbed model is recorded once: the model the request cache serves
    ///         must not change under the requests that already used it.
    error ModelRegistryPerturbedModelExists(uint256 taskId, bytes32 digest);
    /// @notice A perturbed model needs a non-zero digest (zero means "none published").
    error ModelRegistryZeroDigest(uint256 taskId);

    /// @notice Names the TaskManager. Once, by the deployer.
    /// @dev Emits a {TaskManagerSet} event.
    function setTaskManager(address taskManager) external;

    /// @notice Records a new task's initial model and its M3 request key (zero for none).
    /// @dev Only the TaskManager. Emits an {InitialModelRecorded} event.
    function recordInitialModel(uint256 taskId, bytes32 digest, uint8 codec, bytes32 requestKey)
        external;

    /// @notice Records round `round`'s finalized global model.
    /// @dev Only the TaskManager. Emits a {RoundModelRecorded} event.
    function recordRoundModel(uint256 taskId, uint256 round, bytes32 digest, uint8 codec) external;

    /// @notice Records the task's final model and answers its request key in the cache.
    /// @dev Only the TaskManager. Emits {FinalModelRecorded} and, for a new key, {RequestCached}.
    function recordFinalModel(uint256 taskId, bytes32 digest, uint8 codec) external;

    /// @notice Records the DP-perturbed final model the requester receives (M4c). Once per task,
    ///         with a non-zero digest.
    /// @dev Only the TaskManager. Emits a {PerturbedModelRecorded} event.
    function recordPerturbedModel(uint256 taskId, bytes32 digest, uint8 codec) external;

    /// @notice The task's initial model.
    function initialModel(uint256 taskId) external view returns (bytes32 digest, uint8 codec);

    /// @notice Round `round`'s finalized global model (zero digest if none).
    function roundModel(uint256 taskId, uint256 round)
        external
        view
        returns (bytes32 digest, uint8 codec);

    /// @notice The final global model (zero digest until the task finishes).
    function finalModel(uint256 taskId) external view returns (bytes32 digest, uint8 codec);

    /// @notice The DP-perturbed final model (zero digest if none was recorded).
    function perturbedModel(uint256 taskId) external view returns (bytes32 digest, uint8 codec);

    /// @notice The task's M3 request key as the cache files it, bound to the task's requester:
    ///         keccak256(abi.encode(requester, requestKey)) (zero for none).
    function requestKeyOf(uint256 taskId) external view returns (bytes32);

    /// @notice M3 cache: the first finished task that answered the bound `requestKey` (see
    ///         {requestKeyOf}) and the model to hand out (the perturbed final model when
    ///         recorded, else the final model); zeros if none.
    function cachedModel(bytes32 requestKey)
        external
        view
        returns (uint256 taskId, bytes32 digest, uint8 codec);

    /// @notice The TaskManager allowed to write (zero until set).
    function taskManager() external view returns (address);
}
