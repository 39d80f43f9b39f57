#!/usr/bin/env bash
# make demo: the quick start against the real API when BASIQ_API_KEY is set,
# otherwise against a local Prism mock of Basiq's Core definition.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${BASIQ_API_KEY:-}" ]; then
  echo "demo: against the real Basiq API"
  exec lua5.4 examples/quickstart.lua
fi
port=$(lua5.4 -e 'local s=require("socket").bind("127.0.0.1",0); local _,p=s:getsockname(); s:close(); print(p)')
mkdir -p build
node_modules/.bin/prism mock -h 127.0.0.1 -p "$port" "$BASIQ_SPEC_DIR/core.json" > build/prism-demo.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$pid" 2>/dev/null || { cat build/prism-demo.log; exit 1; }
  sleep 0.2
done
echo "demo: against a local Prism mock of Basiq (http://127.0.0.1:$port); set BASIQ_API_KEY for the real API"
BASIQ_SERVER="http://127.0.0.1:$port" lua5.4 examples/quickstart.lua
