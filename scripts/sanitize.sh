#!/bin/bash
# sanitize.sh - the C library and the C tests built with sanitizers and run
# as root: ASan+UBSan, then ThreadSanitizer.  Zero reports required: every
# report ends its program (halt_on_error, -fno-sanitize-recover) and is also
# written to a log file, so a report in a process whose exit status nobody
# looks at (the helper, a forked test body) still fails the run.
#
# usage: scripts/sanitize.sh [asan|tsan|all]     (as root; default all)
# env:   SANITIZE_WORK=dir (default: a temp dir, removed)  JOBS (nproc)
#        SANITIZE_TESTS=regex of ctest names (default: every C test program's)
#
# What runs: every CTest program of tests/c, as root (the .unpriv runs, the
# build checks, examples and conformance programs are the plain build's
# business).  Each mode takes about 20-30 s on 2 cores (build included).
#
# Ends with "summary: N passed, N failed" (one check per test and mode,
# plus one per mode for the report logs); exit status 0 only if all passed.
#
# How it copes with what the sanitizers refuse:
#  - libvdeplug loads its plugins with dlopen(RTLD_DEEPBIND), which ASan and
#    TSan refuse: scripts/nodeepbind.c, preloaded, drops the flag.  Being
#    preloaded it comes before the sanitizer runtime, hence
#    verify_asan_link_order=0.
#  - csrc/helper.c (and what it runs: pidns.c, keeper.c, nsjoin.c) is built
#    without ASan (CMakeLists.txt says why).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
MODES=${1:-all}
[ "$MODES" = all ] && MODES="asan tsan"
# every VT program's tests (prog.test), not the build checks, examples and
# conformance programs (not built with the sanitizers)
TESTS=${SANITIZE_TESTS:-'^[a-z0-9_]+\.[a-z0-9_]+$'}
NOT='^(build|examples|conformance)\.'


PASSED=0 FAILED=0
PROBLEMS=()
problem() { PROBLEMS+=("$*"); FAILED=$((FAILED + 1)); echo "sanitize.sh: FAILED: $*"; }

if [ -n "${SANITIZE_WORK:-}" ]; then
	W=$SANITIZE_WORK
	mkdir -p "$W"
else
	W=$(mktemp -d /tmp/vdestack-sanitize.XXXXXX) || exit 1
	trap 'rm -rf "$W"' EXIT
fi
chmod 755 "$W"

CC=${CC:-cc}
if ! $CC -shared -fPIC -O2 -o "$W/nodeepbind.so" "$ROOT/scripts/nodeepbind.c" -ldl; then
	echo "sanitize.sh: cannot build the preload shim"
	echo "summary: 0 passed, 1 failed"
	exit 1
fi

run_mode() {	# run_mode asan|tsan
	local mode=$1 san b rep t0 log line nf nt
	case $mode in
	asan) san=address,undefined ;;
	tsan) san=thread ;;
	*) problem "unknown mode $mode"; return ;;
	esac
	b="$W/build-$mode"
	rep="$W/reports-$mode"
	rm -rf "$rep"
	mkdir -p "$rep"
	chmod 1777 "$rep"
	t0=$(date +%s)
	echo "==== sanitize.sh: $mode: build ($san) in $b"
	if ! cmake -S "$ROOT" -B "$b" -DVDESTACK_SANITIZE="$san" -DVDESTACK_WERROR=ON \
			-DVDESTACK_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DVDESTACK_CONFORMANCE_DIR="$W/none" >"$W/cmake-$mode.log" 2>&1 ||
	   ! cmake --build "$b" -j "$JOBS" >>"$W/cmake-$mode.log" 2>&1; then
		tail -30 "$W/cmake-$mode.log"
		problem "$mode: build"
		return
	fi
	echo "==== sanitize.sh: $mode: ctest -L root -R '$TESTS' -E '$NOT'"
	log="$W/ctest-$mode.log"
	(cd "$b" && env LD_PRELOAD="$W/nodeepbind.so" \
		ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=66:detect_leaks=0:verify_asan_link_order=0:log_path=$rep/asan" \
		UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=66:log_path=$rep/ubsan" \
		TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$rep/tsan" \
		ctest --output-on-failure --no-tests=error -j "$JOBS" -L root -R "$TESTS" -E "$NOT") 2>&1 |
		tee "$log" |
		grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|FAIL|ERROR|Sanitizer'
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
	if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		nf=${BASH_REMATCH[1]} nt=${BASH_REMATCH[2]}
		PASSED=$((PASSED + nt - nf))
		FAILED=$((FAILED + nf))
		[ "$nf" -gt 0 ] && PROBLEMS+=("$mode: $nf of $nt tests failed")
	else
		problem "$mode: ctest ran no test"
	fi
	if compgen -G "$rep/*" >/dev/null; then
		for f in "$rep"/*; do
			echo "---- $f"
			head -60 "$f"
		done
		problem "$mode: sanitizer reports (above)"
	else
		PASSED=$((PASSED + 1))
		echo "==== sanitize.sh: $mode: no sanitizer report"
	fi
	echo "==== sanitize.sh: $mode: $(($(date +%s) - t0)) s"
}

for m in $MODES; do
	run_mode "$m"
done
for p in "${PROBLEMS[@]}"; do echo "  FAILED: $p"; done
echo "summary: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
