#!/bin/bash
# test.sh - the full test suite of vdestack (what CI runs through .ci/run).
#
# As root, from a clone (fresh Debian 12 is fine: it installs what it needs):
#   1. scripts/deps.sh: the system packages
#   2. the unprivileged test user (vdstest), /dev/net/tun mode 0666 and user
#      namespaces for unprivileged users, all restored at exit
#   3. builds the C library, tests and examples with -Werror in a
#      world-readable temp dir (the clone may be under /root, mode 0700)
#   4. ctest: every C test as root and as vdstest, the conformance programs
#      of ../shared/conformance as both, the build checks
#   5. scripts/sanitize.sh: the C library and C tests under ASan+UBSan and
#      under ThreadSanitizer, as root, zero reports (one check per test)
#   6. scripts/fuzz.sh: every libFuzzer target in fuzz/ for a short time
#      (VDESTACK_FUZZ_SECONDS, default 10 s each; one check per target)
#   7. the Python package: pip install from a read-only copy of the tree
#      (as vdstest); `python -m build` (sdist, then a wheel from the
#      sdist); the sdist checked complete; the wheel installed into a fresh
#      venv made from /usr/bin/python3; its tests (tests/python) run
#      against it as root and as vdstest
# Ends with "summary: N passed, N failed"; exit status 0 only if all passed.
#
# env: VDESTACK_TEST_USER (vdstest)  KEEP_WORK=1 keeps the temp dir
#      VDESTACK_CONFORMANCE_DIR (default: ../shared/conformance beside this
#      checkout, or beside the local repository it was cloned from)
#      VDESTACK_SKIP_PYTHON=1 runs only the C part (for C development)
#      VDESTACK_SKIP_SANITIZE=1, VDESTACK_SKIP_FUZZ=1 skip those parts
#      (development only: a skipped part counts as a failure)
set -uo pipefail
umask 022

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_USER=${VDESTACK_TEST_USER:-vdstest}
JOBS=$(nproc 2>/dev/null || echo 2)
T0=$(date +%s)

PASSED=0 FAILED=0
PROBLEMS=()
RESTORE=()
WORK=
INTERRUPTED=

say() { printf '\n==== test.sh: %s\n' "$*"; }
problem() { PROBLEMS+=("$*"); FAILED=$((FAILED + 1)); echo "test.sh: FAILED: $*"; }

summary() {
	local secs=$(($(date +%s) - T0))
	echo
	echo "==== test.sh: done in ${secs} s"
	for p in "${PROBLEMS[@]}"; do echo "  FAILED: $p"; done
	echo "summary: $PASSED passed, $FAILED failed"
}

# Anything the tests started that still runs is a leak: report, kill by pid.
# Everything the tests start carries VDESTACK_TEST_RUN=<work dir> in its
# environment (set on ctest and pytest only), so this run's leftovers are
# told apart from anything else on the machine, other test runs included.
run_pids() {	# live (non-zombie) processes of this run
	local d p
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		grep -qzx "VDESTACK_TEST_RUN=$WORK" "$d/environ" 2>/dev/null || continue
		[ "$(sed 's/.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && continue
		echo "$p"
	done
}
leftovers() {
	local pids i
	[ -n "$WORK" ] || return 0
	# processes that are on their way out get two seconds
	for i in $(seq 20); do
		pids=$(run_pids | tr '\n' ' ')
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	pids=${pids% }
	echo "test.sh: processes started by the tests are still running:"
	ps -o pid,ppid,user,etime,args -p "${pids// /,}" 2>/dev/null | sed 's/^/    /'
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	return 1
}

cleanup() {
	local i
	# after an interruption: stop what this run started (by pid)
	[ -n "$INTERRUPTED" ] && leftovers >/dev/null
	for ((i = ${#RESTORE[@]} - 1; i >= 0; i--)); do eval "${RESTORE[$i]}" 2>/dev/null; done
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ -n "${KEEP_WORK:-}" ]; then echo "test.sh: kept $WORK"; else rm -rf "$WORK"; fi
	fi
}
trap cleanup EXIT
trap 'INTERRUPTED=1; echo "test.sh: interrupted"; exit 130' INT TERM HUP

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: run it as root: it creates the user $TEST_USER, opens /dev/net/tun to it" \
		"and runs every test as root and as $TEST_USER" >&2
	exit 1
fi

# ------------------------------------------------------------------ setup --
say "system packages"
if ! bash "$ROOT/scripts/deps.sh"; then
	problem "scripts/deps.sh could not install the system packages"
	summary
	exit 1
fi

say "test user and device permissions"
if ! id -u "$TEST_USER" >/dev/null 2>&1; then
	useradd -M -s /usr/sbin/nologin "$TEST_USER" && echo "created user $TEST_USER" ||
		problem "useradd $TEST_USER"
fi
echo "user $TEST_USER: $(id "$TEST_USER" 2>&1)"

# /dev/net/tun: unprivileged stacks open it (Debian's default is 0666; some
# machines have 0600).  Set for the run, restore afterwards.
TUN=/dev/net/tun
if [ ! -e "$TUN" ]; then
	mkdir -p /dev/net && mknod -m 0600 "$TUN" c 10 200 && RESTORE+=("rm -f $TUN") ||
		problem "cannot create $TUN"
fi
if [ -e "$TUN" ]; then
	tun_mode=$(stat -c %a "$TUN")
	if [ "$tun_mode" != 666 ]; then
		chmod 0666 "$TUN" && RESTORE+=("chmod $tun_mode $TUN")
	fi
	echo "$TUN: mode 0666 for the run (was $tun_mode)"
fi

# user namespaces for unprivileged users (knobs of some kernels)
set_knob() {	# set_knob FILE VALUE-WANTED [only-if-equal-to]
	local f=/proc/sys/$1 old
	[ -e "$f" ] || return 0
	old=$(cat "$f")
	[ -n "${3:-}" ] && [ "$old" != "$3" ] && return 0
	[ "$old" = "$2" ] && return 0
	if echo "$2" > "$f" 2>/dev/null; then
		RESTORE+=("echo $old > $f")
		echo "$f: $2 for the run (was $old)"
	else
		echo "test.sh: warning: cannot set $f to $2 (is $old): unprivileged tests may fail"
	fi
}
set_knob kernel/unprivileged_userns_clone 1
set_knob kernel/apparmor_restrict_unprivileged_userns 0
set_knob user/max_user_namespaces 10000 0

WORK=$(mktemp -d /tmp/vdestack-test.XXXXXX) || { problem "mktemp"; summary; exit 1; }
chmod 755 "$WORK"
echo "work dir: $WORK"

# ----------------------------------------------------------------- C part --
# The conformance programs: $VDESTACK_CONFORMANCE_DIR, else ../shared beside
# this checkout, else beside the checkout this one was cloned from (a clone
# in /tmp of a local repository).
conformance_dir() {
	local origin
	if [ -n "${VDESTACK_CONFORMANCE_DIR:-}" ]; then
		echo "$VDESTACK_CONFORMANCE_DIR"
		return
	fi
	if [ -f "$ROOT/../shared/conformance/run.sh" ]; then
		echo "$ROOT/../shared/conformance"
		return
	fi
	origin=$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)
	origin=${origin#file://}
	if [ -n "$origin" ] && [ -f "$origin/../shared/conformance/run.sh" ]; then
		echo "$origin/../shared/conformance"
		return
	fi
	echo "$ROOT/../shared/conformance"	# missing: reported after ctest
}
CONF_DIR=$(conformance_dir)
echo "conformance programs: $CONF_DIR"

say "build (CMake, -Werror) in $WORK/build"
build_ok=1
if ! cmake -S "$ROOT" -B "$WORK/build" -DVDESTACK_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DVDESTACK_TEST_USER="$TEST_USER" -DVDESTACK_CONFORMANCE_DIR="$CONF_DIR"; then
	problem "cmake configure"
	build_ok=0
elif ! cmake --build "$WORK/build" -j "$JOBS"; then
	problem "C build (cmake --build)"
	build_ok=0
fi

if [ "$build_ok" = 1 ]; then
	say "C tests (ctest: root and $TEST_USER, conformance, build checks)"
	# -j: the tests use private scratch dirs, switches and namespaces
	(cd "$WORK/build" && env VDESTACK_TEST_RUN="$WORK" \
		ctest --output-on-failure --no-tests=error -j "$JOBS") 2>&1 |
		tee "$WORK/ctest.log"
	ctest_rc=${PIPESTATUS[0]}
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$WORK/ctest.log" | tail -1)
	if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		nf=${BASH_REMATCH[1]} nt=${BASH_REMATCH[2]}
		PASSED=$((PASSED + nt - nf))
		FAILED=$((FAILED + nf))
		[ "$nf" -gt 0 ] && PROBLEMS+=("ctest: $nf of $nt failed")
		[ "$nf" -eq 0 ] && [ "$ctest_rc" -ne 0 ] && problem "ctest exited with $ctest_rc"
	else
		problem "ctest ran no test or crashed (exit $ctest_rc)"
	fi
	if ! grep -q '^ *[0-9]*/[0-9]* Test *#[0-9]*: conformance ' "$WORK/ctest.log"; then
		problem "the conformance tests were not registered ($CONF_DIR missing? set VDESTACK_CONFORMANCE_DIR)"
	fi
fi

# ------------------------------------------------------ sanitizers, fuzzing --
run_counted() {	# run_counted LABEL COMMAND...: its "summary: N passed, N failed"
	local label=$1 log="$WORK/$1.log" t0=$(date +%s) rc line
	shift
	env VDESTACK_TEST_RUN="$WORK" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^summary: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		PASSED=$((PASSED + BASH_REMATCH[1]))
		FAILED=$((FAILED + BASH_REMATCH[2]))
		[ "${BASH_REMATCH[2]}" -gt 0 ] && PROBLEMS+=("$label: ${BASH_REMATCH[2]} failed")
		[ "${BASH_REMATCH[2]}" -eq 0 ] && [ "$rc" -ne 0 ] && problem "$label exited with $rc"
	else
		problem "$label ended without a summary (exit $rc)"
	fi
	echo "test.sh: $label took $(($(date +%s) - t0)) s"
}

if [ -n "${VDESTACK_SKIP_SANITIZE:-}" ]; then
	problem "the sanitizer builds were skipped (VDESTACK_SKIP_SANITIZE is set)"
else
	say "sanitizers: ASan+UBSan and TSan builds of the library and C tests"
	run_counted sanitize env SANITIZE_WORK="$WORK/sanitize" JOBS="$JOBS" \
		bash "$ROOT/scripts/sanitize.sh"
fi
if [ -n "${VDESTACK_SKIP_FUZZ:-}" ]; then
	problem "the fuzz targets were skipped (VDESTACK_SKIP_FUZZ is set)"
else
	say "fuzz targets, ${VDESTACK_FUZZ_SECONDS:-10} s each"
	run_counted fuzz env FUZZ_WORK="$WORK/fuzz" \
		bash "$ROOT/scripts/fuzz.sh" "${VDESTACK_FUZZ_SECONDS:-10}"
fi

# ------------------------------------------------------------ Python part --
run_pytest() {	# run_pytest LABEL [runuser prefix...]
	local label=$1 log="$WORK/pytest-$1.log" rc line n
	shift
	(cd "$WORK/pytests" && "$@" env VDESTACK_TEST_RUN="$WORK" PYTHONDONTWRITEBYTECODE=1 HOME="$WORK/home" \
		VDESTACK_EXAMPLES="$WORK/examples/python" \
		"$WORK/venv/bin/python" -m pytest -p no:cacheprovider \
		--basetemp "$WORK/home/pytest-$label" "$WORK/pytests") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^=+ .*( passed| failed| error| no tests ran).* in [0-9.]+s' "$log" | tail -1)
	n=0
	[[ $line =~ ([0-9]+)\ passed ]] && PASSED=$((PASSED + BASH_REMATCH[1])) && n=1
	if [[ $line =~ ([0-9]+)\ failed ]]; then
		FAILED=$((FAILED + BASH_REMATCH[1]))
		PROBLEMS+=("pytest ($label): ${BASH_REMATCH[1]} failed")
	fi
	if [[ $line =~ ([0-9]+)\ errors? ]]; then
		FAILED=$((FAILED + BASH_REMATCH[1]))
		PROBLEMS+=("pytest ($label): ${BASH_REMATCH[1]} errors")
	fi
	if [ "$n" = 0 ] && [ "$rc" -eq 0 ]; then
		problem "pytest ($label) ran no test"
	elif [ "$rc" -ne 0 ] && ! [[ $line =~ (failed|error) ]]; then
		problem "pytest ($label) exited with $rc"
	fi
}

# source_copy DIR: the files of a clone (tracked and new, not ignored) in
# DIR, owned by root and read-only to the test user: what a user builds from.
source_copy() {
	local dir=$1
	mkdir -p "$dir" || return 1
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$ROOT" ls-files -z -c -o --exclude-standard |
			tar -C "$ROOT" --null --ignore-failed-read -T - -cf - 2>/dev/null |
			tar -C "$dir" -xf -
	else
		tar -C "$ROOT" --exclude=./build --exclude='*.egg-info' -cf - . | tar -C "$dir" -xf -
	fi
}

# pip install from a checkout the user cannot write to (as $TEST_USER from
# the root-owned copy): it must build and leave the tree exactly as it was.
readonly_install_check() {
	local site="$WORK/home/ro-install" before after
	before=$(cd "$WORK/src" && find . -printf '%p %s %T@\n' | sort)
	if ! runuser -u "$TEST_USER" -- env HOME="$WORK/home" "$WORK/venv/bin/pip" install -q \
			--disable-pip-version-check --no-build-isolation --no-deps --target "$site" \
			"$WORK/src" >"$WORK/ro-install.log" 2>&1; then
		tail -20 "$WORK/ro-install.log"
		problem "pip install from a read-only checkout (as $TEST_USER)"
		return
	fi
	after=$(cd "$WORK/src" && find . -printf '%p %s %T@\n' | sort)
	if [ "$before" != "$after" ]; then
		diff <(echo "$before") <(echo "$after") | head -20
		problem "pip install wrote into the read-only checkout"
		return
	fi
	# the package built there works: bytes through a connection in a stack
	# (from /: python -c puts the current directory first on sys.path)
	if (cd / && runuser -u "$TEST_USER" -- env HOME="$WORK/home" PYTHONPATH="$site" \
			"$WORK/venv/bin/python" -c '
import vdestack
assert vdestack.__file__.startswith("'"$site"'/"), vdestack.__file__
with vdestack.Stack() as s, s.socket() as srv, s.socket() as c:
    srv.bind(("127.0.0.1", 0)); srv.listen(1); c.connect(srv.getsockname())
    conn, _ = srv.accept(); c.sendall(b"read-only"); assert conn.recv(9) == b"read-only"
    conn.close()
print("pip install from a read-only checkout: built, tree untouched, works")'); then
		PASSED=$((PASSED + 1))
	else
		problem "the package pip installed from a read-only checkout does not work"
	fi
}

# The sdist is a complete source release: every file of the clone is in it.
sdist_check() {
	local sdist
	sdist=$(ls "$WORK"/dist/vdestack-*.tar.gz 2>/dev/null | head -1)
	if [ -z "$sdist" ] || ! ls "$WORK"/dist/vdestack-*.whl >/dev/null 2>&1; then
		problem "python -m build made no sdist or no wheel: $(ls "$WORK/dist" 2>&1)"
		return 1
	fi
	if (cd "$ROOT" && git ls-files -c -o --exclude-standard 2>/dev/null) | "$WORK/venv/bin/python" -c '
import os, sys, tarfile
root, sdist = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as t:
    have = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
want = {f for f in sys.stdin.read().splitlines() if f and os.path.exists(os.path.join(root, f))}
missing = sorted(want - have - {".gitignore"})
if missing:
    sys.exit("the sdist lacks: " + " ".join(missing))
print(f"sdist complete: {len(want)} files of the clone, all in {os.path.basename(sdist)}")
' "$ROOT" "$sdist"; then
		PASSED=$((PASSED + 1))
		return 0
	fi
	problem "the sdist is not a complete source release"
	return 1
}

if [ -n "${VDESTACK_SKIP_PYTHON:-}" ]; then
	say "Python suite skipped (VDESTACK_SKIP_PYTHON)"
	problem "the Python suite was skipped (VDESTACK_SKIP_PYTHON is set)"
elif [ ! -f "$ROOT/setup.py" ] && [ ! -f "$ROOT/pyproject.toml" ]; then
	problem "no setup.py/pyproject.toml: the Python package cannot be built"
elif [ ! -d "$ROOT/tests/python" ]; then
	problem "no tests/python: the Python suite is missing"
else
	say "Python package: sdist and wheel (python -m build), the wheel in a fresh venv"
	py_ok=1
	mkdir -p "$WORK/home"	# HOME and pytest's tmp_path: gone with $WORK
	chown "$TEST_USER" "$WORK/home"
	if ! /usr/bin/python3 -m venv "$WORK/venv"; then
		problem "python3 -m venv"
		py_ok=0
	elif ! "$WORK/venv/bin/pip" install -q --disable-pip-version-check \
			-r "$ROOT/requirements-test.txt"; then
		problem "pip install -r requirements-test.txt"
		py_ok=0
	elif ! source_copy "$WORK/src"; then
		problem "copying the source tree to $WORK/src"
		py_ok=0
	else
		readonly_install_check
		if ! (cd "$WORK" && "$WORK/venv/bin/python" -m build --outdir "$WORK/dist" "$WORK/src") \
				>"$WORK/build.log" 2>&1; then
			tail -40 "$WORK/build.log"
			problem "python -m build (sdist, then the wheel from it)"
			py_ok=0
		elif ! sdist_check; then
			py_ok=0
		elif ! "$WORK/venv/bin/pip" install -q --disable-pip-version-check --no-deps \
				"$WORK"/dist/vdestack-*.whl; then
			problem "pip install of the wheel that python -m build made"
			py_ok=0
		else
			echo "installed $(cd "$WORK/dist" && ls vdestack-*.whl) into $WORK/venv"
		fi
	fi
	if [ "$py_ok" = 1 ]; then
		# copies the test user can read (the clone may be mode 0700)
		cp -r "$ROOT/tests/python" "$WORK/pytests"
		mkdir -p "$WORK/examples"
		[ -d "$ROOT/examples/python" ] && cp -r "$ROOT/examples/python" "$WORK/examples/python"
		say "Python tests as root (against the installed wheel)"
		run_pytest root
		say "Python tests as $TEST_USER"
		run_pytest "$TEST_USER" runuser -u "$TEST_USER" --
	fi
fi

# ---------------------------------------------------------------- the end --
if ! leftovers; then
	problem "the tests left processes running (killed)"
fi
summary
[ "$FAILED" -eq 0 ]
