#!/usr/bin/env node
// Compile the demo contracts with the pinned npm `solc` and write the JSON artifacts that
// `session_studio_dev` deploys.
//
// Why a script and committed artifacts: `make dev` and the e2e tests must deploy the demo USDC
// and the price feed without a network download or a native solc, and a reviewer must be able
// to prove the committed bytecode came from the committed source. Same solc (package-lock),
// same settings, same source text => byte-identical artifacts (tests/devchain checks it).
//
// Usage: node scripts/build_contracts.mjs [--out DIR]   (default DIR: dev/session_studio_dev/_contracts)

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CONTRACTS = ["DemoUSDC", "MockAggregator", "DemoNFT", "MockGasPriceOracle"];

// cancun: every chain and tool we care about accepts it, and anvil 1.7 (default hardfork newer
// than cancun) runs it; a newer target would emit opcodes older nodes reject.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
};

function parseArgs(argv) {
  let out = join(repoRoot, "dev", "session_studio_dev", "_contracts");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") {
      if (i + 1 >= argv.length) throw new Error("--out needs a directory");
      out = resolve(argv[++i]);
    } else if (argv[i].startsWith("--out=")) {
      out = resolve(argv[i].slice("--out=".length));
    } else {
      throw new Error(`unknown argument: ${argv[i]} (usage: build_contracts.mjs [--out DIR])`);
    }
  }
  return { out };
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));

  // Source unit names are repo-relative so the metadata hash embedded in the bytecode does not
  // depend on where the repo is checked out.
  const sources = {};
  for (const name of CONTRACTS) {
    const unit = `contracts/${name}.sol`;
    sources[unit] = { content: readFileSync(join(repoRoot, unit), "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));

  const problems = output.errors ?? [];
  for (const p of problems) process.stderr.write(`${p.formattedMessage ?? p.message}\n`);
  if (problems.some((p) => p.severity === "error")) {
    process.stderr.write("solc reported errors; no artifacts written\n");
    process.exit(1);
  }

  mkdirSync(out, { recursive: true });
  const solcVersion = solc.version();
  for (const name of CONTRACTS) {
    const compiled = output.contracts[`contracts/${name}.sol`][name];
    // Key order is fixed here (insertion order) so the file is stable across runs.
    const artifact = {
      contractName: name,
      abi: compiled.abi,
      bytecode: `0x${compiled.evm.bytecode.object}`,
      solcVersion,
    };
    const path = join(out, `${name}.json`);
    writeFileSync(path, `${JSON.stringify(artifact, null, 2)}\n`);
    process.stdout.write(`wrote ${path}\n`);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`build_contracts: ${err.message}\n`);
  process.exit(1);
}
