// The peer: the same getUser through @readme/api-core 7, the core of the
// JavaScript SDK that ReadMe's `api` tool generates (and Basiq's docs use).
//   node bench/peer.mjs <core.json> <server url> <calls>  -> prints seconds
import { readFileSync } from 'node:fs';
import APICore from '@readme/api-core';

const [definitionPath, server, calls] = process.argv.slice(2);
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

const getUser = (metadata) => core.fetch('/users/{userId}', 'get', metadata);
for (let i = 0; i < 50; i++) await getUser({ userId: 'ea3a81' }); // warm up (JIT, connection)
const n = Number(calls);
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const res = await getUser({ userId: 'ea3a81' });
  if (res.status !== 200 || res.data.id !== 'ea3a81') throw new Error(`unexpected answer ${res.status}`);
}
console.log(Number(process.hrtime.bigint() - t0) / 1e9);
