#!/bin/sh
# preseed/early_command, in the installer (busybox): the installer has read
# /preseed.cfg. The marker line goes to the console, the serial port with
# `spire iso gen --serial`, so an operator (or a test that boots the ISO)
# sees which node this image installs before anything is asked or written.
. /homeworld/node.env
echo "homeworld-installer: preseed loaded for $NODE_FQDN ($NODE_KIND)" >/dev/console
logger -t homeworld "preseed loaded for $NODE_FQDN ($NODE_KIND)"
