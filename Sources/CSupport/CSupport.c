#define _GNU_SOURCE
#include <sys/prctl.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>
#include <malloc.h>
#include "CSupport.h"

int flotilla_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

void flotilla_limit_malloc_arenas(int arenas) {
    if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, arenas);
}

void flotilla_malloc_trim(void) {
    malloc_trim(0);
}

void flotilla_malloc_stats(size_t *in_use, size_t *from_system) {
    struct mallinfo2 info = mallinfo2();
    *in_use = info.uordblks + info.hblkhd;
    *from_system = info.arena + info.hblkhd;
}

void flotilla_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
