#ifndef FLOTILLA_CLIBGIT2_SHIM_H
#define FLOTILLA_CLIBGIT2_SHIM_H
#include <git2.h>
#include <git2/sys/stream.h>
#include <git2/sys/transport.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/mempack.h>

/* The layout of libgit2's own socket stream (streams/socket.h, unchanged from 0.28 to 1.9). A
   standard stream registered with git_stream_register must begin exactly like it: libgit2 1.5's
   ssh transport reads the socket `s` of whatever stream git_socket_stream_new returned and hands
   it to libssh2. */
typedef struct {
    git_stream parent;
    char *host;
    char *port;
    int s;
} flotilla_socket_stream;

/* git_libgit2_opts is variadic and cannot be called from Swift: one wrapper per use. */
static inline int flotilla_git_set_ssl_cert_file(const char *file) {
    return git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, (const char *)0);
}

static inline int flotilla_git_disable_owner_validation(void) {
    return git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

static inline int flotilla_git_set_search_path_empty(int level) {
    return git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
}
/* A subtransport and its stream whose state is a Swift object (an unmanaged reference). */
typedef struct {
    git_smart_subtransport parent;
    void *state;
} flotilla_subtransport;

typedef struct {
    git_smart_subtransport_stream parent;
    void *state;
} flotilla_subtransport_stream;
#endif
