#!/bin/sh
# examples_check.sh BINDIR - examples/c work as their comments say: the
# echo server on a switch:// of its own, the client joining with vde://,
# every line echoed by a forked child of the server.
BIN=$1
T=$(mktemp -d /tmp/vdst-examples.XXXXXX) || exit 1
SPID=
# the server and its forked children form one process group (setsid), and
# go as one: a child whose client vanished would wait in recv() forever
cleanup() {
	if [ -n "$SPID" ]; then
		kill -TERM "-$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
setsid "$BIN/echo_server" "switch://$T/sw" 10.0.0.1 >"$T/server.log" 2>&1 &
SPID=$!
i=0
while ! grep -q '^echo server:' "$T/server.log" && [ $i -lt 100 ]; do
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
grep -q '^echo server:' "$T/server.log" || { echo "FAIL: the server did not start:"; cat "$T/server.log"; exit 1; }
out=$(timeout 30 "$BIN/echo_client" "vde://$T/sw" 10.0.0.1 10.0.0.2/24 "first line" "second; line" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: echo_client exited with $rc"; cat "$T/server.log"; exit 1; }
n=$(echo "$out" | grep -c -e '^back: first line$' -e '^back: second; line$')
[ "$n" -eq 2 ] || { echo "FAIL: the client did not print both lines back"; exit 1; }
printf 'hello from stdin\n' | timeout 30 "$BIN/echo_client" "vde://$T/sw" 10.0.0.1 10.0.0.3/24 |
	grep -qx 'back: hello from stdin' || { echo "FAIL: lines from stdin"; exit 1; }
sleep 0.2
cat "$T/server.log"
np=$(grep -o 'new conn [0-9]* pid [0-9]*' "$T/server.log" | awk '{print $5}' | sort -u | wc -l)
[ "$np" -eq 2 ] || { echo "FAIL: expected 2 connections served by 2 forked children, saw $np"; exit 1; }
echo "ok: both clients echoed, each connection served by its own child"
