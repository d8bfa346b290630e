/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* egide_cli.c - placeholder main, replaced below. */
int main(void) { return 0; }
