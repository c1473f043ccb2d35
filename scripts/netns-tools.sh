#!/usr/bin/env bash
# Makes sure the tools of the network-namespace tests are installed: ip (iproute2),
# nft (nftables), tcpdump (the session capture), and dnsmasq and hostapd (the audit
# Wi-Fi kit: dnsmasq serves a device for real, hostapd checks its file). Installs what is missing with apt-get when run as root, as
# on CI's clean machine; otherwise says what to install and fails.
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
command -v tcpdump >/dev/null 2>&1 || [ -x /usr/bin/tcpdump ] || missing+=(tcpdump)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v hostapd >/dev/null 2>&1 || [ -x /usr/sbin/hostapd ] || missing+=(hostapd)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "shekara: the live tests need ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "shekara: installing ${missing[*]} for the live tests" >&2
apt-get update -qq >&2 || { echo "shekara: apt-get update failed" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || { echo "shekara: apt-get install ${missing[*]} failed" >&2; exit 1; }
