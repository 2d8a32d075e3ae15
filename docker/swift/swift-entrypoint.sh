#!/bin/sh
# Entrypoint wrapper for the openstackswift/saio image.
#
# The image ships TempAuth sample users with well-known keys (admin:admin, test:tester/testing, ...).
# Before handing over to the image's own init (s6-overlay's /init, which must stay PID 1), keep exactly
# one user, test:tester (account AUTH_test, .admin of it), whose key is $SWIFT_PASSWORD from .env.
# Idempotent: it runs again at every container start. The key must contain no whitespace.
#
# Then the data lake's catalogue middleware (installed by docker/swift/Dockerfile) joins the proxy's pipeline
# just before the proxy app, after auth, copy, slo and dlo, with Swift's S3 API (s3api) before auth: every
# object written by any client, S3 ones included, is catalogued in $DATALAKE_CATALOG_URI.
set -eu

: "${SWIFT_PASSWORD:?SWIFT_PASSWORD must be set (see docker/.env.example)}"
: "${DATALAKE_CATALOG_URI:?DATALAKE_CATALOG_URI must be set (docker-compose.yml builds it from .env)}"
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

# The pipeline: s3api before the auth filter when the image has none, datalake_catalog before the last
# "proxy-logging proxy-server"; then the middleware's own section, written afresh at every start.
awk '
  /^\[filter:datalake_catalog\]/ { skip = 1; next }
  skip && /^\[/ { skip = 0 }
  skip { next }
  /^pipeline[ \t]*=/ {
    if ($0 !~ / s3api /) { sub(/ tempauth /, " s3api tempauth ") }
    if ($0 !~ / datalake_catalog /) { sub(/ proxy-logging proxy-server[ \t]*$/, " datalake_catalog proxy-logging proxy-server") }
  }
  { print }
' "$conf" >"$tmp"
cat "$tmp" >"$conf"
rm -f "$tmp"
grep -q '^\[filter:s3api\]' "$conf" || printf '\n[filter:s3api]\nuse = egg:swift#s3api\n' >>"$conf"
printf '\n[filter:datalake_catalog]\nuse = egg:datalake-catalog#datalake_catalog\ncatalog_database = datalake\nwatch = */*\nexclude = */datalake-quarantine\n' >>"$conf"
# The URI carries the catalog's password: it goes in through the environment, not the image.
printf 'catalog_uri = %s\n' "$DATALAKE_CATALOG_URI" >>"$conf"

exec /init "$@"
