#!/usr/bin/env bash
# Installs what Hearth needs on Debian 12 (only what is missing) and builds it
# in ./build (or $BUILD_DIR). Used by both Quick start commands.
#
#   scripts/setup.sh [--tests] [MESON SETUP OPTIONS...]
#
# Without --tests: what building and running the gateway needs. With --tests:
# that, plus what the test suite drives (ffmpeg, curl, avahi-daemon, the
# Debian packaging tools, libc6-dbg for LeakSanitizer's suppressions, ...).
set -euo pipefail

cd "$(dirname "$0")/.."

with_tests=false
if [ "${1:-}" = "--tests" ]; then
  with_tests=true
  shift
fi

# Build and run: the compiler, the libraries' development files, and the
# GStreamer elements hearthd uses (rtspsrc, depayloaders, parsers, mp4mux,
# the decoders for snapshots; x264 and clockoverlay for the demo camera).
# sqlite3: the build makes the store's oldest-schema fixture with it.
PACKAGES=(
  meson ninja-build pkg-config gcc libc6-dev sqlite3
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-x
  libsoup-3.0-dev libxml2-dev glib-networking libgnutls28-dev libsqlite3-dev
  libjson-glib-dev libqrencode-dev libpng-dev
  libavahi-client-dev libavahi-glib-dev
)

# The test suite's real peers and tools (the browsers: e2e-viewer; wsdd, a
# WS-Discovery host that is not a camera: e2e-onvif-fake). libc6-dbg names the dynamic
# loader's frames, which tests/lsan.supp needs to match GLib's one
# allocation at load time (without it every sanitizer test fails). clang and
# its runtime libraries build the fuzz targets (libFuzzer).
TEST_PACKAGES=(
  python3 python3-cryptography gstreamer1.0-tools gnutls-bin openssl qrencode libnss3-tools
  avahi-daemon avahi-utils dbus wsdd
  ffmpeg curl iproute2 procps strace libc6-dbg
  debhelper dpkg-dev fakeroot lintian
  chromium firefox-esr
  clang libclang-rt-14-dev
)
# Node.js and npm run the npm `onvif` client (tests/onvif-client), the
# ONVIF client the project did not write. Debian's packages only where the
# commands are missing: a nodejs from elsewhere brings its own npm, which
# Debian's npm package would conflict with.
command -v node >/dev/null || TEST_PACKAGES+=(nodejs)
command -v npm >/dev/null || TEST_PACKAGES+=(npm)
$with_tests && PACKAGES+=("${TEST_PACKAGES[@]}")

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
  # wsdd's package starts its service under systemd, which would announce
  # this machine on the real network; the tests run their own in namespaces.
  if [[ " ${missing[*]} " == *" wsdd "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now wsdd.service || true
  fi
fi

# The npm onvif client, as pinned by its package-lock.json (again only when
# the lock changed since the last install).
if $with_tests; then
  client=tests/onvif-client
  if ! cmp -s "$client/package-lock.json" "$client/node_modules/.package-lock.json.installed"; then
    # Node trusts its own CA list; the system's too (a proxy's CA that
    # the machine trusts, as apt's downloads do).
    ca=/etc/ssl/certs/ca-certificates.crt
    [ -n "${NODE_EXTRA_CA_CERTS:-}" ] || [ ! -f "$ca" ] || export NODE_EXTRA_CA_CERTS=$ca
    (cd "$client" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
    cp "$client/package-lock.json" "$client/node_modules/.package-lock.json.installed"
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$@"
fi
ninja -C "$BUILD_DIR"
