/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* fuzz_frame.c - every wire decoder (frames, envelopes, receipts, audit events, directories) on
 * arbitrary bytes: a message either unpacks and re-packs, or is refused; never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "egide/wire/egide_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int k = 0; k < EGIDE_WIRE__COUNT; k++) {
        void *m = NULL;
        if (egide_wire_unpack((egide_wire_kind)k, data, size, &m, NULL) == EGIDE_OK) {
            uint8_t *out = NULL;
            size_t len = 0;
            /* What unpacked validates, so it must pack again. */
            if (egide_wire_pack((egide_wire_kind)k, m, &out, &len) != EGIDE_OK)
                abort();
            free(out);
        }
        egide_wire_free((egide_wire_kind)k, m);
    }
    return 0;
}
