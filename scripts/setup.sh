#!/usr/bin/env bash
# Installs what Hearth needs on Debian 12 (only what is missing) and builds it
# in ./build. Used by both Quick start commands.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
  meson ninja-build pkg-config gcc libc6-dev python3
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-tools gstreamer1.0-x
  libsoup-3.0-dev glib-networking libgnutls28-dev gnutls-bin libsqlite3-dev
  libjson-glib-dev libqrencode-dev libpng-dev qrencode
  libavahi-client-dev libavahi-glib-dev avahi-daemon avahi-utils dbus
  ffmpeg curl iproute2 procps strace
  sqlite3 debhelper dpkg-dev fakeroot lintian
  chromium firefox-esr libnss3-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  SUDO=
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$@"
fi
ninja -C "$BUILD_DIR"
