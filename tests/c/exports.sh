#!/bin/sh
# exports.sh LIBRARY - the shared library exports exactly the public calls
# (vdestack.h, the original's vde_stack_onecmd, the socket() and
# getaddrinfo() interposers).
lib=$1
allowed="socket vde_addstack vde_default_stack vde_delstack vde_msocket vde_stack_onecmd vde_stackcmd vdestack_cmdv vdestack_cmdve vdestack_stats vdestack_version"
allowed="$allowed vdestack_link_set vdestack_addr_add vdestack_addr_del vdestack_route_add vdestack_route_del"
allowed="$allowed vdestack_links vdestack_addrs vdestack_routes vdestack_config vdestack_addif"
allowed="$allowed getaddrinfo vdestack_getaddrinfo vdestack_freeaddrinfo vdestack_resolvconf"
allowed="$allowed vdestack_spawn vdestack_netns"
command -v nm >/dev/null 2>&1 || { echo "FAIL: nm not found (binutils)"; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWwDdBbVviR]$/ {print $3}' | sed 's/@.*//' | sort -u)
[ -n "$syms" ] || { echo "FAIL: no dynamic symbols in $lib"; exit 1; }
rc=0
for s in $syms; do
	case " $allowed " in
	*" $s "*) echo "ok   exported: $s" ;;
	*) echo "FAIL exported but not public: $s"; rc=1 ;;
	esac
done
for s in $allowed; do
	echo "$syms" | grep -qx "$s" || { echo "FAIL missing export: $s"; rc=1; }
done
soname=$(objdump -p "$lib" 2>/dev/null | awk '$1 == "SONAME" {print $2}')
if [ "$soname" = libvdestack.so.0 ]; then echo "ok   SONAME $soname"; else echo "FAIL SONAME '$soname' (want libvdestack.so.0)"; rc=1; fi
exit $rc
