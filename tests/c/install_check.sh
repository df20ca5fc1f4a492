#!/bin/sh
# install_check.sh BUILDDIR SRCDIR CC - install into a DESTDIR, check the
# installed files, build a program with `pkg-config --cflags --libs
# vdestack`, run it, build the consumer project tests/c/consumer (CMake:
# find_package(vdestack) and pkg_check_modules) against the DESTDIR and run
# its programs, then uninstall and check that nothing is left.
# The build tree's install_manifest.txt is saved and restored around it.
set -u
B=$1 S=$2 CC=${3:-cc}
T=$(mktemp -d /tmp/vdst-install.XXXXXX) || exit 1
M="$B/install_manifest.txt"
[ -f "$M" ] && cp -p "$M" "$T/manifest.saved"
rc=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; rc=1; }
cleanup() {
	if [ -f "$T/manifest.saved" ]; then cp -p "$T/manifest.saved" "$M"; else rm -f "$M"; fi
	rm -rf "$T"
}
trap cleanup EXIT

export DESTDIR="$T/root"
if cmake --install "$B" >"$T/install.log" 2>&1; then ok "cmake --install (DESTDIR=$DESTDIR)"; else
	bad "cmake --install"; cat "$T/install.log"; exit 1; fi
prefix=$(sed -n 's/^prefix=//p' "$B/vdestack.pc")
pc=$(find "$DESTDIR" -name vdestack.pc)
hdr=$(find "$DESTDIR" -name vdestack.h)
lib=$(find "$DESTDIR" -name 'libvdestack.so.0')
[ -n "$pc" ] && ok "installed $pc" || bad "no vdestack.pc installed"
[ -n "$hdr" ] && ok "installed $hdr" || bad "no vdestack.h installed"
[ -n "$lib" ] && ok "installed $lib" || bad "no libvdestack.so.0 installed"
for p in libvdestack vde_addstack vde_delstack vde_default_stack vde_stackcmd vde_msocket \
		vdestack_stats vdestack_cmdv vdestack_config vdestack_link_set vdestack_addr_add \
		vdestack_addr_del vdestack_route_add vdestack_route_del vdestack_links vdestack_addrs \
		vdestack_routes vdestack_addif vdestack_spawn vdestack_netns; do
	f=$(find "$DESTDIR" -path "*/man3/$p.3")
	[ -n "$f" ] && ok "man page $p.3" || bad "man page $p.3 not installed"
done
f=$(find "$DESTDIR" -path "*/man1/vdestack.1")
[ -n "$f" ] && ok "man page vdestack.1" || bad "man page vdestack.1 not installed"
grep -q '^Requires' "$pc" && bad "vdestack.pc has a Requires: line (packages without .pc break it)"

# pkg-config works and a program builds and runs with what it says
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR=
flags=$(pkg-config --define-variable=prefix="$DESTDIR$prefix" --cflags --libs vdestack 2>"$T/pc.err")
if [ $? -eq 0 ]; then ok "pkg-config --cflags --libs vdestack: $flags"; else
	bad "pkg-config --cflags --libs vdestack: $(cat "$T/pc.err")"; fi
pkg-config --define-variable=prefix="$DESTDIR$prefix" --static --libs vdestack >/dev/null 2>&1 &&
	ok "pkg-config --static --libs vdestack" || bad "pkg-config --static --libs vdestack"
cat > "$T/prog.c" <<'CEOF'
#include <stdio.h>
#include <string.h>
#include <vdestack.h>
int main(void)
{
	struct vdestack *s = vde_addstack(NULL, NULL);
	int rc = s ? vde_stackcmd(s, "/bin/busybox true") : -1;
	printf("%s %d\n", vdestack_version(), rc);
	vde_delstack(s);
	return rc;
}
CEOF
libdir=$(dirname "$lib")
# shellcheck disable=SC2086
if $CC -Wall -o "$T/prog" "$T/prog.c" $flags -Wl,-rpath,"$libdir" 2>"$T/cc.err"; then
	ok "a program builds with \$(pkg-config --cflags --libs vdestack)"
	out=$("$T/prog" 2>&1)
	[ "$out" = "$(sed -n 's/^Version: //p' "$pc") 0" ] && ok "and runs: $out" || bad "the program printed '$out'"
	ldd "$T/prog" | grep -q "$libdir/libvdestack.so.0" && ok "it uses the installed library" ||
		bad "it does not load $libdir/libvdestack.so.0: $(ldd "$T/prog" | grep vdestack)"
else
	bad "build with pkg-config flags failed: $(cat "$T/cc.err")"
fi
# the README example builds too
if [ -f "$S/examples/c/echo_server.c" ]; then
	# shellcheck disable=SC2086
	$CC -Wall -o "$T/echo_server" "$S/examples/c/echo_server.c" $flags 2>"$T/cc2.err" &&
		ok "examples/c/echo_server.c builds against the installed library" ||
		bad "examples/c/echo_server.c: $(cat "$T/cc2.err")"
fi

# CMake package configuration, used by a consumer project, and pkg-config
# used by the same project through CMake's FindPkgConfig
for f in vdestackConfig.cmake vdestackConfigVersion.cmake vdestackTargets.cmake; do
	found=$(find "$DESTDIR" -path "*/cmake/vdestack/$f")
	[ -n "$found" ] && ok "installed $found" || bad "no cmake/vdestack/$f installed"
done
if [ -f "$S/tests/c/consumer/CMakeLists.txt" ]; then
	if env PKG_CONFIG_SYSROOT_DIR="$DESTDIR" cmake -S "$S/tests/c/consumer" -B "$T/consumer" \
			-DCMAKE_C_COMPILER="$CC" -DCMAKE_PREFIX_PATH="$DESTDIR$prefix" \
			>"$T/consumer.log" 2>&1 &&
		env PKG_CONFIG_SYSROOT_DIR="$DESTDIR" cmake --build "$T/consumer" \
			>>"$T/consumer.log" 2>&1; then
		ok "tests/c/consumer configures and builds against the DESTDIR"
		grep -q "vdestack_DIR: $DESTDIR" "$T/consumer.log" &&
			ok "find_package(vdestack) found the installed package configuration" ||
			bad "find_package(vdestack) found another one: $(grep vdestack_DIR "$T/consumer.log")"
		if grep -iq "warning" "$T/consumer.log"; then
			bad "the consumer's configure/build warned: $(grep -i -A3 warning "$T/consumer.log")"
		fi
		for p in consumer_cmake consumer_pkgconfig; do
			out=$("$T/consumer/$p" 2>&1)
			[ "$out" = "ok $(sed -n 's/^Version: //p' "$pc")" ] && ok "$p runs: $out" ||
				bad "$p printed '$out'"
			ldd "$T/consumer/$p" | grep -q "$libdir/libvdestack.so.0" &&
				ok "$p uses the installed library" ||
				bad "$p does not load $libdir/libvdestack.so.0: $(ldd "$T/consumer/$p" | grep vdestack)"
		done
	else
		bad "tests/c/consumer: $(tail -30 "$T/consumer.log")"
	fi
else
	bad "no tests/c/consumer project in $S"
fi

# uninstall removes every installed file
if cmake -P "$B/Uninstall.cmake" >"$T/uninstall.log" 2>&1; then ok "uninstall"; else
	bad "uninstall: $(cat "$T/uninstall.log")"; fi
left=$(find "$DESTDIR" -type f -o -type l)
[ -z "$left" ] && ok "nothing left after uninstall" || bad "left after uninstall: $left"
exit $rc
