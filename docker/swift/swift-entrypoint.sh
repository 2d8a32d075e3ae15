#!/bin/sh
# Entrypoint wrapper for the openstackswift/saio image.
#
# The image ships TempAuth sample users with well-known keys (admin:admin, test:tester/testing, ...).
# Before handing over to the image's own init (s6-overlay's /init, which must stay PID 1), keep exactly
# one user, test:tester (account AUTH_test, .admin of it), whose key is $SWIFT_PASSWORD from .env.
# Idempotent: it runs again at every container start. The key must contain no whitespace.
set -eu

: "${SWIFT_PASSWORD:?SWIFT_PASSWORD must be set (see docker/.env.example)}"
tab="$(printf '\t')"
case "$SWIFT_PASSWORD" in
  *" "* | *"$tab"*)
    echo "swift-entrypoint: SWIFT_PASSWORD must not contain whitespace" >&2
    exit 1
    ;;
esac

conf=/etc/swift/proxy-server.conf
tmp="$(mktemp)"
# ENVIRON keeps the key out of awk's own escape processing (unlike -v).
awk '
  /^user_[A-Za-z0-9_]+[ \t]*=/ { next }
  { print }
  /^\[filter:tempauth\]/ { print "user_test_tester = " ENVIRON["SWIFT_PASSWORD"] " .admin" }
' "$conf" >"$tmp"
cat "$tmp" >"$conf"
rm -f "$tmp"

exec /init "$@"
