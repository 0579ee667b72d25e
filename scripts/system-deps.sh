#!/bin/sh
# Installs the Debian packages the tests start for real, only when they are missing.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
have redis-server || need="$need redis-server"
have /usr/sbin/sshd || need="$need openssh-server"
have ssh-keygen || need="$need openssh-client"
have chromium || need="$need chromium"
have git || need="$need git"
have runuser || need="$need util-linux"
if [ -z "$need" ]; then
    exit 0
fi
echo "installing Debian packages:$need"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "missing packages:$need — install them as root (apt-get install$need)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $need
# The distribution starts these services on install; tests start their own on free ports.
for svc in postgresql redis-server ssh; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
