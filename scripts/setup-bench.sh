#!/usr/bin/env bash
# Installs what the benchmark needs beyond the test setup: quiche through
# @matrixai/quic (a napi binding with prebuilt binaries). It is not a dev
# dependency because its lock entries for other platforms do not resolve,
# which breaks `npm ci`; the benchmark reports quiche rows as "not measured"
# when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -d node_modules/@matrixai/quic ]; then
  npm install --no-save --no-audit --no-fund @matrixai/quic@2.0.9
fi
