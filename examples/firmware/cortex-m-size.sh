#!/usr/bin/env bash
# Does relaypol's core build for a Cortex-M, and how large is it?  Not part
# of the test suite; needs arm-none-eabi-gcc and newlib (Debian:
# gcc-arm-none-eabi libnewlib-arm-none-eabi).  Usage, from the source root:
#   examples/firmware/cortex-m-size.sh [CPU...]      (default cortex-m4 cortex-m0)
#
# lib/addr.c includes <netinet/in.h> and <sys/socket.h> for
# relaypol_addr_from_sockaddr(); newlib has neither, so this script
# supplies the few lines an embedded IP stack (lwIP, ...) would.
set -eu
SRC=${SRC:-$(pwd)}
command -v arm-none-eabi-gcc >/dev/null || { echo "arm-none-eabi-gcc not installed"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/shim/netinet" "$T/shim/sys"
cat >"$T/shim/sys/socket.h" <<'H'
#pragma once
#include <stdint.h>
typedef uint16_t sa_family_t;
#define AF_INET 2
#define AF_INET6 10
struct sockaddr { sa_family_t sa_family; char sa_data[14]; };
H
cat >"$T/shim/netinet/in.h" <<'H'
#pragma once
#include <sys/socket.h>
struct in_addr { uint32_t s_addr; };
struct in6_addr { uint8_t s6_addr[16]; };
struct sockaddr_in { sa_family_t sin_family; uint16_t sin_port; struct in_addr sin_addr; char sin_zero[8]; };
struct sockaddr_in6 { sa_family_t sin6_family; uint16_t sin6_port; uint32_t sin6_flowinfo; struct in6_addr sin6_addr; uint32_t sin6_scope_id; };
H
# A minimal image: a fixed arena, the embedded 100-entry policy, decisions.
cat >"$T/main.c" <<'C'
#include <stddef.h>
#include <string.h>
#include <relaypol/relaypol.h>
#include "policy_100.h"
static _Alignas(8) unsigned char mem[112 * 1024];
static size_t top;
static void *bump(void *ud, void *p, size_t old, size_t n)
{
    (void)ud;
    if (n == 0)
        return NULL; /* a bump arena never frees */
    n = (n + 7) & ~(size_t)7;
    if (n > sizeof mem - top)
        return NULL;
    void *q = mem + top;
    top += n;
    if (p)
        memcpy(q, p, old < n ? old : n);
    return q;
}
int main(void)
{
    relaypol_load_options o;
    relaypol_load_options_init(&o);
    o.alloc = bump;
    relaypol_policy *p;
    if (relaypol_policy_load_string(firmware_policy, sizeof firmware_policy - 1,
                                    "fw", &o, &p, NULL) != RELAYPOL_OK)
        return 1;
    relaypol_request r;
    relaypol_request_init(&r);
    relaypol_addr_parse("10.7.3.4", &r.client);
    r.recipient = "<out@example.net>";
    r.recipient_len = strlen(r.recipient);
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_decide(p, &r, &d);
    int rc = d.verdict == RELAYPOL_RELAY ? 0 : 2;
    relaypol_policy_free(p); /* the reference count is atomic */
    return rc;
}
C
for cpu in "${@:-cortex-m4 cortex-m0}"; do
  for c in $cpu; do
    flags=(-std=c11 -mcpu="$c" -mthumb -Os -ffunction-sections -fdata-sections
           -DRELAYPOL_BUILDING -I"$SRC/include" -I"$SRC/lib" -isystem "$T/shim")
    objs=()
    for f in "$SRC"/lib/*.c; do
        o="$T/$c-$(basename "$f" .c).o"
        arm-none-eabi-gcc "${flags[@]}" -Wall -Wextra -c "$f" -o "$o"
        objs+=("$o")
    done
    echo "== $c: every lib/*.c compiles; objects before linking:"
    arm-none-eabi-size -t "${objs[@]}" | tail -1 | awk '{print "   text " $1 ", data " $2 ", bss " $3}'
    if arm-none-eabi-gcc "${flags[@]}" -I"$SRC/examples/firmware" "$T/main.c" "${objs[@]}" \
        --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections \
        -o "$T/$c.elf" 2>"$T/$c.err"; then
        echo "   linked image (newlib-nano, nosys):"
        arm-none-eabi-size "$T/$c.elf" | tail -1 | awk '{print "   text " $1 ", data " $2 ", bss " $3 " (bss includes the 112 KiB arena)"}'
        echo 'int main(void) { return 0; }' >"$T/empty.c"
        arm-none-eabi-gcc "${flags[@]}" "$T/empty.c" --specs=nano.specs --specs=nosys.specs \
            -Wl,--gc-sections -o "$T/$c-empty.elf"
        base=$(arm-none-eabi-size "$T/$c-empty.elf" | awk 'NR == 2 { print $1 }')
        full=$(arm-none-eabi-size "$T/$c.elf" | awk 'NR == 2 { print $1 }')
        echo "   relaypol's share of the flash (text over an empty main): $((full - base)) bytes"
    else
        echo "   does not link:"
        grep -E 'undefined reference' "$T/$c.err" | sed 's/.*undefined/   undefined/' | sort -u | head
    fi
  done
done
