/*
 * aiospec.reference._native: the Python face of the native engine.  Core is the process (its
 * kaioinfo, the globals, the daemon pool, the fsync task); each method is one system call with
 * engine.py's arguments, results and AioError errnos (the spec's FreeBSD values).  This file
 * does everything that needs the GIL: reading the user's Aiocb before a call, storing to it
 * after, pinning buffers, delivering notifications (the notifier loop runs on a Python thread
 * that NativeEngine starts on first need), releasing freed jobs and lios, and handing the
 * trace over.  Every optional trailing `actor` argument is the spec's user-thread index, used
 * only when tracing.
 */
#include "aio_py.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <unistd.h>

PyObject *AioErrorType, *KeventFdType, *LabelNames, *Why[3];
PyObject *s_fd, *s_buffer, *s_nbytes, *s_offset, *s_opcode, *s_notify, *s_status, *s_error,
	*s_kernelinfo, *s_post, *s_start_notifier;

/* aio_proc_rundown, then stop and join the daemons and the task (the notifier finishes its queue). */
static PyObject *Core_close(CoreObject *self, PyObject *unused)
{
	struct aio_engine *e = E(self);

	(void)unused;
	if (!self->initialized || e->closed)
		Py_RETURN_NONE;
	e->closed = 1;
	Py_BEGIN_ALLOW_THREADS aio_proc_rundown(e);
	aio_engine_stop(e);
	Py_END_ALLOW_THREADS drain_zombies(self);
	Py_RETURN_NONE;
}

/* The notifier: delivers queued notifications (KeventFd.post or the callable) until stopped. */
static PyObject *Core_notify_loop(CoreObject *self, PyObject *unused)
{
	struct aio_engine *e = E(self);
	struct anote *n;
	PyObject *r, *t, *v, *tb, *rep;

	(void)unused;
	for (;;) {
		Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&e->note_mtx);
		while (e->note_head == NULL && !e->note_stop)
			pthread_cond_wait(&e->note_cv, &e->note_mtx);
		n = e->note_head;
		if (n != NULL && (e->note_head = n->next) == NULL)
			e->note_tail = NULL;
		pthread_mutex_unlock(&e->note_mtx);
		Py_END_ALLOW_THREADS if (n == NULL) break;
		r = n->sigev == AIO_SIGEV_KEVENT ? PyObject_CallMethodOneArg(n->fn, s_post, n->ident)
						 : PyObject_CallOneArg(n->fn, n->ident);
		if (r == NULL) { /* a user callback must not kill delivery */
			PyErr_Fetch(&t, &v, &tb);
			PyErr_NormalizeException(&t, &v, &tb);
			rep = v ? PyObject_Repr(v) : NULL;
			aio_fault(e, "notification callback raised %s", rep ? PyUnicode_AsUTF8(rep) : "?");
			PyErr_Clear();
			Py_XDECREF(rep);
			Py_XDECREF(t);
			Py_XDECREF(v);
			Py_XDECREF(tb);
		}
		Py_XDECREF(r);
		pthread_mutex_lock(&e->ki.kaio_mtx);
		aio_note_done(e, n);
		pthread_mutex_unlock(&e->ki.kaio_mtx);
		free(n);
		drain_zombies(self);
	}
	Py_RETURN_NONE;
}

/* The steps recorded since the last take, as (kind, index, label, choice), in linearization order. */
static PyObject *Core_trace_take(CoreObject *self, PyObject *unused)
{
	struct aio_engine *e = E(self);
	size_t i, n = __atomic_load_n(&e->tnext, __ATOMIC_ACQUIRE), base = e->tbase;
	PyObject *out, *choice, *item;
	struct trec *chunk, *r;

	(void)unused;
	if (n > (size_t)TCHUNKS_MAX << TCHUNK_SHIFT)
		n = (size_t)TCHUNKS_MAX << TCHUNK_SHIFT;
	out = PyList_New((Py_ssize_t)(n - base));
	for (i = base; out != NULL && i < n; i++) {
		while ((chunk = __atomic_load_n(&e->tchunks[i >> TCHUNK_SHIFT], __ATOMIC_ACQUIRE)) == NULL ||
		       !__atomic_load_n(&chunk[i & (TCHUNK - 1)].valid, __ATOMIC_ACQUIRE))
			sched_yield(); /* a writer took the index and is filling the record in */
		r = &chunk[i & (TCHUNK - 1)];
		if (r->ctype == C_IO)
			choice = Py_BuildValue("(li)", (long)r->status, (int)r->error);
		else if (r->ctype >= C_WAKEUP)
			choice = Py_NewRef(Why[r->ctype - C_WAKEUP]);
		else
			choice = Py_NewRef(Py_None);
		item = choice ? Py_BuildValue("(iiON)", (int)r->kind, (int)r->index,
					      PyTuple_GET_ITEM(LabelNames, r->label), choice)
			      : NULL;
		if (item == NULL) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, (Py_ssize_t)(i - base), item);
	}
	if (out == NULL)
		return NULL;
	for (i = base >> TCHUNK_SHIFT; i < (n >> TCHUNK_SHIFT); i++) { /* chunks taken whole */
		free(e->tchunks[i]);
		e->tchunks[i] = NULL;
	}
	e->tbase = n;
	return out;
}

static Py_ssize_t count(struct kaiocb *first, int which)
{
	Py_ssize_t n = 0;
	for (; first != NULL; n++)
		first = which == 0 ? TAILQ_NEXT(first, list) : which == 1 ? TAILQ_NEXT(first, plist) : TAILQ_NEXT(first, allist);
	return n;
}

/* What is still allocated: jobs, lios, queued work, counters, engine threads. */
static PyObject *Core_leaks(CoreObject *self, PyObject *unused)
{
	struct aio_engine *e = E(self);
	struct kaioinfo *ki = &e->ki;
	struct aioliojob *lj;
	Py_ssize_t nlio = 0;
	PyObject *d;

	(void)unused;
	pthread_mutex_lock(&e->aio_job_mtx);
	pthread_mutex_lock(&ki->kaio_mtx);
	TAILQ_FOREACH(lj, &ki->kaio_liojoblist, lioj_list)
	nlio++;
	d = Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:i,s:i,s:i,s:i}", "kaio_all", count(TAILQ_FIRST(&ki->kaio_all), 2),
			  "kaio_jobqueue", count(TAILQ_FIRST(&ki->kaio_jobqueue), 1), "kaio_done",
			  count(TAILQ_FIRST(&ki->kaio_done), 1), "kaio_liojoblist", nlio, "kaio_syncqueue",
			  count(TAILQ_FIRST(&ki->kaio_syncqueue), 0), "kaio_syncready",
			  count(TAILQ_FIRST(&ki->kaio_syncready), 0), "aio_jobs", count(TAILQ_FIRST(&e->aio_jobs), 0),
			  "kaio_count", ki->kaio_count, "kaio_active_count", ki->kaio_active_count, "num_queue_count",
			  e->num_queue_count, "alive_threads", e->joined ? 0 : e->started);
	pthread_mutex_unlock(&ki->kaio_mtx);
	pthread_mutex_unlock(&e->aio_job_mtx);
	return d;
}

/* (completes, notifies, frees, [faults]) */
static PyObject *Core_stats(CoreObject *self, PyObject *unused)
{
	struct aio_engine *e = E(self);
	PyObject *faults = PyList_New(0), *s;
	long c, n, f;
	size_t i;

	(void)unused;
	if (faults == NULL)
		return NULL;
	pthread_mutex_lock(&e->ki.kaio_mtx);
	c = e->completes, n = e->notifies, f = e->frees;
	pthread_mutex_unlock(&e->ki.kaio_mtx);
	pthread_mutex_lock(&e->fault_mtx);
	for (i = 0; i < e->nfaults; i++) {
		s = PyUnicode_FromString(e->faults[i]);
		if (s == NULL || PyList_Append(faults, s) < 0)
			PyErr_Clear();
		Py_XDECREF(s);
	}
	pthread_mutex_unlock(&e->fault_mtx);
	return Py_BuildValue("(lllN)", c, n, f, faults);
}

static PyObject *Core_release(CoreObject *self, PyObject *unused)
{
	(void)unused;
	if (self->initialized)
		drain_zombies(self);
	Py_RETURN_NONE;
}

static PyObject *Core_get_closed(CoreObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->initialized && E(self)->closed);
}

static int Core_init(CoreObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"daemons", "max_aio_queue_per_proc", "max_queue_count", "max_aio_per_proc",
				 "enable_aio_unsafe", "rundown_timeout", "trace", "spin_us", NULL};
	struct aio_engine *e = E(self);
	int daemons = 4, mq = 256, mqc = 1024, mapp = 32, unsafe = 0, trace = 0, spin_us = 50, rc;
	double rt = 0.02;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|iiiipdpi", kwlist, &daemons, &mq, &mqc, &mapp, &unsafe, &rt,
					 &trace, &spin_us))
		return -1;
	if (self->initialized) {
		PyErr_SetString(PyExc_RuntimeError, "the engine is already initialized");
		return -1;
	}
	if (daemons < 1 || daemons > 1024) {
		PyErr_SetString(PyExc_ValueError, "daemons must be in [1, 1024]");
		return -1;
	}
	e->n_daemons = daemons;
	e->max_aio_queue_per_proc = mq;
	e->max_queue_count = mqc;
	e->max_aio_per_proc = mapp;
	e->enable_aio_unsafe = unsafe;
	e->rundown_timeout = rt < 0 ? 0 : rt;
	e->tracing = trace;
	e->spin_ns = spin_us < 0 ? 0 : (long)spin_us * 1000L;
	if (aio_engine_init(e) != 0) {
		PyErr_NoMemory();
		return -1;
	}
	self->initialized = 1;
	rc = aio_engine_start(e);
	if (rc != 0) {
		e->closed = 1;
		aio_engine_stop(e);
		errno = rc;
		PyErr_SetFromErrno(PyExc_OSError);
		return -1;
	}
	return 0;
}

static void Core_dealloc(CoreObject *self)
{
	struct aio_engine *e = E(self);
	struct anote *n;

	if (self->initialized) {
		if (!e->closed) { /* never closed: run the process down now */
			e->closed = 1;
			Py_BEGIN_ALLOW_THREADS aio_proc_rundown(e);
			aio_engine_stop(e);
			Py_END_ALLOW_THREADS
		}
		while ((n = e->note_head) != NULL) { /* notifications nobody delivered */
			e->note_head = n->next;
			aio_note_done(e, n);
			free(n);
		}
		drain_zombies(self);
		aio_engine_destroy(e);
	}
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *mod_setup(PyObject *mod, PyObject *args)
{
	PyObject *err, *kq;

	(void)mod;
	if (!PyArg_ParseTuple(args, "OO", &err, &kq))
		return NULL;
	Py_XSETREF(AioErrorType, Py_NewRef(err));
	Py_XSETREF(KeventFdType, Py_NewRef(kq));
	Py_RETURN_NONE;
}

#define FAST(name, doc) {#name, (PyCFunction)(void (*)(void))Core_##name, METH_FASTCALL, doc}
static PyMethodDef Core_methods[] = {
	FAST(aio_read, "aio_read(cb[, actor])"),
	FAST(aio_write, "aio_write(cb[, actor])"),
	FAST(aio_mlock, "aio_mlock(cb[, actor])"),
	FAST(aio_fsync, "aio_fsync(op, cb[, actor])"),
	FAST(lio_listio, "lio_listio(mode, cbs, notify=None[, actor])"),
	FAST(aio_cancel, "aio_cancel(fd, cb=None[, actor]) -> AIO_CANCELED | AIO_NOTCANCELED | AIO_ALLDONE"),
	FAST(aio_error, "aio_error(cb[, actor]) -> errno"),
	FAST(aio_return, "aio_return(cb[, actor]) -> status"),
	FAST(aio_waitcomplete, "aio_waitcomplete(timeout=None[, actor]) -> (cb, status)"),
	FAST(aio_suspend, "aio_suspend(cbs, timeout=None[, actor])"),
	{"_close", (PyCFunction)Core_close, METH_NOARGS, "aio_proc_rundown, then stop the engine's threads"},
	{"_notify_loop", (PyCFunction)Core_notify_loop, METH_NOARGS, "the notifier thread's body"},
	{"_trace_take", (PyCFunction)Core_trace_take, METH_NOARGS, "take the recorded steps"},
	{"_leaks", (PyCFunction)Core_leaks, METH_NOARGS, "what is still allocated"},
	{"_stats", (PyCFunction)Core_stats, METH_NOARGS, "(completes, notifies, frees, faults)"},
	{"_release", (PyCFunction)Core_release, METH_NOARGS, "release freed jobs and lios"},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef Core_getset[] = {
	{"_closed", (getter)Core_get_closed, NULL, "close() ran", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CoreType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "aiospec.reference._native.Core",
	.tp_basicsize = sizeof(CoreObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The native engine's process: kaioinfo, aio_jobs, the daemons and the fsync task.",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Core_init,
	.tp_dealloc = (destructor)Core_dealloc,
	.tp_methods = Core_methods,
	.tp_getset = Core_getset,
};

static PyMethodDef mod_methods[] = {
	{"_setup", mod_setup, METH_VARARGS, "_setup(AioError, KeventFd)"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
	PyModuleDef_HEAD_INIT, "_native", "The native hot path of aiospec.reference (vfs_aio.c in C).", -1, mod_methods,
};

#define AIO_LABEL_NAME(n) #n,
static const char *label_names[] = {AIO_LABELS(AIO_LABEL_NAME)};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m;
	int i;

	if (PyType_Ready(&CoreType) < 0)
		return NULL;
	m = PyModule_Create(&native_module);
	if (m == NULL)
		return NULL;
	LabelNames = PyTuple_New(L_COUNT);
	for (i = 0; i < L_COUNT; i++)
		PyTuple_SET_ITEM(LabelNames, i, PyUnicode_InternFromString(label_names[i]));
	Why[0] = PyUnicode_InternFromString("wakeup");
	Why[1] = PyUnicode_InternFromString("timeout");
	Why[2] = PyUnicode_InternFromString("signal");
	s_fd = PyUnicode_InternFromString("fd");
	s_buffer = PyUnicode_InternFromString("buffer");
	s_nbytes = PyUnicode_InternFromString("nbytes");
	s_offset = PyUnicode_InternFromString("offset");
	s_opcode = PyUnicode_InternFromString("opcode");
	s_notify = PyUnicode_InternFromString("notify");
	s_status = PyUnicode_InternFromString("status");
	s_error = PyUnicode_InternFromString("error");
	s_kernelinfo = PyUnicode_InternFromString("kernelinfo");
	s_post = PyUnicode_InternFromString("post");
	s_start_notifier = PyUnicode_InternFromString("_start_notifier");
	AioErrorType = Py_NewRef(PyExc_OSError);
	KeventFdType = Py_NewRef((PyObject *)&PyBaseObject_Type);
	Py_INCREF(&CoreType);
	if (PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0 || PyModule_AddObject(m, "LABELS", Py_NewRef(LabelNames)) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
