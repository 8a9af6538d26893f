/* fadefs_main.c — the `fadefs` command (placeholder until the mount lands). */
#include <stdio.h>
int main(void) { fprintf(stderr, "fadefs: not built yet\n"); return 2; }
