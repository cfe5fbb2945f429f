/* aio_protocol.c: the aiospec conformance protocol (docs/conformance-protocol.md) over the
 * system's POSIX AIO (<aio.h>).
 *
 * Reads one JSON request per line on stdin, performs it with aio_read / aio_write / aio_fsync /
 * lio_listio / aio_cancel / aio_error / aio_return / aio_suspend, and writes one JSON answer per
 * line on stdout.  Single-threaded: the harness sends one call at a time.  Requests are small
 * and produced by the harness, so the JSON reader below is deliberately tiny (objects, arrays,
 * strings without unicode escapes, integers, null, true, false).
 *
 * Protocol 2: an aiocb with "sigev": "SIGNAL" and a lio_listio with "sigev": "SIGNAL" are
 * submitted with SIGEV_SIGNAL, the real-time signal NOTE_SIG and sival_int = the aiocb's index
 * (>= 0) or -(lio + 1).  NOTE_SIG is blocked from the start (glibc's AIO threads block every
 * signal), so the signals stay queued on the process; before every answer, and at exit once
 * nothing is in progress, the queue is drained with sigtimedwait and each signal becomes an
 * event line {"event":"notify","aiocb":NAME} or {"event":"notify","lio":K}.  A reaped read
 * answers with "data": the hex of the bytes it read.
 *
 * Build: cc -O2 -o aio_protocol aio_protocol.c -lrt
 */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- a tiny JSON reader ------------------------------------------------------------------ */
enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct J {
    int t;
    long long n;
    char *s;
    int len;
    char **keys;
    struct J **vals;
} J;

static const char *P;
static int bad;

static void ws(void) { while (*P == ' ' || *P == '\t' || *P == '\r' || *P == '\n') P++; }

static J *jnew(int t) { J *j = calloc(1, sizeof *j); j->t = t; return j; }

static char *jstring(void) {
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    P++; /* opening quote */
    while (*P && *P != '"') {
        char c = *P++;
        if (c == '\\') {
            c = *P++;
            if (c == 'n') c = '\n'; else if (c == 't') c = '\t'; else if (c == '\0') { bad = 1; break; }
        }
        if (n + 2 > cap) s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    if (*P == '"') P++; else bad = 1;
    s[n] = 0;
    return s;
}

static J *jvalue(void) {
    ws();
    if (*P == '{' || *P == '[') {
        int obj = *P == '{';
        J *j = jnew(obj ? J_OBJ : J_ARR);
        P++;
        ws();
        while (*P && *P != (obj ? '}' : ']')) {
            j->vals = realloc(j->vals, sizeof(J *) * (j->len + 1));
            j->keys = realloc(j->keys, sizeof(char *) * (j->len + 1));
            j->keys[j->len] = NULL;
            if (obj) {
                if (*P != '"') { bad = 1; return j; }
                j->keys[j->len] = jstring();
                ws();
                if (*P++ != ':') { bad = 1; return j; }
            }
            j->vals[j->len++] = jvalue();
            ws();
            if (*P == ',') { P++; ws(); }
            else if (*P != (obj ? '}' : ']')) { bad = 1; return j; }
        }
        if (*P) P++; else bad = 1;
        return j;
    }
    if (*P == '"') { J *j = jnew(J_STR); j->s = jstring(); return j; }
    if (!strncmp(P, "null", 4)) { P += 4; return jnew(J_NULL); }
    if (!strncmp(P, "true", 4)) { P += 4; J *j = jnew(J_BOOL); j->n = 1; return j; }
    if (!strncmp(P, "false", 5)) { P += 5; return jnew(J_BOOL); }
    if (*P == '-' || (*P >= '0' && *P <= '9')) { J *j = jnew(J_NUM); j->n = strtoll(P, (char **)&P, 10); return j; }
    bad = 1;
    return jnew(J_NULL);
}

static void jfree(J *j) {
    if (!j) return;
    for (int i = 0; i < j->len; i++) { free(j->keys[i]); jfree(j->vals[i]); }
    free(j->keys); free(j->vals); free(j->s); free(j);
}

static J *get(J *o, const char *k) {
    if (!o || o->t != J_OBJ) return NULL;
    for (int i = 0; i < o->len; i++) if (!strcmp(o->keys[i], k)) return o->vals[i];
    return NULL;
}
static const char *str(J *o, const char *k) { J *v = get(o, k); return v && v->t == J_STR ? v->s : NULL; }
static long long num(J *o, const char *k, long long d) { J *v = get(o, k); return v && v->t == J_NUM ? v->n : d; }

/* ---- descriptors and aiocbs, by the scenario's names --------------------------------------- */
#define MAXN 64
static struct { char name[64]; int fd; char path[4096]; } fds[MAXN];
static int nfds;
static struct { char name[64]; struct aiocb cb; char *buf; size_t cap; int submitted; int is_read; } cbs[MAXN];
static int ncbs;
#define NOTE_SIG (SIGRTMIN + 1) /* the completion notification of SIGEV_SIGNAL requests and lists */
static sigset_t note_set;

static int fd_of(const char *name) {
    for (int i = 0; name && i < nfds; i++) if (!strcmp(fds[i].name, name)) return fds[i].fd;
    return -1; /* BADFD or unknown: a descriptor that is not open */
}

static int cb_index(const char *name) {
    for (int i = 0; i < ncbs; i++) if (!strcmp(cbs[i].name, name)) return i;
    if (ncbs == MAXN) return -1;
    memset(&cbs[ncbs], 0, sizeof cbs[ncbs]);
    snprintf(cbs[ncbs].name, sizeof cbs[ncbs].name, "%s", name);
    cbs[ncbs].cb.aio_fildes = -1;
    cbs[ncbs].cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    return ncbs++;
}

/* Fill an aiocb from a request (fields aiocb, fd, offset, nbytes, fill): NULL on a bad name. */
static struct aiocb *setup(J *r, int *idx) {
    const char *name = str(r, "aiocb");
    int i = name ? cb_index(name) : -1;
    if (i < 0) return NULL;
    size_t n = (size_t)num(r, "nbytes", 0);
    if (cbs[i].cap < n || !cbs[i].buf) {
        free(cbs[i].buf); /* only reached when the aiocb is not in flight, or the scenario misuses it */
        cbs[i].cap = n ? n : 1;
        cbs[i].buf = calloc(1, cbs[i].cap);
    }
    memset(cbs[i].buf, (int)num(r, "fill", 0), cbs[i].cap);
    struct aiocb *cb = &cbs[i].cb;
    cb->aio_fildes = fd_of(str(r, "fd"));
    cb->aio_offset = (off_t)num(r, "offset", 0);
    cb->aio_nbytes = n;
    cb->aio_buf = cbs[i].buf;
    memset(&cb->aio_sigevent, 0, sizeof cb->aio_sigevent);
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
    const char *sev = str(r, "sigev");
    if (sev && !strcmp(sev, "SIGNAL")) {
        cb->aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb->aio_sigevent.sigev_signo = NOTE_SIG;
        cb->aio_sigevent.sigev_value.sival_int = i;
    }
    if (idx) *idx = i;
    return cb;
}

/* Every notification queued so far, as event lines (before an answer: the harness counts them). */
static void drain_notes(void) {
    siginfo_t info;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&note_set, &info, &zero) > 0) {
        int v = info.si_value.sival_int;
        if (v >= 0 && v < ncbs) printf("{\"event\":\"notify\",\"aiocb\":\"%s\"}\n", cbs[v].name);
        else if (v < 0) printf("{\"event\":\"notify\",\"lio\":%d}\n", -v - 1);
    }
}

/* ---- answers --------------------------------------------------------------------------------- */
static const char *errname(int e) {
    switch (e) {
    case 0: return "0";
    case EBADF: return "EBADF"; case EINVAL: return "EINVAL"; case EAGAIN: return "EAGAIN";
    case EINPROGRESS: return "EINPROGRESS"; case ECANCELED: return "ECANCELED"; case EIO: return "EIO";
    case EINTR: return "EINTR"; case ENOSYS: return "ENOSYS"; case ENOMEM: return "ENOMEM";
    case EFBIG: return "EFBIG"; case ESPIPE: return "ESPIPE"; case EOVERFLOW: return "EOVERFLOW";
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case ENOSPC: return "ENOSPC";
    case EISDIR: return "EISDIR"; case ENOTSUP: return "EOPNOTSUPP";
    default: return NULL;
    }
}

static void say_errno(const char *key, int e) {
    const char *n = errname(e);
    if (n && e) printf("\"%s\":\"%s\"", key, n); else printf("\"%s\":%d", key, e);
}

static void answer(int err, const char *retval_json) {
    drain_notes();
    printf("{");
    say_errno("errno", err);
    printf(",\"retval\":%s}\n", retval_json ? retval_json : "null");
    fflush(stdout);
}

static struct timespec *timeout_of(J *r, struct timespec *ts) {
    J *t = get(r, "timeout");
    if (!t || t->t != J_OBJ) return NULL;
    ts->tv_sec = (time_t)num(t, "sec", 0);
    ts->tv_nsec = (long)num(t, "nsec", 0);
    return ts;
}

/* ---- the calls ------------------------------------------------------------------------------- */
static void do_request(J *r) {
    const char *op = str(r, "op");
    char buf[128];
    if (!op) { printf("{\"error\":\"no op\"}\n"); fflush(stdout); return; }
    if (!strcmp(op, "hello")) {
        printf("{\"protocol\":2,\"name\":\"aio_protocol.c (system <aio.h>)\",\"calls\":[\"aio_read\",\"aio_write\","
               "\"aio_fsync\",\"lio_listio\",\"aio_cancel\",\"aio_error\",\"aio_return\",\"aio_suspend\"],"
               "\"notifications\":[\"SIGNAL\"]}\n");
        fflush(stdout);
        return;
    }
    if (!strcmp(op, "open")) {
        const char *name = str(r, "fd"), *path = str(r, "path"), *kind = str(r, "kind");
        int flags = O_RDWR | (kind && !strcmp(kind, "pipe") ? O_NONBLOCK : 0);
        int fd = name && path && nfds < MAXN ? open(path, flags) : -1;
        if (fd < 0) { answer(errno ? errno : EINVAL, NULL); return; }
        snprintf(fds[nfds].name, sizeof fds[nfds].name, "%s", name);
        snprintf(fds[nfds].path, sizeof fds[nfds].path, "%s", path);
        fds[nfds++].fd = fd;
        answer(0, NULL);
        return;
    }
    if (!strcmp(op, "aiocb")) { /* fill a control block (no I/O): the scenario declares its aiocbs up front */
        answer(setup(r, NULL) ? 0 : EINVAL, NULL);
        return;
    }
    if (!strcmp(op, "aio_read") || !strcmp(op, "aio_write") || !strcmp(op, "aio_fsync")) {
        int i;
        struct aiocb *cb = setup(r, &i);
        if (!cb) { answer(EINVAL, NULL); return; }
        int rc;
        errno = 0;
        if (op[4] == 'r') rc = aio_read(cb);
        else if (op[4] == 'w') rc = aio_write(cb);
        else {
            const char *m = str(r, "mode");
            rc = aio_fsync(m && !strcmp(m, "O_DSYNC") ? O_DSYNC : O_SYNC, cb);
        }
        cbs[i].submitted = 1;
        cbs[i].is_read = op[4] == 'r';
        answer(rc == -1 ? errno : 0, NULL);
        return;
    }
    if (!strcmp(op, "lio_listio")) {
        J *list = get(r, "list");
        int n = list && list->t == J_ARR ? list->len : 0;
        struct aiocb *arr[MAXN + 1] = {0};
        for (int k = 0; k < n && k < MAXN; k++) {
            J *e = list->vals[k];
            if (e->t != J_OBJ) continue; /* null: a NULL pointer in the list */
            int i;
            struct aiocb *cb = setup(e, &i);
            if (!cb) continue;
            const char *oc = str(e, "opcode");
            cb->aio_lio_opcode = !oc ? -1 : !strcmp(oc, "LIO_READ") ? LIO_READ : !strcmp(oc, "LIO_WRITE") ? LIO_WRITE
                                 : !strcmp(oc, "LIO_NOP") ? LIO_NOP : 99;
            cbs[i].submitted = 1;
            cbs[i].is_read = cb->aio_lio_opcode == LIO_READ;
            arr[k] = cb;
        }
        const char *m = str(r, "mode");
        int mode = !m ? 77 : !strcmp(m, "LIO_WAIT") ? LIO_WAIT : !strcmp(m, "LIO_NOWAIT") ? LIO_NOWAIT : 77;
        struct sigevent sev, *sevp = NULL;
        const char *sn = str(r, "sigev");
        if (sn && !strcmp(sn, "SIGNAL")) { /* the list notification */
            memset(&sev, 0, sizeof sev);
            sev.sigev_notify = SIGEV_SIGNAL;
            sev.sigev_signo = NOTE_SIG;
            sev.sigev_value.sival_int = -(int)num(r, "lio", 0) - 1;
            sevp = &sev;
        }
        errno = 0;
        int rc = lio_listio(mode, arr, n, sevp);
        answer(rc == -1 ? errno : 0, NULL);
        return;
    }
    if (!strcmp(op, "aio_cancel")) {
        const char *name = str(r, "aiocb");
        struct aiocb *cb = NULL;
        if (name) { int i = cb_index(name); if (i >= 0) cb = &cbs[i].cb; }
        errno = 0;
        int rc = aio_cancel(fd_of(str(r, "fd")), cb);
        const char *v = rc == AIO_CANCELED ? "\"AIO_CANCELED\"" : rc == AIO_NOTCANCELED ? "\"AIO_NOTCANCELED\""
                        : rc == AIO_ALLDONE ? "\"AIO_ALLDONE\"" : NULL;
        if (rc == -1 || !v) answer(rc == -1 ? errno : EINVAL, NULL); else answer(0, v);
        return;
    }
    if (!strcmp(op, "aio_error") || !strcmp(op, "aio_return")) {
        int i = cb_index(str(r, "aiocb") ? str(r, "aiocb") : "");
        if (i < 0) { answer(EINVAL, NULL); return; }
        errno = 0;
        int e = aio_error(&cbs[i].cb);
        if (op[4] == 'e') {
            if (e == -1) e = errno; /* aio_error failed (EINVAL): reported as its value, as the ctypes adapter does */
            const char *n = errname(e);
            if (n && e) snprintf(buf, sizeof buf, "\"%s\"", n); else snprintf(buf, sizeof buf, "%d", e);
            answer(0, buf);
            return;
        }
        errno = 0;
        ssize_t rv = aio_return(&cbs[i].cb);
        /* aio_return does not set errno for a failed request: report the request's error, as
           FreeBSD's aio_return does; -1 with errno set means nothing was reaped. */
        if (rv == -1 && e > 0 && e != EINPROGRESS) { answer(e, "-1"); return; }
        if (rv == -1 && errno) { answer(errno, NULL); return; }
        if (rv >= 0 && cbs[i].is_read && (size_t)rv <= cbs[i].cap) { /* the bytes the read returned */
            drain_notes();
            printf("{\"errno\":0,\"retval\":%zd,\"data\":\"", rv);
            for (ssize_t b = 0; b < rv; b++) printf("%02x", (unsigned char)cbs[i].buf[b]);
            printf("\"}\n");
            fflush(stdout);
            return;
        }
        snprintf(buf, sizeof buf, "%zd", rv);
        answer(0, buf);
        return;
    }
    if (!strcmp(op, "aio_suspend")) {
        J *list = get(r, "list");
        int n = list && list->t == J_ARR ? list->len : 0;
        const struct aiocb *arr[MAXN + 1] = {0};
        for (int k = 0; k < n && k < MAXN; k++) {
            J *e = list->vals[k];
            if (e->t == J_STR) { int i = cb_index(e->s); if (i >= 0) arr[k] = &cbs[i].cb; }
        }
        struct timespec ts;
        errno = 0;
        int rc = aio_suspend(arr, n, timeout_of(r, &ts));
        answer(rc == -1 ? errno : 0, NULL);
        return;
    }
    if (!strcmp(op, "exit")) {
        /* process exit: wait for every request still in progress, then report the files */
        for (int i = 0; i < ncbs; i++) {
            while (cbs[i].submitted && aio_error(&cbs[i].cb) == EINPROGRESS) {
                const struct aiocb *one[1] = {&cbs[i].cb};
                aio_suspend(one, 1, NULL);
            }
        }
        drain_notes(); /* every request is done: every notification is queued */
        printf("{\"files\":{");
        int first = 1;
        for (int k = 0; k < nfds; k++) {
            struct stat st;
            if (fstat(fds[k].fd, &st) || !S_ISREG(st.st_mode)) continue;
            printf("%s\"%s\":\"", first ? "" : ",", fds[k].name);
            first = 0;
            unsigned char chunk[4096];
            off_t off = 0;
            ssize_t got;
            while ((got = pread(fds[k].fd, chunk, sizeof chunk, off)) > 0) {
                for (ssize_t b = 0; b < got; b++) printf("%02x", chunk[b]);
                off += got;
            }
            printf("\"");
        }
        printf("}}\n");
        fflush(stdout);
        exit(0);
    }
    printf("{\"unsupported\":\"%s\"}\n", op);
    fflush(stdout);
}

int main(void) {
    sigemptyset(&note_set);
    sigaddset(&note_set, NOTE_SIG);
    sigprocmask(SIG_BLOCK, &note_set, NULL); /* before any AIO thread exists; they inherit nothing else */
    size_t cap = 0;
    char *line = NULL;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        P = line;
        bad = 0;
        ws();
        if (!*P) continue;
        J *r = jvalue();
        if (bad || r->t != J_OBJ) { printf("{\"error\":\"bad request\"}\n"); fflush(stdout); }
        else do_request(r);
        jfree(r);
    }
    free(line);
    return 0;
}
