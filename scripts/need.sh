#!/bin/sh
# Usage: sh scripts/need.sh COMMAND DEBIAN_PACKAGE...
# Does nothing when COMMAND is on the PATH; otherwise installs the Debian packages
# (as root, with apt-get) or says what to install.
set -eu
cmd=$1
shift
if command -v "$cmd" >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$cmd not found: apt-get install -y $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    command -v "$cmd" >/dev/null 2>&1 || { echo "$cmd still not found after installing $*" >&2; exit 1; }
else
    echo "$cmd not found. Install it (Debian/Ubuntu: sudo apt-get install $*) or point to it, e.g. make CHROMIUM=google-chrome" >&2
    exit 1
fi
