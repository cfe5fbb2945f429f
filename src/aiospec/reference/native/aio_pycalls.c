/*
 * The system calls of the native engine as methods of Core, with engine.py's arguments, results
 * and AioError errnos.  Each reads the user's objects with the GIL, runs the C system call
 * (aio_syscalls.c), which drops the GIL only to sleep, and stores the results.
 */
#include "aio_py.h"

#include <fcntl.h>
#include <stdlib.h>

/* ---- the system calls --------------------------------------------------------------------- */

static PyObject *submit(CoreObject *self, PyObject *const *args, Py_ssize_t nargs, int type, const char *what)
{
	actor_t a;
	int err;

	if (check_open(self) < 0 || !check_nargs(what, nargs, 1, 2) || get_actor(args, nargs, 1, &a) < 0)
		return NULL;
	err = submit_one(self, a, args[0], type, 0, NULL);
	if (err < 0)
		return NULL;
	if (err)
		return raise_aio(err, what, NULL, NULL);
	Py_RETURN_NONE;
}

PyObject *Core_aio_read(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	return submit(self, args, nargs, LIO_READ, "aio_read");
}

PyObject *Core_aio_write(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	return submit(self, args, nargs, LIO_WRITE, "aio_write");
}

PyObject *Core_aio_mlock(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	return submit(self, args, nargs, LIO_MLOCK, "aio_mlock");
}

PyObject *Core_aio_fsync(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	actor_t a;
	int err, bad;

	if (check_open(self) < 0 || !check_nargs("aio_fsync", nargs, 2, 3) || get_actor(args, nargs, 2, &a) < 0)
		return NULL;
	bad = !(PyUnicode_Check(args[0]) && PyUnicode_CompareWithASCIIString(args[0], "O_SYNC") == 0);
	err = submit_one(self, a, args[1], LIO_SYNC, bad, NULL);
	if (err < 0)
		return NULL;
	if (err)
		return raise_aio(err, "aio_fsync", NULL, NULL);
	Py_RETURN_NONE;
}

/* kern_lio_listio L2311-2487: lio_listio(mode, cbs, notify=None[, actor]). */
PyObject *Core_lio_listio(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct aio_engine *e = E(self);
	struct aioliojob *lj;
	PyObject *seq, *notify;
	actor_t a;
	int mode, ok, err, r, nagain = 0, nerror = 0;
	Py_ssize_t i, n;

	if (check_open(self) < 0 || !check_nargs("lio_listio", nargs, 2, 4) || get_actor(args, nargs, 3, &a) < 0)
		return NULL;
	mode = (int)int_value(args[0], INT32_MIN, INT32_MAX, &ok);
	if (!ok)
		mode = 7; /* not a mode */
	seq = PySequence_Fast(args[1], "lio_listio: the list must be a sequence");
	if (seq == NULL)
		return NULL;
	n = PySequence_Fast_GET_SIZE(seq);
	notify = nargs > 2 ? args[2] : Py_None;
	lj = calloc(1, sizeof(*lj));
	if (lj == NULL) {
		Py_DECREF(seq);
		return PyErr_NoMemory();
	}
	lj->ident = args[1];
	Py_INCREF(lj->ident);
	lj->lioj_sigev = sigev_of(notify); /* what lio_open sets up (LIO_NOWAIT only) */
	if (lj->lioj_sigev != AIO_SIGEV_NONE) {
		lj->lioj_notify = notify;
		Py_INCREF(notify);
	}
	if (mode == LIO_NOWAIT && want_notifier(self, lj->lioj_sigev) < 0) {
		lio_release(lj);
		Py_DECREF(seq);
		return NULL;
	}
	err = lio_open(e, a, mode, n, lj);
	if (err) {
		lio_release(lj); /* never published */
		Py_DECREF(seq);
		return raise_aio(err, "lio_listio", NULL, NULL);
	}
	for (i = 0; i < n; i++) {
		PyObject *cb = PySequence_Fast_GET_ITEM(seq, i);
		if (cb == Py_None)
			continue;
		r = submit_one(self, a, cb, LIO_NOP, 0, lj);
		if (r < 0) {
			PyErr_Clear(); /* out of memory or a failing notifier start: the entry failed */
			r = FB_EIO;
		}
		if (r == FB_EAGAIN)
			nagain++;
		else if (r)
			nerror++;
	}
	Py_DECREF(seq);
	r = lio_close(e, a, mode, lj, 0);
	if (r == AIO_WOULDSLEEP) {
		Py_BEGIN_ALLOW_THREADS r = lio_close(e, a, mode, lj, 1);
		Py_END_ALLOW_THREADS
	}
	drain_zombies(self);
	r = nerror ? FB_EIO : nagain ? FB_EAGAIN : r;
	if (r)
		return raise_aio(r, "lio_listio", NULL, NULL);
	Py_RETURN_NONE;
}

/* sys_aio_cancel L2112-2177: aio_cancel(fd, cb=None[, actor]). */
PyObject *Core_aio_cancel(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *ujob;
	actor_t a;
	int ok, fd, res;

	if (check_open(self) < 0 || !check_nargs("aio_cancel", nargs, 1, 3) || get_actor(args, nargs, 2, &a) < 0)
		return NULL;
	fd = (int)int_value(args[0], INT32_MIN, INT32_MAX, &ok);
	ujob = nargs > 1 && args[1] != Py_None ? args[1] : NULL;
	res = sys_aio_cancel(E(self), a, !ok || fcntl(fd, F_GETFL) < 0, fd, ujob); /* fget: EBADF */
	drain_zombies(self);
	if (res < 0)
		return raise_aio(-res, "aio_cancel", NULL, NULL);
	return PyLong_FromLong(res);
}

/* kern_aio_error L2180-2212: the job's error, EINPROGRESS, or the user-memory hack. */
PyObject *Core_aio_error(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *cb, *status, *minus1;
	actor_t a;
	int found, res, eq;

	if (check_open(self) < 0 || !check_nargs("aio_error", nargs, 1, 2) || get_actor(args, nargs, 1, &a) < 0)
		return NULL;
	cb = args[0];
	res = kern_aio_error_find(E(self), a, cb, &found);
	if (found)
		return PyLong_FromLong(res);
	kern_aio_error_user(E(self), a);
	status = PyObject_GetAttr(cb, s_status);
	if (status == NULL)
		return NULL;
	minus1 = PyLong_FromLong(-1);
	eq = minus1 ? PyObject_RichCompareBool(status, minus1, Py_EQ) : -1;
	Py_DECREF(status);
	Py_XDECREF(minus1);
	if (eq < 0)
		return NULL;
	if (eq) /* "hack for failure of aio_aqueue" */
		return PyObject_GetAttr(cb, s_error);
	return PyLong_FromLong(FB_EINVAL);
}

/* FREE_TAIL and the result stores to the aiocb; the reaped job's status, or AioError. */
static PyObject *reap(CoreObject *self, actor_t a, struct kaiocb *job, const char *what, int pair)
{
	PyObject *ujob = job->ujob, *st;
	int had_lio = job->lio != NULL, error;
	long status;

	Py_INCREF(ujob);
	if (aio_free_tail(E(self), a, job, &status, &error))
		job_release(job);
	store_long(ujob, s_error, error);
	store_long(ujob, s_status, status);
	if (had_lio)
		drain_zombies(self); /* the lio may have gone with it */
	if (error) {
		st = PyLong_FromLong(status);
		raise_aio(error, what, st, ujob);
		Py_XDECREF(st);
		Py_DECREF(ujob);
		return NULL;
	}
	if (pair)
		return Py_BuildValue("(Nl)", ujob, status);
	Py_DECREF(ujob);
	return PyLong_FromLong(status);
}

/* kern_aio_return L1975-2011: reap a job on kaio_done (EINVAL if not there). */
PyObject *Core_aio_return(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct kaiocb *job;
	actor_t a;

	if (check_open(self) < 0 || !check_nargs("aio_return", nargs, 1, 2) || get_actor(args, nargs, 1, &a) < 0)
		return NULL;
	job = kern_aio_return_find(E(self), a, args[0]);
	if (job == NULL)
		return raise_aio(FB_EINVAL, "aio_return", NULL, NULL);
	return reap(self, a, job, "aio_return", 0);
}

/* kern_aio_waitcomplete L2610-2689: (aiocb, status) of the head of kaio_done. */
PyObject *Core_aio_waitcomplete(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct aio_engine *e = E(self);
	struct kaiocb *job = NULL;
	actor_t a;
	double t;
	int ok, err;

	if (check_open(self) < 0 || !check_nargs("aio_waitcomplete", nargs, 0, 2) || get_actor(args, nargs, 1, &a) < 0)
		return NULL;
	parse_timeout(nargs > 0 ? args[0] : NULL, &ok, &t);
	err = kern_aio_waitcomplete(e, a, ok, t, 0, &job);
	if (err == AIO_WOULDSLEEP) {
		Py_BEGIN_ALLOW_THREADS err = kern_aio_waitcomplete(e, a, ok, t, 1, &job);
		Py_END_ALLOW_THREADS
	}
	if (job == NULL)
		return raise_aio(err, "aio_waitcomplete", NULL, NULL);
	return reap(self, a, job, "aio_waitcomplete", 1);
}

/* kern_aio_suspend L2029-2075: aio_suspend(cbs, timeout=None[, actor]). */
PyObject *Core_aio_suspend(CoreObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct aio_engine *e = E(self);
	PyObject *tup, **targets;
	Py_ssize_t i, n, nt = 0;
	actor_t a;
	double t;
	int ok, err;

	if (check_open(self) < 0 || !check_nargs("aio_suspend", nargs, 1, 3) || get_actor(args, nargs, 2, &a) < 0)
		return NULL;
	tup = PySequence_Tuple(args[0]); /* holds the aiocbs while the call sleeps */
	if (tup == NULL)
		return NULL;
	n = PyTuple_GET_SIZE(tup);
	targets = PyMem_Malloc(sizeof(PyObject *) * (size_t)(n ? n : 1));
	if (targets == NULL) {
		Py_DECREF(tup);
		return PyErr_NoMemory();
	}
	for (i = 0; i < n; i++)
		if (PyTuple_GET_ITEM(tup, i) != Py_None)
			targets[nt++] = PyTuple_GET_ITEM(tup, i);
	parse_timeout(nargs > 1 ? args[1] : NULL, &ok, &t);
	err = kern_aio_suspend(e, a, targets, nt, n, ok, t, 0);
	if (err == AIO_WOULDSLEEP) {
		Py_BEGIN_ALLOW_THREADS err = kern_aio_suspend(e, a, targets, nt, n, ok, t, 1);
		Py_END_ALLOW_THREADS
	}
	PyMem_Free(targets);
	Py_DECREF(tup);
	if (err)
		return raise_aio(err, "aio_suspend", NULL, NULL);
	Py_RETURN_NONE;
}
