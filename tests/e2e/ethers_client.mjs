// ethers v6 against the sidecar, exactly as a TypeScript agent would use it.
//
//   node tests/e2e/ethers_client.mjs <rpc_url> <token> <to> <amount> [options]
//
// <rpc_url>  the sidecar's /rpc/{chain}/{credential} URL (credential in the path), or the plain
//            /rpc/{chain} URL together with --bearer (a FetchRequest carrying the header)
// <token>    ERC-20 address; <amount> base units of it are transferred to <to>
// options:   --from ADDRESS      the session to sign as (default: the first of eth_accounts)
//            --eth-wei N         also send N wei of the native coin to <to> (default 0: skip)
//            --over-limit N      then try a transfer of N token units that the policy refuses
//            --bearer CREDENTIAL send the credential as an Authorization header
//
// Requests go through a FetchRequest either way, so the script can report the largest batch
// ethers put on the wire (`largestBatch`).
//
// Prints one JSON object on stdout; any unexpected failure exits 1 with the error on stderr.
// "ethers" resolves through the repo's node_modules (this file lives inside the repo).

import { Contract, FetchRequest, JsonRpcProvider, isError } from "ethers";

const ERC20_ABI = ["function transfer(address to, uint256 amount) returns (bool)"];

function parseArgs(argv) {
  const [rpcUrl, token, to, amount, ...rest] = argv;
  if (!rpcUrl || !token || !to || amount === undefined) {
    throw new Error("usage: ethers_client.mjs <rpc_url> <token> <to> <amount> [options]");
  }
  const options = { from: null, ethWei: 0n, overLimit: null, bearer: null };
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, value] = [rest[i], rest[i + 1]];
    if (value === undefined) throw new Error(`option ${flag} needs a value`);
    if (flag === "--from") options.from = value;
    else if (flag === "--eth-wei") options.ethWei = BigInt(value);
    else if (flag === "--over-limit") options.overLimit = BigInt(value);
    else if (flag === "--bearer") options.bearer = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return { rpcUrl, token, to, amount: BigInt(amount), ...options };
}

function receiptSummary(receipt) {
  return { hash: receipt.hash, status: receipt.status, blockNumber: receipt.blockNumber,
           from: receipt.from };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const endpoint = new FetchRequest(args.rpcUrl);
  if (args.bearer !== null) endpoint.setHeader("Authorization", `Bearer ${args.bearer}`);
  // Watch the wire: how many JSON-RPC calls ethers packed into one HTTP request.
  let largestBatch = 0;
  endpoint.preflightFunc = async (req) => {
    const body = JSON.parse(new TextDecoder().decode(req.body));
    largestBatch = Math.max(largestBatch, Array.isArray(body) ? body.length : 1);
    return req;
  };
  // Default options on purpose: ethers batches (batchMaxCount 100) and detects the network.
  const provider = new JsonRpcProvider(endpoint, undefined, { pollingInterval: 200 });
  try {
    const network = await provider.getNetwork();
    const accounts = await provider.send("eth_accounts", []);
    const signer = await provider.getSigner(args.from ?? accounts[0]);
    const out = { chainId: network.chainId.toString(), accounts, signer: signer.address };
    // Concurrent calls within ethers' 10 ms stall go out as one batch.
    const [blockNumber, balance, chainIdHex, again] = await Promise.all([
      provider.getBlockNumber(), provider.getBalance(signer.address),
      provider.send("eth_chainId", []), provider.send("eth_accounts", []),
    ]);
    out.concurrent = { blockNumber, balance: balance.toString(), chainIdHex, accounts: again };

    const usdc = new Contract(args.token, ERC20_ABI, signer);
    const tokenTx = await usdc.transfer(args.to, args.amount);
    out.token = receiptSummary(await tokenTx.wait());

    if (args.ethWei > 0n) {
      const ethTx = await signer.sendTransaction({ to: args.to, value: args.ethWei });
      out.eth = receiptSummary(await ethTx.wait());
    }

    if (args.overLimit !== null) {
      try {
        await usdc.transfer(args.to, args.overLimit);
        out.overLimit = { refused: false };
      } catch (error) {
        const rpcError = error?.info?.error ?? {};
        out.overLimit = {
          refused: true,
          code: error.code,
          isActionRejected: isError(error, "ACTION_REJECTED"),
          action: error.action ?? null,
          rpcCode: rpcError.code ?? null,
          rpcMessage: rpcError.message ?? null,
          reason: rpcError.data?.reason ?? null,
        };
      }
    }
    out.largestBatch = largestBatch;
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    provider.destroy();
  }
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  if (error?.info) process.stderr.write(`info: ${JSON.stringify(error.info)}\n`);
  process.exit(1);
});
