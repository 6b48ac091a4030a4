#!/bin/sh
# Finishes a node's installation from inside the installed system: the
# installer's late command runs it through in-target. It puts the cluster's
# public trust in place at the paths `spire setup` uses, installs the node's
# Homeworld packages from the cluster's signed apt branch, enables the
# node's units, and asks for the admission token that the keyclient redeems
# at the first boot. Safe to run again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node.env"
say() { echo "homeworld: $*" >&2; }
say "finishing $NODE_FQDN ($NODE_KIND)"

# Public files only: the keyserver's name and CA, the ssh-user CA, sshd's
# drop-in that trusts it, and the apt branch's keyring and sources entry.
(cd "$here/root" && find . -type f) | while read -r f; do
	install -D -m "$(stat -c %a "$here/root/$f")" "$here/root/$f" "/${f#./}"
done

# Names the node needs before cluster DNS runs; earlier such lines go.
grep -v 'AUTO-HOMEWORLD-BOOTSTRAP' /etc/hosts >/etc/hosts.homeworld || true
cat "$here/hosts" >>/etc/hosts.homeworld
mv /etc/hosts.homeworld /etc/hosts

if [ -z "$PACKAGES" ]; then
	say "this image names no apt branch: install the packages with 'spire infra install-packages', then admit the node with 'spire setup node $NODE_HOSTNAME'"
	exit 0
fi
say "installing $PACKAGES from $APT_URL"
apt-get update -q -o APT::Update::Error-Mode=any >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confold $PACKAGES >&2

for u in $DISPLACED; do
	if systemctl --quiet is-enabled "$u" 2>/dev/null; then
		systemctl disable --quiet "$u"
	fi
done
systemctl enable --quiet $UNITS

# What the console shows before login: which node this is and its SSH host
# keys, to compare with what spire pins.
grep -v '^homeworld:' /etc/issue >/etc/issue.homeworld || true
{
	echo "homeworld: $NODE_FQDN ($NODE_KIND)"
	for k in /etc/ssh/ssh_host_*_key.pub; do
		[ -e "$k" ] && echo "homeworld: $(ssh-keygen -l -f "$k")"
	done
	echo
} >>/etc/issue.homeworld
mv /etc/issue.homeworld /etc/issue

if [ "$ASK_TOKEN" = yes ]; then
	sh "$here/ask-token.sh"
fi
say "done; the node starts its services at the next boot"
