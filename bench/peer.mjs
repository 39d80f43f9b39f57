// The peer in `make bench`: the same getUser through @readme/api-core 7, the
// core of the JavaScript SDK that ReadMe's `api` tool generates from Basiq's
// definitions.
//   node bench/peer.mjs <core.json> <server url>
// prints "ready" after a 3 s warm-up, then for each line "get N" on stdin makes
// N calls and prints the seconds they took, until "quit".
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import APICore from '@readme/api-core';

const [definitionPath, server] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(server)) throw new Error('the bench only talks to loopback');
// api-core only picks among the definition's own servers (setServer with any
// other URL falls back to the first), so the local server goes in the document.
const definition = JSON.parse(readFileSync(definitionPath, 'utf8'));
definition.servers = [{ url: server }];
for (const item of Object.values(definition.paths)) {
  delete item.servers;
  for (const op of Object.values(item)) if (op && typeof op === 'object') delete op.servers;
}
const core = new APICore(definition, 'basiq-bench/1.0');
core.setServer(server);
core.setAuth('token');

const getUser = async () => {
  const res = await core.fetch('/users/{userId}', 'get', { userId: 'ea3a81' });
  if (res.status !== 200 || res.data.id !== 'ea3a81') throw new Error(`unexpected answer ${res.status}`);
};
// Warm up for 3 s: V8's optimising tier takes thousands of calls to settle
// (after 200, the first rounds still ran at half the later speed).
for (const until = Date.now() + 3000; Date.now() < until;) await getUser();
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'quit') process.exit(0);
  const m = /^get (\d+)$/.exec(line);
  if (!m) throw new Error(`unknown command: ${line}`);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < Number(m[1]); i++) await getUser();
  console.log(Number(process.hrtime.bigint() - t0) / 1e9);
}
