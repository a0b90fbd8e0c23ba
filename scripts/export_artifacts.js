// Exports ABI + bytecode of every FedChain contract from Hardhat's artifacts into
// fedchain/contracts/<Name>.json (or the directory given as the first argument), so that users of
// the Python package never need Node or solc. Exported: deployable contracts and the interfaces
// (with their NatSpec userdoc/devdoc, used as binding docstrings). Skipped: abstract building
// blocks, ABI-less internal libraries and OpenZeppelin sources.
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const artifactsDir = path.join(root, "build", "artifacts", "contracts");
const outDir = path.resolve(process.argv[2] || path.join(root, "fedchain", "contracts"));

function* walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith(".json") && !entry.name.endsWith(".dbg.json")) yield full;
  }
}

if (!fs.existsSync(artifactsDir)) {
  console.error(`no artifacts at ${artifactsDir}: run 'npx hardhat compile' first`);
  process.exit(1);
}

// NatSpec (userdoc/devdoc) lives in the compiler's metadata, which Hardhat keeps in build-info.
// Each artifact's .dbg.json names the build-info of its latest compilation; older build-info
// files may linger, so only that one is read.
const buildInfoCache = new Map();
function natspecOf(artifactFile, artifact) {
  const dbg = JSON.parse(fs.readFileSync(artifactFile.replace(/\.json$/, ".dbg.json"), "utf8"));
  const infoPath = path.resolve(path.dirname(artifactFile), dbg.buildInfo);
  if (!buildInfoCache.has(infoPath)) {
    buildInfoCache.set(infoPath, JSON.parse(fs.readFileSync(infoPath, "utf8")));
  }
  const out = buildInfoCache.get(infoPath).output.contracts[artifact.sourceName][artifact.contractName];
  const meta = JSON.parse(out.metadata);
  return { userdoc: meta.output.userdoc, devdoc: meta.output.devdoc };
}

fs.mkdirSync(outDir, { recursive: true });
const exported = [];
for (const file of walk(artifactsDir)) {
  const artifact = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!artifact.abi.length) continue; // internal libraries: nothing callable
  const isDeployable = artifact.bytecode !== "0x";
  const isInterface = artifact.sourceName.startsWith("contracts/interfaces/");
  if (!isDeployable && !isInterface) continue; // abstract building blocks of a deployed contract
  const doc = natspecOf(file, artifact);
  const out = {
    contractName: artifact.contractName,
    sourceName: artifact.sourceName,
    abi: artifact.abi,
    bytecode: artifact.bytecode,
    deployedBytecode: artifact.deployedBytecode,
    linkReferences: artifact.linkReferences,
    userdoc: doc.userdoc || {},
    devdoc: doc.devdoc || {},
  };
  const target = path.join(outDir, `${artifact.contractName}.json`);
  fs.writeFileSync(target, JSON.stringify(out, null, 2) + "\n");
  exported.push(artifact.contractName);
}
exported.sort();
console.log(`exported ${exported.length} artifacts to ${path.relative(root, outDir) || outDir}: ${exported.join(", ")}`);
