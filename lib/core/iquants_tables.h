/* SPDX-License-Identifier: MIT */
/* Constant tables of ggml's i-quants (lib/core/iquants_tables.c). */
#ifndef QNT_IQUANTS_TABLES_H
#define QNT_IQUANTS_TABLES_H

#include <stdint.h>

/* Grid points as level codes: element i of a point is level
 * (code >> (2*i)) & 3 (8-element grids) or (code >> (3*i)) & 7 (4-element
 * grids). The magnitudes of the levels, as the dequantizers multiply them:
 *   iq2_xxs, iq2_xs, iq2_s:  8, 25, 43
 *   iq1_s, iq1_m:           -1, 0, 1
 *   iq3_xxs:                 4, 12, 20, 28, 36, 44, 52, 62
 *   iq3_s:                   1, 3, 5, 7, 9, 11, 13, 15 */
extern const uint16_t qnt__iq2xxs_codes[256];
extern const uint16_t qnt__iq2xs_codes[512];
extern const uint16_t qnt__iq2s_codes[1024];
extern const uint16_t qnt__iq1s_codes[2048];
extern const uint16_t qnt__iq3xxs_codes[256];
extern const uint16_t qnt__iq3s_codes[512];

#endif
