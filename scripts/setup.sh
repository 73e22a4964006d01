#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine: the npm packages
# (which also builds the project) and the interop peers from Debian
# (ngtcp2's example client and server). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
if ! command -v gtlsserver >/dev/null 2>&1 && [ ! -x /usr/sbin/gtlsserver ] || [ ! -x /usr/bin/gtlsclient ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ngtcp2-client ngtcp2-server >/dev/null
fi
