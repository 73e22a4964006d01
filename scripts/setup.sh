#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine: the npm packages
# (which also builds the project), the interop peers from Debian (ngtcp2's
# example client and server) and tshark (the key-log decryption test).
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v gtlsserver >/dev/null 2>&1 && [ ! -x /usr/sbin/gtlsserver ] || [ ! -x /usr/bin/gtlsclient ]; then
  apt_install ngtcp2-client ngtcp2-server
fi
if ! command -v tshark >/dev/null 2>&1; then
  # wireshark-common asks whether non-root users may capture; the tests only read files, so answer no up front.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  apt_install tshark
fi
