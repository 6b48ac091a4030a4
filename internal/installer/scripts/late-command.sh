#!/bin/sh
# preseed/late_command, in the installer (busybox): the system is installed
# in /target. Hand the installer's Homeworld files to it and finish inside
# it; in-target runs install.sh with the installer's debconf, so its token
# question shows on the installer's console.
set -e
dir=/var/lib/homeworld-installer
rm -rf "/target$dir"
mkdir -p "/target$dir"
cp -a /homeworld/. "/target$dir/"
in-target sh "$dir/install.sh"
rm -rf "/target$dir"
# The installer keeps every answer it was given and copies them into the
# installed system's /var/log/installer: the token goes from there.
debconf-set homeworld/asktoken "" 2>/dev/null || true
