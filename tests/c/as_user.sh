#!/bin/sh
# as_user.sh PROGRAM [ARGS...] - run a test program as the unprivileged test
# user (VDESTACK_TEST_USER, default vdstest) through runuser.  Needs root and
# the user; anything missing is a loud failure, never a silent skip.
user=${VDESTACK_TEST_USER:-vdstest}
die() {
	echo "as_user.sh: $*" >&2
	echo "as_user.sh: the unprivileged tests run from scripts/test.sh, which creates the user" \
		"and sets up /dev/net/tun (run it as root)" >&2
	exit 1
}
[ $# -ge 1 ] || die "usage: as_user.sh PROGRAM [ARGS...]"
[ "$(id -u)" = 0 ] || die "must run as root to switch to user '$user' (running as uid $(id -u))"
id -u "$user" >/dev/null 2>&1 ||
	die "user '$user' does not exist (useradd -M -s /usr/sbin/nologin $user)"
command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
runuser -u "$user" -- /bin/sh -c 'test -x "$1"' sh "$1" ||
	die "user '$user' cannot reach $1: build in a world-readable directory (scripts/test.sh builds under /tmp)"
runuser -u "$user" -- /bin/sh -c 'test -r /dev/net/tun && test -w /dev/net/tun' ||
	die "user '$user' cannot open /dev/net/tun ($(ls -l /dev/net/tun 2>&1)): chmod 0666 /dev/net/tun"
cd /tmp || die "cannot cd /tmp"
exec runuser -u "$user" -- "$@"
