#!/bin/bash
# demo.sh - see vdestack work: the README's echo server and a client, each
# in a network stack of its own, on a local network the server's stack
# creates itself (an in-process switch://), then the Python demo.
#
# Needs nothing running and no network; installs its system packages
# (scripts/deps.sh), builds in a temp dir, cleans up after itself.
set -uo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=
SPID=

say() { printf '\n==== demo: %s\n' "$*"; }
# the server runs in a process group of its own (setsid) with the children it
# forks per connection: stopping it stops them all
stop_server() {
	if [ -n "$SPID" ]; then
		kill -TERM -- "-$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
		SPID=
	fi
}
cleanup() {
	stop_server
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

bash "$ROOT/scripts/deps.sh" || exit 1
if [ "$(id -u)" -ne 0 ] && ! [ -r /dev/net/tun -a -w /dev/net/tun ]; then
	echo "demo: /dev/net/tun is not usable by $(id -un): run as root, or chmod 0666 /dev/net/tun" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/vdestack-demo.XXXXXX) || exit 1
chmod 755 "$WORK"

say "building the C library and the examples in $WORK/build"
if ! cmake -S "$ROOT" -B "$WORK/build" -DVDESTACK_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
		>"$WORK/cmake.log" 2>&1 ||
	! cmake --build "$WORK/build" -j "$(nproc)" --target echo_server echo_client \
		>>"$WORK/cmake.log" 2>&1; then
	cat "$WORK/cmake.log"
	echo "demo: the build failed" >&2
	exit 1
fi
BIN=$WORK/build/examples
echo "built $BIN/echo_server and $BIN/echo_client against $(ls "$WORK"/build/libvdestack.so.0.*)"

SW=$WORK/sw
say "echo server: its own stack, 10.0.0.1, on the switch it creates (switch://$SW)"
setsid "$BIN/echo_server" "switch://$SW" 10.0.0.1 >"$WORK/server.log" 2>&1 &
SPID=$!
for _ in $(seq 100); do
	grep -q '^echo server:' "$WORK/server.log" 2>/dev/null && break
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.05
done
if ! grep -q '^echo server:' "$WORK/server.log"; then
	cat "$WORK/server.log"
	echo "demo: the echo server did not start" >&2
	exit 1
fi
sed 's/^/  server| /' "$WORK/server.log"

say "echo client: its own stack, 10.0.0.2, joins with vde://$SW"
"$BIN/echo_client" "vde://$SW" 10.0.0.1 10.0.0.2/24 \
	"hello from a private network stack" \
	"every byte went through two network namespaces" \
	"and a VDE switch living inside the server process" 2>&1 | sed 's/^/  client| /'
crc=${PIPESTATUS[0]}
sleep 0.3
say "what the server saw (one forked child per connection)"
sed 's/^/  server| /' "$WORK/server.log"
stop_server
if [ "$crc" -ne 0 ]; then
	echo "demo: the client did not get its lines back (exit $crc)" >&2
	exit 1
fi
echo "C demo: every line came back."

if [ -f "$ROOT/examples/python/demo.py" ]; then
	say "Python: building the vdestack package into a venv ($WORK/venv)"
	if ! /usr/bin/python3 -m venv "$WORK/venv" ||
		! "$WORK/venv/bin/pip" install -q --disable-pip-version-check \
			"Cython>=3" "setuptools>=77" wheel ||
		! "$WORK/venv/bin/pip" install -q --disable-pip-version-check \
			--no-build-isolation "$ROOT"; then
		echo "demo: building the Python package failed" >&2
		exit 1
	fi
	say "Python demo (examples/python/demo.py)"
	# run from the work dir: the source tree's vdestack/ must not shadow the package
	(cd "$WORK" && "$WORK/venv/bin/python" "$ROOT/examples/python/demo.py") || {
		echo "demo: the Python demo failed" >&2
		exit 1
	}
else
	say "no examples/python/demo.py yet: Python demo skipped"
fi
say "done; nothing left running, $WORK removed"
