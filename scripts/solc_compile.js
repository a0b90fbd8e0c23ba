// Standard-JSON in, standard-JSON out through the npm `solc` package (solcjs), fully offline.
// Usage: node scripts/solc_compile.js < input.json > output.json
// Imports are resolved against the current directory, then node_modules (e.g. @openzeppelin/...).
// Used by the Python tests to compile small test-only contracts at test time; the project's own
// contracts are compiled by Hardhat (`make compile`).
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const solc = require(path.join(root, "node_modules", "solc"));

function findImports(importPath) {
  const candidates = [
    path.resolve(process.cwd(), importPath),
    path.join(root, importPath),
    path.join(root, "node_modules", importPath),
  ];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
