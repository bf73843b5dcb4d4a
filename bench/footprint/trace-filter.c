// Splits qemu-user's `-d in_asm,exec,nochain` log, read from stdin, into the translated code
// (every line that is not a "Trace" line, to <out>.asm) and, per phase, the address of every
// executed translation block (to <out>.<phase>.pcs). Phase 0 (startup) keeps no addresses; each
// SIGUSR1 starts the next phase. The startup log runs to tens of GB, so nothing of it is stored.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t phase = 0;
static void next_phase(int sig) { (void)sig; phase++; }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: trace-filter OUT_PREFIX < log\n"); return 2; }
    struct sigaction sa = {0};
    sa.sa_handler = next_phase;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s.asm", argv[1]);
    FILE *asm_out = fopen(path, "w");
    if (!asm_out) { perror(path); return 1; }
    FILE *pcs = NULL;
    int open_phase = 0;
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "Trace ", 6) != 0) { fputs(line, asm_out); continue; }
        int now = phase;
        if (now == 0) continue;
        if (now != open_phase) {
            if (pcs) fclose(pcs);
            snprintf(path, sizeof path, "%s.%d.pcs", argv[1], now);
            pcs = fopen(path, "w");
            if (!pcs) { perror(path); return 1; }
            open_phase = now;
        }
        // "Trace N: HOST [CSBASE/PC/FLAGS/CFLAGS] symbol": keep PC.
        char *p = strchr(line, '/');
        if (!p) continue;
        char *q = strchr(p + 1, '/');
        if (!q) continue;
        fwrite(p + 1, 1, (size_t)(q - p - 1), pcs);
        fputc('\n', pcs);
    }
    if (pcs) fclose(pcs);
    fclose(asm_out);
    return 0;
}
