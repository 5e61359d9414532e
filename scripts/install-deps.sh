#!/bin/sh
# Installs the Debian packages Gregor needs to build, run and test, only if
# something is missing (so `make test` is quick on a machine that has them).
set -e
PKGS="build-essential clang libclang-rt-14-dev python3 python3-pytest \
      librdkafka-dev kcat python3-confluent-kafka python3-kafka \
      python3-snappy python3-lz4 python3-zstandard zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
