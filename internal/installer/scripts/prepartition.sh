#!/bin/sh
# partman/early_command, in the installer (busybox): install to the one
# disk that is not the installer's own medium. A machine with no other
# disk, or with several, stops here with a message rather than letting the
# installer guess which disk to erase.
set -e
. /usr/share/debconf/confmodule

fail() {
	echo "homeworld-installer: $*" >/dev/console
	logger -t homeworld "$*"
	exit 1
}

# The medium is the device labelled with the ISO's volume ID: a CD drive,
# or a USB stick (whole disk or its first partition) written with dd.
medium=
if [ -e /dev/disk/by-label/HOMEWORLD ]; then
	medium=$(basename "$(readlink -f /dev/disk/by-label/HOMEWORLD)")
	if [ -e "/sys/class/block/$medium/partition" ]; then
		medium=$(basename "$(readlink -f "/sys/class/block/$medium/..")")
	fi
fi

disks=
for d in $(list-devices disk); do
	[ "$d" = "/dev/$medium" ] && continue
	disks="$disks $d"
done
set -- $disks
case $# in
0) fail "no disk to install to (only the installer's medium, ${medium:-none}, was found)" ;;
1) ;;
*) fail "$# disks ($*): remove all but the one to erase and install to, then boot the installer again" ;;
esac
db_set partman-auto/disk "$1"
db_set grub-installer/bootdev "$1"
logger -t homeworld "installing to $1"
