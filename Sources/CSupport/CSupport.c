#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "CSupport.h"

int flotilla_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
