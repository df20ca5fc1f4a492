#!/bin/sh
# manlint.sh PAGE... - every man page formats with groff without a warning
# and has the sections the project promises: a command's manual for
# section 1 pages (*.1), a library call's for the others.
command -v groff >/dev/null 2>&1 || { echo "FAIL: groff not found (apt-get install groff-base)"; exit 1; }
rc=0
for page in "$@"; do
	out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$out" ]; then
		echo "FAIL $page: groff warnings:"; echo "$out"; rc=1
	else
		echo "ok   $page formats cleanly"
	fi
	case "$page" in
	*.1)	secs='NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS|EXAMPLES|SEE ALSO' ;;
	*)	secs='NAME|SYNOPSIS|DESCRIPTION|RETURN VALUE|ERRORS|NOTES|EXAMPLE|SEE ALSO' ;;
	esac
	IFS='|'
	for sec in $secs; do
		grep -q "^\.SH \"\{0,1\}$sec\"\{0,1\}\$" "$page" || { echo "FAIL $page: no $sec section"; rc=1; }
	done
	unset IFS
done
exit $rc
