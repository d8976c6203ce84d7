#!/usr/bin/env bash
# Installs what bench/compare needs from Debian: Postfix (with smtp-source), Dovecot's IMAP and
# LMTP servers. Nothing is configured or started system-wide: the benchmarks run private
# instances from temporary directories. A policy-rc.d keeps the packages' services from starting
# during the install (removed again if we created it).
set -euo pipefail
need=()
for p in postfix dovecot-imapd dovecot-lmtpd; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
[ ${#need[@]} -eq 0 ] && { echo "bench/compare: postfix and dovecot already installed"; exit 0; }
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
created=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created=1
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
[ -n "$created" ] && rm -f /usr/sbin/policy-rc.d
echo "bench/compare: installed ${need[*]}"
