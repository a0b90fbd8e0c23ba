// Hardhat 2 configuration: compiles fully offline with the npm `solc` package (solcjs).
// Stock Hardhat downloads a native solc build; this machine has no internet, so the
// TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD subtask is overridden to hand back the pinned soljson.js.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`FedChain pins solc ${SOLC_VERSION}; got a request for ${args.solcVersion}`);
  }
  const solcPackage = require("solc/package.json");
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`npm solc is ${solcPackage.version}; package.json must pin ${SOLC_VERSION}`);
  }
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solcPackage.version,
  };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
      viaIR: false,
    },
  },
  paths: {
    sources: "./contracts",
    artifacts: "./build/artifacts",
    cache: "./build/cache",
  },
};
