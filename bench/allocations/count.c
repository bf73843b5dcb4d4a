// LD_PRELOAD counter of heap allocations, for bench/allocations/run.sh. Counts calls to the
// allocator's entry points in the whole process; SIGUSR2 writes the totals to
// $TOLLGATE_ALLOC_COUNTS (one line: malloc free calloc realloc aligned).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static unsigned long mallocs, frees, callocs, reallocs, aligned;
#define COUNT(n) __atomic_fetch_add(&(n), 1, __ATOMIC_RELAXED)

void *malloc(size_t size) { COUNT(mallocs); return __libc_malloc(size); }
void free(void *p) { if (p) COUNT(frees); __libc_free(p); }
void *calloc(size_t n, size_t size) { COUNT(callocs); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { COUNT(reallocs); return __libc_realloc(p, size); }
void *aligned_alloc(size_t a, size_t size) { COUNT(aligned); return __libc_memalign(a, size); }
void *memalign(size_t a, size_t size) { COUNT(aligned); return __libc_memalign(a, size); }
int posix_memalign(void **out, size_t a, size_t size) {
    COUNT(aligned);
    void *p = __libc_memalign(a, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static void dump(int sig) {
    (void)sig;
    const char *path = getenv("TOLLGATE_ALLOC_COUNTS");
    if (!path) return;
    char line[160];
    int n = snprintf(line, sizeof line, "%lu %lu %lu %lu %lu\n", mallocs, frees, callocs, reallocs, aligned);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { write(fd, line, n); close(fd); }
}

__attribute__((constructor)) static void install(void) { signal(SIGUSR2, dump); }
