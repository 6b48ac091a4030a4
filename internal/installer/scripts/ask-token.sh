#!/bin/sh
# Asks for the node's admission token (debconf, priority critical: the
# installer shows it even when preseeded), refusing until the keyclient
# accepts its typo checksum, and leaves it for the keyclient, 0600. The
# answer "manual" leaves the node to be admitted later over SSH.
set -e
. /usr/share/debconf/confmodule
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node.env"

db_x_loadtemplatefile "$here/templates" homeworld
db_subst homeworld/asktoken FQDN "$NODE_FQDN"
db_subst homeworld/asktoken HOST "$NODE_HOSTNAME"
while :; do
	db_fset homeworld/asktoken seen false
	db_input critical homeworld/asktoken || true
	db_go || true
	db_get homeworld/asktoken
	answer=$RET
	# The answer stays in no debconf database.
	db_set homeworld/asktoken ""
	if [ "$answer" = manual ]; then
		echo "homeworld: no token; admit $NODE_HOSTNAME later with 'spire setup node $NODE_HOSTNAME'" >&2
		exit 0
	fi
	if out=$(printf '%s\n' "$answer" | "$KEYCLIENT" check-token 2>&1); then
		break
	fi
	db_subst homeworld/invalid-token REASON "${out#keyclient: }"
	db_fset homeworld/invalid-token seen false
	db_input critical homeworld/invalid-token || true
	db_go || true
done
umask 077
mkdir -p "$(dirname "$TOKEN_FILE")"
printf '%s\n' "$out" >"$TOKEN_FILE.new"
mv "$TOKEN_FILE.new" "$TOKEN_FILE"
echo "homeworld: admission token accepted; the keyclient redeems it at the first boot" >&2
