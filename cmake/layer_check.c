/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* layer_check.c - empty: each egide_<layer>_check shared object is only its
 * layer's archive linked with --no-undefined (see CMakeLists.txt). */
int egide_layer_check_unit;
