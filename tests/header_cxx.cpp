// The public header must compile as C++ (extern "C", no C-only syntax such
// as designated initialisers or implicit void* conversions) and link from a
// C++ program: servers written in C++ embed relaypol too.
//
// SPDX-License-Identifier: BSD-2-Clause
#include <relaypol/relaypol.h>

#include <cstdio>
#include <cstring>

int main()
{
    // Version: the header's macros and the linked library agree.
    if (std::strcmp(relaypol_version(), RELAYPOL_VERSION_STRING) != 0 ||
        relaypol_version_number() != RELAYPOL_VERSION_NUMBER) {
        std::printf("version mismatch: header %s, library %s\n",
                    RELAYPOL_VERSION_STRING, relaypol_version());
        return 1;
    }

    // The append-only structs are initialised by the library with their
    // size, which is what lets them grow later.
    relaypol_request req;
    relaypol_request_init(&req);
    relaypol_decision d;
    relaypol_decision_init(&d);
    relaypol_load_options opts;
    relaypol_load_options_init(&opts);
    if (req.size != sizeof req || d.size != sizeof d ||
        opts.size != sizeof opts) {
        std::printf("struct size not set by *_init\n");
        return 1;
    }

    // Enums and callbacks are usable from C++ without casts.
    relaypol_status st = relaypol_addr_parse("192.0.2.1", &req.client);
    relaypol_verdict v = RELAYPOL_DENY;
    relaypol_finding_fn fn = nullptr;
    relaypol_alloc_fn af = nullptr;
    (void)fn;
    (void)af;
    relaypol_policy_free(nullptr); // documented no-op
    std::printf("relaypol %s from C++: parse %s, verdict name %s\n",
                relaypol_version(), relaypol_strerror(st),
                relaypol_verdict_name(v));
    return st == RELAYPOL_OK ? 0 : 1;
}
