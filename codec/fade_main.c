/* fade_main.c — the `fade` command (placeholder until the CLI lands). */
#include <stdio.h>
#include "codec/fade.h"
int main(void) { fprintf(stderr, "fade: not built yet\n"); return 2; }
