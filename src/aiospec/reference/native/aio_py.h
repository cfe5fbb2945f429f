/*
 * What the Python-facing files of the native engine share: the Core object (one process),
 * the module's interned names and classes, and the GIL-side helpers (aio_pyjob.c).
 */
#ifndef AIOSPEC_AIO_PY_H
#define AIOSPEC_AIO_PY_H

#include "aio_engine.h"

typedef struct {
	PyObject_HEAD struct aio_engine e;
	int initialized;
	int notifier_started;
} CoreObject;

#define E(self) (&(self)->e)

extern PyObject *AioErrorType, *KeventFdType, *LabelNames, *Why[3];
extern PyObject *s_fd, *s_buffer, *s_nbytes, *s_offset, *s_opcode, *s_notify, *s_status, *s_error, *s_kernelinfo,
	*s_post, *s_start_notifier;

/* aio_pyjob.c: reading the user's aiocb, storing to it, releasing memory (GIL held, no engine lock) */
PyObject *raise_aio(int err, const char *what, PyObject *status, PyObject *aiocb);
int check_open(CoreObject *self);
int check_nargs(const char *what, Py_ssize_t nargs, Py_ssize_t lo, Py_ssize_t hi);
int get_actor(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t pos, actor_t *a);
int sigev_of(PyObject *notify);
void parse_timeout(PyObject *o, int *ok, double *t);
long long int_value(PyObject *v, long long lo, long long hi, int *ok);
void job_release(struct kaiocb *job);
void lio_release(struct aioliojob *lj);
void drain_zombies(CoreObject *self);
void store_long(PyObject *cb, PyObject *name, long v);
int want_notifier(CoreObject *self, int sigev);
int submit_one(CoreObject *self, actor_t a, PyObject *cb, int type, int fsync_bad, struct aioliojob *lj);

/* aio_pycalls.c: the system calls as Core methods (METH_FASTCALL) */
#define AIO_PYCALL(name) PyObject *Core_##name(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
AIO_PYCALL(aio_read);
AIO_PYCALL(aio_write);
AIO_PYCALL(aio_mlock);
AIO_PYCALL(aio_fsync);
AIO_PYCALL(lio_listio);
AIO_PYCALL(aio_cancel);
AIO_PYCALL(aio_error);
AIO_PYCALL(aio_return);
AIO_PYCALL(aio_waitcomplete);
AIO_PYCALL(aio_suspend);

#endif
