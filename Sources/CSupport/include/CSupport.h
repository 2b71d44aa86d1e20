#ifndef FLOTILLA_CSUPPORT_H
#define FLOTILLA_CSUPPORT_H

/// A pipe whose two ends are close-on-exec from the start (glibc's pipe2, which Swift's Glibc
/// module does not show): no concurrently spawned process can inherit it.
int flotilla_pipe_cloexec(int fds[2]);

#include <stddef.h>

/// Returns the free pages of every malloc arena to the system (glibc's malloc_trim).
void flotilla_malloc_trim(void);

/// glibc's heap figures (mallinfo2): bytes allocated and in use, and bytes taken from the system.
void flotilla_malloc_stats(size_t *in_use, size_t *from_system);

/// Caps glibc's malloc arenas at `arenas` (M_ARENA_MAX), unless MALLOC_ARENA_MAX is set: with
/// the default (8 per core) each thread that allocates may get an arena of its own, and the
/// memory freed in one is not reused by another.
void flotilla_limit_malloc_arenas(int arenas);

/// Names the calling thread (the kernel's 15-character comm, as `top -H` and /proc show it).
void flotilla_set_thread_name(const char *name);

#endif
