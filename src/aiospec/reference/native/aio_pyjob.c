/*
 * The GIL side of a job's life in the native engine: read the user's Aiocb as SUB_CHECK does
 * (before any engine lock is taken), store _aiocb_private/kernelinfo after, pin and release the
 * user's buffer, release freed jobs and lios, and start the notifier on first need.
 */
#include "aio_py.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- helpers ------------------------------------------------------------------------------ */

PyObject *raise_aio(int err, const char *what, PyObject *status, PyObject *aiocb)
{
	PyObject *exc = PyObject_CallFunction(AioErrorType, "isOO", err, what, status ? status : Py_None,
					      aiocb ? aiocb : Py_None);
	if (exc != NULL) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

int check_open(CoreObject *self)
{
	if (!self->initialized) {
		PyErr_SetString(PyExc_RuntimeError, "the engine was not initialized");
		return -1;
	}
	if (E(self)->closed) {
		PyErr_SetString(PyExc_RuntimeError, "the engine is closed (the process has run down)");
		return -1;
	}
	return 0;
}

int check_nargs(const char *what, Py_ssize_t nargs, Py_ssize_t lo, Py_ssize_t hi)
{
	if (nargs < lo || nargs > hi) {
		PyErr_Format(PyExc_TypeError, "%s expected %zd to %zd arguments, got %zd", what, lo, hi, nargs);
		return 0;
	}
	return 1;
}

int get_actor(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t pos, actor_t *a)
{
	a->kind = 0;
	a->index = 0;
	if (nargs > pos) {
		long v = PyLong_AsLong(args[pos]);
		if (v == -1 && PyErr_Occurred())
			return -1;
		a->index = (int)v;
	}
	return 0;
}

int sigev_of(PyObject *notify)
{
	if (notify == NULL || notify == Py_None)
		return AIO_SIGEV_NONE;
	if (PyObject_IsInstance(notify, KeventFdType) == 1)
		return AIO_SIGEV_KEVENT;
	PyErr_Clear();
	return PyCallable_Check(notify) ? AIO_SIGEV_SIGNAL : AIO_SIGEV_INVALID;
}

/* _valid_timeout: None (forever, -1), or a non-negative int or float; *ok = 0 otherwise. */
void parse_timeout(PyObject *o, int *ok, double *t)
{
	double v;

	*ok = 1, *t = -1.0;
	if (o == NULL || o == Py_None)
		return;
	if (PyBool_Check(o) || !(PyLong_Check(o) || PyFloat_Check(o))) {
		*ok = 0;
		return;
	}
	v = PyFloat_AsDouble(o);
	if (v == -1.0 && PyErr_Occurred()) {
		PyErr_Clear();
		v = 1e18; /* an int too large for a double: forever */
	}
	if (!(v >= 0)) {
		*ok = 0;
		return;
	}
	*t = v > 1e8 ? -1.0 : v;
}

static PyObject *getattr_or_null(PyObject *o, PyObject *name)
{
	PyObject *v = PyObject_GetAttr(o, name);
	if (v == NULL)
		PyErr_Clear();
	return v;
}

/* An int that fits in [lo, hi], else *ok = 0. */
long long int_value(PyObject *v, long long lo, long long hi, int *ok)
{
	long long x = 0;
	int overflow = 0;

	*ok = 0;
	if (v != NULL && PyLong_Check(v)) {
		x = PyLong_AsLongLongAndOverflow(v, &overflow);
		if (x == -1 && PyErr_Occurred())
			PyErr_Clear();
		else if (!overflow && x >= lo && x <= hi)
			*ok = 1;
	}
	return x;
}

static long long int_attr(PyObject *o, PyObject *name, long long lo, long long hi, int *ok)
{
	PyObject *v = getattr_or_null(o, name);
	long long x = int_value(v, lo, hi, ok);

	Py_XDECREF(v);
	return x;
}

static void fd_probe(int fd_ok, int fd, int *accmode, int *stat_ok, unsigned *mode)
{
	struct stat sb;
	int fl = fd_ok ? fcntl(fd, F_GETFL) : -1;

	*accmode = fl < 0 ? -1 : (fl & O_ACCMODE);
	*stat_ok = fd_ok && fstat(fd, &sb) == 0;
	*mode = *stat_ok ? (unsigned)sb.st_mode : 0;
}

/*
 * Read the user's aiocb as SUB_CHECK does, into in and a new job that holds the Aiocb, the
 * notification target and (for a transfer) the exported buffer.  NULL: out of memory.
 */
static struct kaiocb *job_new(PyObject *cb, int type, struct aqueue_in *in)
{
	struct kaiocb *job = calloc(1, sizeof(*job));
	long long nbytes;
	PyObject *buf;
	int op, ok;

	if (job == NULL) {
		PyErr_NoMemory();
		return NULL;
	}
	memset(in, 0, sizeof(*in));
	job->ujob = cb;
	Py_INCREF(cb);
	job->uaiocb._aiocb_private.status = -1;
	job->uaiocb.aio_fildes = (int)int_attr(cb, s_fd, INT32_MIN, INT32_MAX, &in->fd_ok);
	fd_probe(in->fd_ok, job->uaiocb.aio_fildes, &in->accmode, &in->stat_ok, &in->mode);
	job->stream = in->stat_ok && (S_ISFIFO(in->mode) || S_ISSOCK(in->mode)); /* fo_read/fo_write of a pipe */
	nbytes = int_attr(cb, s_nbytes, 0, AIO_IOSIZE_MAX, &in->nbytes_ok);
	job->uaiocb.aio_nbytes = in->nbytes_ok ? (size_t)nbytes : 0;
	job->uaiocb.aio_offset = int_attr(cb, s_offset, 0, INT64_MAX, &in->offset_ok);
	in->opcode = (int)int_attr(cb, s_opcode, LIO_NOP, LIO_MLOCK, &ok);
	if (!ok)
		in->opcode = LIO_INVALID;
	job->notify = getattr_or_null(cb, s_notify);
	job->sigev = sigev_of(job->notify);
	op = type != LIO_NOP ? type : in->opcode;
	if ((op == LIO_READ || op == LIO_WRITE) && in->nbytes_ok && !(op == LIO_READ && nbytes == 0)) {
		buf = getattr_or_null(cb, s_buffer);
		if (buf == NULL || PyObject_GetBuffer(buf, &job->view, op == LIO_READ ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) {
			PyErr_Clear();
			job->efault = 1; /* not a (contiguous, writable for a read) buffer: uiomove faults */
		} else {
			job->has_view = 1;
			job->uaiocb.aio_buf = job->view.buf;
			if (job->view.len < (Py_ssize_t)nbytes)
				job->efault = 1;
		}
		Py_XDECREF(buf);
	}
	return job;
}

/* uma_zfree(aiocb_zone, job) at last: with the GIL, no engine lock held. */
void job_release(struct kaiocb *job)
{
	if (job->has_view)
		PyBuffer_Release(&job->view);
	Py_XDECREF(job->ujob);
	Py_XDECREF(job->notify);
	free(job);
}

void lio_release(struct aioliojob *lj)
{
	Py_XDECREF(lj->ident);
	Py_XDECREF(lj->lioj_notify);
	free(lj);
}

/* Release the jobs and lios whose last holder let go (kaio_mtx taken here). */
void drain_zombies(CoreObject *self)
{
	struct aio_engine *e = E(self);
	struct kaiocb *zj, *j;
	struct aioliojob *zl, *l;

	pthread_mutex_lock(&e->ki.kaio_mtx);
	zj = e->zjobs, zl = e->zlios;
	e->zjobs = NULL, e->zlios = NULL;
	pthread_mutex_unlock(&e->ki.kaio_mtx);
	while ((j = zj) != NULL) {
		zj = j->znext;
		job_release(j);
	}
	while ((l = zl) != NULL) {
		zl = l->znext;
		lio_release(l);
	}
}

void store_long(PyObject *cb, PyObject *name, long v)
{
	PyObject *o = PyLong_FromLong(v);
	if (o == NULL || PyObject_SetAttr(cb, name, o) < 0)
		PyErr_Clear();
	Py_XDECREF(o);
}

/* The user-memory stores of one submission (store_status / store_error / store_kernelinfo). */
static void apply_store(PyObject *cb, const struct ustore *st)
{
	if (st->set_status)
		store_long(cb, s_status, st->status);
	if (st->set_error)
		store_long(cb, s_error, st->error);
	if (st->set_kernelinfo)
		store_long(cb, s_kernelinfo, st->kernelinfo);
}

int want_notifier(CoreObject *self, int sigev)
{
	PyObject *r;

	if (self->notifier_started || (sigev != AIO_SIGEV_SIGNAL && sigev != AIO_SIGEV_KEVENT))
		return 0;
	r = PyObject_CallMethodNoArgs((PyObject *)self, s_start_notifier);
	if (r == NULL)
		return -1;
	Py_DECREF(r);
	self->notifier_started = 1;
	return 0;
}

/* aio_aqueue for one aiocb, with the reads before and the stores after; returns the error. */
int submit_one(CoreObject *self, actor_t a, PyObject *cb, int type, int fsync_bad, struct aioliojob *lj)
{
	struct aqueue_in in;
	struct ustore st = {0};
	struct kaiocb *job = job_new(cb, type, &in);
	int err, owned;

	if (job == NULL)
		return -1;
	if (want_notifier(self, job->sigev) < 0) {
		job_release(job);
		return -1;
	}
	in.fsync_bad = fsync_bad;
	err = aio_aqueue(E(self), a, &in, job, lj, type, &st, &owned);
	apply_store(cb, &st);
	if (!owned)
		job_release(job);
	return err;
}
