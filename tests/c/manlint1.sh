#!/bin/sh
# manlint1.sh PAGE... - section 1 pages format with groff without a warning
# and have the sections of a command's manual.
command -v groff >/dev/null 2>&1 || { echo "FAIL: groff not found (apt-get install groff-base)"; exit 1; }
rc=0
for page in "$@"; do
	out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$out" ]; then
		echo "FAIL $page: groff warnings:"; echo "$out"; rc=1
	else
		echo "ok   $page formats cleanly"
	fi
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^\.SH \"\{0,1\}$sec\"\{0,1\}\$" "$page" || { echo "FAIL $page: no $sec section"; rc=1; }
	done
done
exit $rc
