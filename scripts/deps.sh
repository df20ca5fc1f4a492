#!/bin/bash
# deps.sh - install the Debian/Ubuntu packages vdestack builds, tests and
# demonstrates with.  Installs only what is missing (dpkg-query first);
# as root with apt-get, else through sudo, else it prints the command.
#
# usage: scripts/deps.sh [--check]     (--check: only report, exit 1 if missing)
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config git	# C toolchain, CMake
	binutils groff-base			# nm (export check), groff (man page check)
	clang libclang-rt-dev			# libFuzzer targets (scripts/fuzz.sh)
	libvdeplug-dev vdeplug			# libvdeplug4 + plugins, vde_plug
	libc-ares-dev libmnl-dev		# name resolution; rtnetlink (nlconf.c, DHCP/SLAAC)
	radvd dnsmasq-base isc-dhcp-server	# real servers the DHCP/DNS tests run
	busybox iproute2			# commands run inside the stacks
	iperf3 iputils-ping			# interop tests: real programs in and out of stacks
	libvdestack0				# the original library, for the interop test
	procps util-linux passwd		# ps/pgrep, runuser, useradd
	python3-dev python3-venv		# the Python package and its tests
)

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PKGS[@]} packages are installed"
	exit 0
fi
echo "deps: missing packages: ${missing[*]}"
[ "${1:-}" = --check ] && exit 1

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "deps: not root and no sudo; as root, run:" >&2
	echo "    apt-get update && ${cmd[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" "${cmd[@]}"
echo "deps: installed ${missing[*]}"
