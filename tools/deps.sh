#!/usr/bin/env bash
# Installs what building, testing and the demo need on a fresh Debian
# machine: Debian packages (only those missing) and Prism from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(lua5.4 liblua5.4-dev libhiredis-dev libhttp-parser-dev zlib1g-dev redis-server lua-nginx-redis lua5.3 liblua5.3-dev lua5.2 liblua5.2-dev lua5.1 liblua5.1-0-dev libcurl4-openssl-dev libssl-dev lua-cjson lua-busted lua-socket luarocks gcc make openssl
      luajit2 libluajit2-5.1-dev nginx-core libnginx-mod-http-lua curl
      valgrind clang libclang-rt-14-dev cppcheck lua-check lua-curl wrk lua-yaml lua-argparse)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# Prism, pinned in package-lock.json; reinstalled only when the lock changes.
if [ ! -x node_modules/.bin/prism ] || [ package-lock.json -nt node_modules/.stamp ]; then
  echo "deps: npm ci (Prism)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.stamp
fi
