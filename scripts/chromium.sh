#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the dashboard's browser test
# (driven by Playwright with executable_path=/usr/bin/chromium; no browser is
# ever downloaded by Playwright). Installs it with apt-get when missing and
# this runs as root; otherwise says what to do. SHEKARA_NO_INSTALL=1: check only.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
say() { echo "shekara: $*" >&2; }
if [ "${SHEKARA_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "chromium is missing (the dashboard test needs it): apt-get install chromium"
    exit 1
fi
say "installing Debian's chromium for the dashboard test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { say "apt-get update failed"; exit 1; }
apt-get install -y -qq --no-install-recommends chromium >&2 || { say "apt-get install chromium failed"; exit 1; }
