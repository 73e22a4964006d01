#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine: npm packages now,
# and the Debian peers (ngtcp2) once interop tests exist.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
