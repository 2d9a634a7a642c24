#!/bin/sh
# Usage: sh scripts/need.sh COMMAND DEBIAN_PACKAGE...  a command on the PATH (node, npm, chromium)
#        sh scripts/need.sh --python PYTHON            a Python 3.11-3.13 that can make a venv
# Does nothing when the prerequisite is there. Otherwise, as root where apt-get exists, it
# installs the Debian packages; anywhere else it stops with one line saying what to install.
set -eu

fail() {
    echo "$*" >&2
    exit 1
}

# Installs Debian packages when that is possible here (root, apt-get); else returns 1.
apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    echo "installing $* (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ "$1" = --python ]; then
    py=$2
    command -v "$py" >/dev/null 2>&1 && "$py" -c "" 2>/dev/null ||
        fail "$py not found (or it does not run): install Python 3.11, 3.12 or 3.13 with venv (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or name one: make PYTHON=python3.12"
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    case $ver in
    3.11 | 3.12 | 3.13) ;;
    3.[0-9] | 3.10 | 2.*)
        fail "$py is Python $ver; .venv needs 3.11, 3.12 or 3.13 (its tools are pinned in constraints.txt): make PYTHON=python3.12" ;;
    *) echo "warning: $py is Python $ver; constraints.txt is tested on 3.11 to 3.13" >&2 ;;
    esac
    # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own
    if ! "$py" -c "import ensurepip, venv" 2>/dev/null; then
        apt_install "python$ver-venv" 2>/dev/null || true
        "$py" -c "import ensurepip, venv" 2>/dev/null ||
            fail "$py cannot make a venv (no ensurepip): install python$ver-venv (Debian/Ubuntu: sudo apt-get install python$ver-venv)"
    fi
    exit 0
fi

cmd=$1
shift
case $cmd in
node | nodejs | npm) hint="or get Node.js 20 or newer from https://nodejs.org" ;;
*chrom*) hint="or name another Chromium or Chrome: make CHROMIUM=google-chrome" ;;
*) hint="" ;;
esac
if ! command -v "$cmd" >/dev/null 2>&1; then
    apt_install "$@" || fail "$cmd not found: install it (Debian/Ubuntu: sudo apt-get install $*)${hint:+ $hint}"
    command -v "$cmd" >/dev/null 2>&1 || fail "$cmd still not found after installing $*${hint:+; $hint}"
fi
if [ "$cmd" = node ]; then
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    [ "$major" -ge 20 ] 2>/dev/null ||
        echo "warning: node $(node --version 2>/dev/null) is older than Node.js 20, which the site is built with; if npm ci fails, get a newer one from https://nodejs.org" >&2
fi
