#ifndef FLOTILLA_CSUPPORT_H
#define FLOTILLA_CSUPPORT_H

/// A pipe whose two ends are close-on-exec from the start (glibc's pipe2, which Swift's Glibc
/// module does not show): no concurrently spawned process can inherit it.
int flotilla_pipe_cloexec(int fds[2]);

#endif
