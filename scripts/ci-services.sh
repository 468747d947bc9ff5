#!/usr/bin/env bash
# Makes sure the machine has what the test suite needs beyond npm packages:
# - Chromium (Debian's) for the HTML report screenshot test;
# - Redis and PostgreSQL on loopback for the scaled-mode tests (started if they are down);
# - Debian's docker-registry (distribution 2.8) and openssl for the OCI source tests (each test
#   starts its own registry on 127.0.0.1 with a temporary config; nothing is started here).
set -uo pipefail
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ci-services: installing ${need_apt[*]}"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null 2>&1 || echo "ci-services: apt-get install failed (tests that need it will say so)"
fi
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
exit 0
