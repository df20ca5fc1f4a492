#!/bin/bash
# fuzz.sh - build every libFuzzer target fuzz/fuzz_*.c and run each for a
# bounded time; any crash, sanitizer report or failed build fails the run.
#
# usage: scripts/fuzz.sh [SECONDS]        (per target; default 15)
# env:   FUZZ_WORK=dir (default: a temp dir, removed; keep it to keep the
#        grown corpora and any crash input)   CC (default clang)
#        FUZZ_TARGETS="cmdline tso" (default: every fuzz/fuzz_*.c)
#
# Conventions for a target fuzz/fuzz_NAME.c:
#  - its first line lists the C files it links, relative to the repository:
#        // fuzz-sources: csrc/a.c csrc/b.c
#  - it is built with -I csrc -D_GNU_SOURCE and
#    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
#  - a seed corpus, if any, is fuzz/corpus/NAME/ (copied, never written)
#
# Longer runs: scripts/fuzz.sh 3600, or one target for as long as you like:
#   FUZZ_TARGETS=gro FUZZ_WORK=/tmp/fz scripts/fuzz.sh 86400
# and reproduce a crash with: /tmp/fz/fuzz_NAME /tmp/fz/crash-...
#
# Needs clang with libFuzzer (Debian: clang, libclang-rt-dev; scripts/deps.sh).
# Ends with "summary: N passed, N failed" (one check per target).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-15}
CC=${CC:-clang}
PASSED=0 FAILED=0
PROBLEMS=()
problem() { PROBLEMS+=("$*"); FAILED=$((FAILED + 1)); echo "fuzz.sh: FAILED: $*"; }

if [ -n "${FUZZ_WORK:-}" ]; then
	W=$FUZZ_WORK
	mkdir -p "$W"
else
	W=$(mktemp -d /tmp/vdestack-fuzz.XXXXXX) || exit 1
	trap 'rm -rf "$W"' EXIT
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
	TARGETS=()
	for t in $FUZZ_TARGETS; do TARGETS+=("$ROOT/fuzz/fuzz_$t.c"); done
else
	TARGETS=("$ROOT"/fuzz/fuzz_*.c)
fi

VDEPLUG_INC=
[ -f /usr/include/libvdeplug.h ] || VDEPLUG_INC="-I$(dirname "$(find /usr -name libvdeplug.h -print -quit 2>/dev/null)")"

for src in "${TARGETS[@]}"; do
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	if [ ! -f "$src" ]; then
		problem "$name: no such target ($src)"
		continue
	fi
	srcs=$(sed -n '1s|^// fuzz-sources:[[:space:]]*||p' "$src")
	if [ -z "$srcs" ]; then
		problem "$name: its first line is not '// fuzz-sources: csrc/...'"
		continue
	fi
	files=()
	for f in $srcs; do files+=("$ROOT/$f"); done
	echo "==== fuzz.sh: $name: build ($srcs)"
	# shellcheck disable=SC2086
	if ! $CC -g -O1 -D_GNU_SOURCE -I "$ROOT/csrc" $VDEPLUG_INC \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			-o "$W/$name" "$src" "${files[@]}" 2>"$W/$name.build.log"; then
		cat "$W/$name.build.log"
		problem "$name: build"
		continue
	fi
	corpus="$W/corpus-$short"
	mkdir -p "$corpus"
	[ -d "$ROOT/fuzz/corpus/$short" ] && cp -n "$ROOT/fuzz/corpus/$short/"* "$corpus/" 2>/dev/null
	echo "==== fuzz.sh: $name: ${SECS} s"
	# -fork=0: one process; crashes leave crash-* in $W
	(cd "$W" && "$W/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$W/$name-" "$corpus") \
		>"$W/$name.log" 2>&1
	rc=$?
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$W/$name.log" |
		sed 's/^/    /'
	if [ "$rc" -ne 0 ]; then
		grep -E -A40 'ERROR|runtime error|deadly signal|SUMMARY' "$W/$name.log" | head -60
		ls "$W/$name-"* 2>/dev/null | sed 's/^/    crash input: /'
		problem "$name: exit status $rc"
	else
		PASSED=$((PASSED + 1))
		echo "==== fuzz.sh: $name: no crash ($(ls "$corpus" | wc -l) inputs in the corpus)"
	fi
done
for p in "${PROBLEMS[@]}"; do echo "  FAILED: $p"; done
echo "summary: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
