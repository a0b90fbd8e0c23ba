// Exports ABI + bytecode of every FedChain contract from Hardhat's artifacts into
// fedchain/contracts/<Name>.json (or the directory given as the first argument), so that users of
// the Python package never need Node or solc. Interfaces, abstract contracts and OpenZeppelin
// sources are skipped; libraries and deployable contracts are exported.
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
fs.mkdirSync(outDir, { recursive: true });
const exported = [];
for (const file of walk(artifactsDir)) {
  const artifact = JSON.parse(fs.readFileSync(file, "utf8"));
  if (artifact.bytecode === "0x" && !artifact.abi.length) continue;
  const isDeployable = artifact.bytecode !== "0x";
  const isInterfaceWithAbi = !isDeployable && artifact.abi.length > 0;
  if (!isDeployable && !isInterfaceWithAbi) continue;
  const out = {
    contractName: artifact.contractName,
    sourceName: artifact.sourceName,
    abi: artifact.abi,
    bytecode: artifact.bytecode,
    deployedBytecode: artifact.deployedBytecode,
    linkReferences: artifact.linkReferences,
  };
  const target = path.join(outDir, `${artifact.contractName}.json`);
  fs.writeFileSync(target, JSON.stringify(out, null, 2) + "\n");
  exported.push(artifact.contractName);
}
exported.sort();
console.log(`exported ${exported.length} artifacts to ${path.relative(root, outDir) || outDir}: ${exported.join(", ")}`);
