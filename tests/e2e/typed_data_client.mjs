// ethers v6 signing EIP-712 typed data through the sidecar, as a TypeScript agent would.
//
//   node tests/e2e/typed_data_client.mjs <rpc_url> <from> <payloads_json>
//
// <rpc_url>        the sidecar's /rpc/{chain}/{credential} URL (credential in the path)
// <from>           the session address to sign as (provider.getSigner(from))
// <payloads_json>  a JSON array of {domain, types, value}; `types` without EIP712Domain (ethers
//                  derives the domain type from the domain's keys)
//
// Each payload goes through `signer.signTypedData(domain, types, value)`. Prints one JSON
// object on stdout: {"results": [...]}, one entry per payload, either
//   {"signed": true, "signature": "0x..."} or
//   {"signed": false, "code", "isActionRejected", "action", "rpcCode", "rpcMessage", "reason"}.
// Any unexpected failure (not a signing refusal) exits 1 with the error on stderr.

import { JsonRpcProvider, isError } from "ethers";

async function main() {
  const [rpcUrl, from, payloadsJson] = process.argv.slice(2);
  if (!rpcUrl || !from || !payloadsJson) {
    throw new Error("usage: typed_data_client.mjs <rpc_url> <from> <payloads_json>");
  }
  // JSON has no bigints: numbers above 2**53 travel as decimal strings, which ethers accepts.
  const payloads = JSON.parse(payloadsJson);
  const provider = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: 200 });
  try {
    const signer = await provider.getSigner(from);
    const results = [];
    for (const { domain, types, value } of payloads) {
      try {
        const signature = await signer.signTypedData(domain, types, value);
        results.push({ signed: true, signature });
      } catch (error) {
        const rpcError = error?.info?.error;
        if (rpcError === undefined) throw error; // not an answer from the sidecar
        results.push({
          signed: false,
          code: error.code ?? null,
          isActionRejected: isError(error, "ACTION_REJECTED"),
          action: error.action ?? null,
          rpcCode: rpcError.code ?? null,
          rpcMessage: rpcError.message ?? null,
          reason: rpcError.data?.reason ?? null,
        });
      }
    }
    process.stdout.write(JSON.stringify({ signer: signer.address, results }) + "\n");
  } finally {
    provider.destroy();
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  if (error?.info) process.stderr.write(`info: ${JSON.stringify(error.info)}\n`);
  process.exit(1);
});
