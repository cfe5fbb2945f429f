/*
 * The system calls of the native engine, without Python: aio_aqueue (submission), lio_listio's
 * LIO_OPEN/LIO_CLOSE, kern_aio_error, kern_aio_return, kern_aio_waitcomplete, kern_aio_suspend,
 * sys_aio_cancel with its TAILQ_FOREACH_SAFE walk, and aio_proc_rundown.  Each step holds the
 * locks its spec label declares and records itself (TR) before dropping them, as engine.py and
 * cancel.py do.  The caller (aio_module.c) reads the user's aiocb before and stores to it after.
 *
 * A call that might sleep is first tried with may_sleep = 0 while the caller still holds the
 * GIL: if it would sleep, it returns AIO_WOULDSLEEP before changing anything, and the caller
 * retries with the GIL released.  So the common case (a result is there) costs no GIL switch.
 */
#include "aio_engine.h"

#include <fcntl.h>
#include <sys/stat.h>

#define LOCK(m) pthread_mutex_lock(m)
#define UNLOCK(m) pthread_mutex_unlock(m)

enum { P_SCHED = 1, P_SYNC, P_CANCEL, P_COMMIT };

/* fget_read / fget_write / fget: EBADF for a closed fd or the wrong access mode. */
static int aio_fget(const struct aqueue_in *in, int op)
{
	if (!in->fd_ok || in->accmode < 0)
		return FB_EBADF;
	if ((op == LIO_WRITE && in->accmode == O_RDONLY) || (op == LIO_READ && in->accmode == O_WRONLY))
		return FB_EBADF;
	return 0;
}

/* aio_aqueue L1747-1754 / aio_queue_file L1847-1871: the backend, or -errno. */
static int aio_route(struct aio_engine *e, const struct aqueue_in *in, int op)
{
	if (op == LIO_MLOCK)
		return P_SCHED;
	if (!in->stat_ok)
		return -FB_EBADF;
	if (!(S_ISREG(in->mode) || S_ISDIR(in->mode) || e->enable_aio_unsafe))
		return -FB_EOPNOTSUPP; /* not "safe" for the daemons */
	if (op == LIO_READ || op == LIO_WRITE)
		return P_SCHED;
	return op == LIO_SYNC ? P_SYNC : -FB_EINVAL;
}

static aio_handle_fn_t *aio_handler(int op)
{
	return op == LIO_SYNC ? aio_process_sync : op == LIO_MLOCK ? aio_process_mlock : aio_process_rw;
}

/* aio_queue_file's LIO_SYNC branch L1873-1898, kaio held: count the earlier jobs of the file. */
static int aio_queue_sync(struct aio_engine *e, struct kaiocb *job)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job2;

	TAILQ_FOREACH(job2, &ki->kaio_jobqueue, plist) {
		if (job2->uaiocb.aio_fildes == job->uaiocb.aio_fildes && job2->uaiocb.aio_lio_opcode != LIO_SYNC &&
		    job2->seqno < job->seqno) {
			job2->jobflags |= KAIOCB_CHECKSYNC;
			job->pending++;
		}
	}
	if (job->pending == 0)
		return P_SCHED;
	if (!aio_set_cancel_function_locked(e, job, aio_cancel_sync)) {
		job->uaiocb._aiocb_private.status = -1;
		job->uaiocb._aiocb_private.error = FB_ECANCELED;
		return P_CANCEL;
	}
	TAILQ_INSERT_TAIL(&ki->kaio_syncqueue, job, list);
	return P_COMMIT;
}

/* aio_aqueue L1759-1779, kaio held: publish the job; finish a completion deferred by QUEUEING. */
static void aio_commit(struct aio_engine *e, struct kaiocb *job)
{
	struct kaioinfo *ki = KI(e);

	job->jobflags &= ~KAIOCB_QUEUEING;
	TAILQ_INSERT_TAIL(&ki->kaio_all, job, allist);
	ki->kaio_count++;
	if (job->lio != NULL)
		job->lio->lioj_count++;
	e->num_queue_count++;
	if (job->jobflags & KAIOCB_FINISHED) {
		aio_bio_done_notify(e, job);
	} else {
		TAILQ_INSERT_TAIL(&ki->kaio_jobqueue, job, plist);
		job->onq = PLIST_JOBQUEUE;
	}
}

/*
 * aio_aqueue L1567-1789: validate (SUB_CHECK), number (SUB_NUMBER), dispatch (SUB_SCHED or
 * SUB_SYNC, SUB_CANCEL), commit (SUB_COMMIT).  Returns 0 or the error; *owned says the engine
 * took the job (otherwise the caller frees it).
 */
int aio_aqueue(struct aio_engine *e, actor_t a, const struct aqueue_in *in, struct kaiocb *job,
	       struct aioliojob *lj, int type, struct ustore *st, int *owned)
{
	struct kaioinfo *ki = KI(e);
	int err = 0, op = LIO_NOP, pc, ok;

	*owned = 0;
	LOCK(&ki->kaio_mtx); /* one linearization point for the limit reads, unlocked in the seed (OBS-5) */
	if (in->fsync_bad) {
		err = FB_EINVAL; /* kern_aio_fsync: O_DSYNC unsupported, aiocb untouched */
	} else {
		ki->exists = 1; /* aio_init_aioinfo */
		st->set_status = st->set_error = st->set_kernelinfo = 1;
		st->status = -1, st->error = 0, st->kernelinfo = -1;
		if (e->num_queue_count >= e->max_queue_count || ki->kaio_count >= e->max_aio_queue_per_proc) {
			st->error = err = FB_EAGAIN;
		} else if (!in->nbytes_ok) {
			err = FB_EINVAL; /* OBS-1: not stored */
		} else if (job->sigev == AIO_SIGEV_INVALID) {
			st->error = err = FB_EINVAL;
		} else {
			op = type != LIO_NOP ? type : in->opcode;
			if (op != LIO_READ && op != LIO_WRITE && op != LIO_SYNC && op != LIO_NOP && op != LIO_MLOCK)
				err = FB_EINVAL;
			else if (op != LIO_MLOCK)
				err = aio_fget(in, op);
			if (!err && op == LIO_SYNC && !(in->stat_ok && !S_ISFIFO(in->mode) && !S_ISSOCK(in->mode)))
				err = FB_EINVAL; /* no vnode */
			if (!err && (op == LIO_READ || op == LIO_WRITE) && !in->offset_ok)
				err = FB_EINVAL;
			if (err)
				st->error = err;
		}
	}
	TR(e, a, SUB_CHECK);
	UNLOCK(&ki->kaio_mtx);
	if (err)
		return err;
	job->uaiocb.aio_lio_opcode = op;
	job->lio = lj;

	LOCK(&e->aio_job_mtx);
	job->jid = e->jobrefid++;
	job->seqno = e->jobseqno++;
	st->kernelinfo = job->jid;
	if (op == LIO_NOP) {
		TR(e, a, SUB_NUMBER);
		UNLOCK(&e->aio_job_mtx);
		return 0;
	}
	st->error = job->uaiocb._aiocb_private.error = FB_EINPROGRESS;
	job->jobflags = KAIOCB_QUEUEING;
	pc = aio_route(e, in, op);
	if (pc < 0)
		st->error = -pc; /* aqueue_fail */
	TR(e, a, SUB_NUMBER);
	UNLOCK(&e->aio_job_mtx);
	if (pc < 0)
		return -pc;
	*owned = 1;
	for (;;) {
		switch (pc) {
		case P_SCHED:
			LOCK(&e->aio_job_mtx);
			LOCK(&ki->kaio_mtx);
			ok = aio_schedule_locked(e, job, aio_handler(op));
			if (!ok) {
				job->uaiocb._aiocb_private.status = -1;
				job->uaiocb._aiocb_private.error = FB_ECANCELED;
			}
			TR(e, a, SUB_SCHED);
			UNLOCK(&ki->kaio_mtx);
			UNLOCK(&e->aio_job_mtx);
			pc = ok ? P_COMMIT : P_CANCEL;
			break;
		case P_SYNC:
			LOCK(&ki->kaio_mtx);
			pc = aio_queue_sync(e, job);
			TR(e, a, SUB_SYNC);
			UNLOCK(&ki->kaio_mtx);
			break;
		case P_CANCEL:
			LOCK(&ki->kaio_mtx);
			aio_complete_locked(e, job);
			TR(e, a, SUB_CANCEL);
			UNLOCK(&ki->kaio_mtx);
			pc = P_COMMIT;
			break;
		default:
			LOCK(&ki->kaio_mtx);
			aio_commit(e, job);
			TR(e, a, SUB_COMMIT);
			UNLOCK(&ki->kaio_mtx);
			return 0;
		}
	}
}

/* kern_lio_listio's LIO_OPEN: the mode, the list length, the lio's sigevent; the extra reference. */
int lio_open(struct aio_engine *e, actor_t a, int mode, Py_ssize_t n, struct aioliojob *lj)
{
	struct kaioinfo *ki = KI(e);
	int err = 0, want = lj->lioj_sigev;

	lj->lioj_sigev = 0;
	LOCK(&ki->kaio_mtx);
	if ((mode != LIO_WAIT && mode != LIO_NOWAIT) || n > e->max_aio_queue_per_proc) {
		err = FB_EINVAL;
	} else {
		ki->exists = 1;
		if (want != AIO_SIGEV_NONE && mode == LIO_NOWAIT) {
			if (want == AIO_SIGEV_INVALID) {
				err = FB_EINVAL;
			} else {
				lj->lioj_sigev = want;
				if (want == AIO_SIGEV_SIGNAL)
					lj->lioj_flags |= LIOJ_SIGNAL;
			}
		}
		if (!err) {
			TAILQ_INSERT_TAIL(&ki->kaio_liojoblist, lj, lioj_list);
			lj->lioj_count = 1; /* the extra reference, dropped at LIO_CLOSE */
		}
	}
	TR(e, a, LIO_OPEN);
	UNLOCK(&ki->kaio_mtx);
	return err;
}

/* kern_lio_listio's LIO_CLOSE: LIO_WAIT sleeps until every committed entry finished. */
int lio_close(struct aio_engine *e, actor_t a, int mode, struct aioliojob *lj, int may_sleep)
{
	struct kaioinfo *ki = KI(e);
	int label = L_LIO_CLOSE, why = C_NONE;

	LOCK(&ki->kaio_mtx);
	if (mode == LIO_WAIT) {
		while (lj->lioj_count - 1 != lj->lioj_finished_count) {
			if (!may_sleep) {
				UNLOCK(&ki->kaio_mtx);
				return AIO_WOULDSLEEP;
			}
			sleep_on_aioinfo(e, a, &label, L_LIO_SLEEP, &why, -1.0);
		}
	} else if (lj->lioj_count - 1 == lj->lioj_finished_count) {
		aio_post_lio(e, lj); /* nothing left for aio_bio_done_notify to post */
	}
	if (--lj->lioj_count == 0) {
		TAILQ_REMOVE(&ki->kaio_liojoblist, lj, lioj_list);
		aio_lio_free_locked(e, lj);
	}
	TRW(e, a, label, why);
	UNLOCK(&ki->kaio_mtx);
	return 0;
}

/* kern_aio_error L2180-2212, ERROR_FIND: the job's error or EINPROGRESS; *found = 0: go to ERROR_USER. */
int kern_aio_error_find(struct aio_engine *e, actor_t a, PyObject *ujob, int *found)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job;
	int res = 0;

	*found = 0;
	LOCK(&ki->kaio_mtx);
	if (!ki->exists) {
		res = FB_EINVAL, *found = 1;
	} else {
		TAILQ_FOREACH(job, &ki->kaio_all, allist) {
			if (job->ujob == ujob) {
				res = job->jobflags & KAIOCB_FINISHED ? job->uaiocb._aiocb_private.error : FB_EINPROGRESS;
				*found = 1;
				break;
			}
		}
	}
	TR(e, a, ERROR_FIND);
	UNLOCK(&ki->kaio_mtx);
	return res;
}

/* ERROR_USER: the read of user memory gets its place in the trace (the caller reads after). */
void kern_aio_error_user(struct aio_engine *e, actor_t a)
{
	LOCK(&e->aio_job_mtx);
	LOCK(&KI(e)->kaio_mtx);
	TR(e, a, ERROR_USER);
	UNLOCK(&KI(e)->kaio_mtx);
	UNLOCK(&e->aio_job_mtx);
}

/* kern_aio_return L1975-2011, RETURN_FIND: reap a job on kaio_done (NULL: EINVAL). */
struct kaiocb *kern_aio_return_find(struct aio_engine *e, actor_t a, PyObject *ujob)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job = NULL, *j;

	LOCK(&ki->kaio_mtx);
	if (ki->exists) {
		TAILQ_FOREACH(j, &ki->kaio_done, plist) {
			if (j->ujob == ujob) {
				job = j;
				break;
			}
		}
	}
	if (job != NULL)
		aio_free_entry_locked(e, job);
	TR(e, a, RETURN_FIND);
	UNLOCK(&ki->kaio_mtx);
	return job;
}

/* FREE_TAIL: aio_free_entry after the unlock; returns 1 if nothing holds the memory any more. */
int aio_free_tail(struct aio_engine *e, actor_t a, struct kaiocb *job, long *status, int *error)
{
	int now;

	LOCK(&e->aio_job_mtx);
	LOCK(&KI(e)->kaio_mtx);
	*status = job->uaiocb._aiocb_private.status;
	*error = job->uaiocb._aiocb_private.error;
	aio_free_entry_tail(e, job);
	now = job->refs == 0; /* else the last holder puts it on the zombie list */
	TR(e, a, FREE_TAIL);
	UNLOCK(&KI(e)->kaio_mtx);
	UNLOCK(&e->aio_job_mtx);
	return now;
}

/* kern_aio_waitcomplete L2610-2689, WAITC: reap the head of kaio_done (timeout < 0: forever). */
int kern_aio_waitcomplete(struct aio_engine *e, actor_t a, int tmo_ok, double timeout, int may_sleep,
			  struct kaiocb **jobp)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job = NULL;
	int label = L_WAITC, why = C_NONE, err = 0;

	LOCK(&ki->kaio_mtx);
	if (!may_sleep && tmo_ok && TAILQ_EMPTY(&ki->kaio_done) && timeout != 0) {
		UNLOCK(&ki->kaio_mtx);
		return AIO_WOULDSLEEP;
	}
	if (!tmo_ok) {
		err = FB_EINVAL;
	} else {
		ki->exists = 1;
		for (;;) {
			if ((job = TAILQ_FIRST(&ki->kaio_done)) != NULL) {
				aio_free_entry_locked(e, job);
				break;
			}
			if (timeout == 0) {
				err = FB_EAGAIN; /* EWOULDBLOCK */
				break;
			}
			sleep_on_aioinfo(e, a, &label, L_WAITC_SLEEP, &why, timeout);
			if (why == C_TIMEOUT) {
				err = FB_EAGAIN;
				break;
			}
		}
	}
	TRW(e, a, label, why);
	UNLOCK(&ki->kaio_mtx);
	*jobp = job;
	return err;
}

/* kern_aio_suspend L2029-2075: return once a listed job finished (or none is known). */
int kern_aio_suspend(struct aio_engine *e, actor_t a, PyObject *const *targets, Py_ssize_t ntargets,
		     Py_ssize_t total, int tmo_ok, double timeout, int may_sleep)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job;
	int label = L_SUSPEND, why = C_NONE, err = 0, known, fin;
	Py_ssize_t i;

	LOCK(&ki->kaio_mtx);
	if (!tmo_ok || total > e->max_aio_queue_per_proc) {
		err = FB_EINVAL;
	} else if (!ki->exists) {
		err = FB_EAGAIN;
	} else if (total > 0) {
		for (;;) {
			known = fin = 0;
			TAILQ_FOREACH(job, &ki->kaio_all, allist) {
				for (i = 0; i < ntargets; i++)
					if (job->ujob == targets[i])
						break;
				if (i == ntargets)
					continue;
				known = 1;
				if (job->jobflags & KAIOCB_FINISHED) {
					fin = 1;
					break;
				}
			}
			if (!known || fin)
				break; /* a listed job finished, or none is known ("all finished") */
			if (!may_sleep) {
				UNLOCK(&ki->kaio_mtx);
				return AIO_WOULDSLEEP;
			}
			sleep_on_aioinfo(e, a, &label, L_SUSPEND_SLEEP, &why, timeout);
			if (why == C_TIMEOUT) {
				err = FB_EAGAIN;
				break;
			}
		}
	}
	TRW(e, a, label, why);
	UNLOCK(&ki->kaio_mtx);
	return err;
}

/* ---- sys_aio_cancel and aio_proc_rundown ------------------------------------------------- */

struct walk { /* the locals of the TAILQ_FOREACH_SAFE loop */
	int fd;
	PyObject *ujob;
	int rundown;
	int cancelled, notcancelled;
	struct kaiocb *job, *jobn; /* the job whose callback runs, and the saved successor (held) */
	aio_cancel_fn_t *func;
};

/*
 * TAILQ_FOREACH_SAFE(job, &kaio_jobqueue, plist, jobn) from job, kaio held.  Returns 1 when
 * aio_cancel_job must drop the lock for a callback (w->job, w->func; w->jobn saved and held):
 * the walk goes on at w->jobn afterwards, whatever list it is on by then, as C does.  Where C
 * would read freed memory (finding F1) the walk records the fault and stops.
 */
static int aio_cancel_walk(struct aio_engine *e, struct walk *w, struct kaiocb *job)
{
	struct kaiocb *nxt;
	int r;

	while (job != NULL) {
		if (job->freed) {
			aio_fault(e, "UAF: the cancel walk follows freed job %ld (finding F1)", job->jid);
			return 0;
		}
		if (job->onq == PLIST_NONE) {
			aio_fault(e, "STALE: the cancel walk follows unlinked job %ld (finding F1)", job->jid);
			return 0;
		}
		nxt = TAILQ_NEXT(job, plist);
		if (w->rundown || (job->uaiocb.aio_fildes == w->fd && (w->ujob == NULL || job->ujob == w->ujob))) {
			r = aio_cancel_job_begin(e, job);
			if (r == AIO_CALLBACK) {
				w->job = job;
				w->func = job->cancel_fn;
				w->jobn = nxt;
				if (nxt != NULL)
					aio_job_hold(nxt);
				return 1;
			}
			if (!w->rundown) {
				if (r)
					w->cancelled++;
				else
					w->notcancelled++;
				if (w->ujob != NULL)
					return 0;
			}
		}
		job = nxt;
	}
	return 0;
}

/* kaio held: continue the walk at the held successor, then let go of it. */
static int aio_cancel_walk_on(struct aio_engine *e, struct walk *w)
{
	struct kaiocb *from = w->jobn;
	int r;

	w->jobn = NULL;
	r = aio_cancel_walk(e, w, from);
	if (from != NULL)
		aio_job_drop(e, from);
	return r;
}

/* sys_aio_cancel L2112-2177: AIO_CANCELED / AIO_NOTCANCELED / AIO_ALLDONE, or -errno. */
int sys_aio_cancel(struct aio_engine *e, actor_t a, int fd_bad, int fd, PyObject *ujob)
{
	struct kaioinfo *ki = KI(e);
	struct walk w = {fd, ujob, 0, 0, 0, NULL, NULL, NULL};
	int pend = 0, res = 0;

	LOCK(&ki->kaio_mtx);
	if (fd_bad)
		res = -FB_EBADF;
	else if (!ki->exists)
		res = AIO_ALLDONE;
	else
		pend = aio_cancel_walk(e, &w, TAILQ_FIRST(&ki->kaio_jobqueue));
	TR(e, a, CANCEL);
	UNLOCK(&ki->kaio_mtx);
	if (res < 0)
		return res;
	while (pend) {
		pend = 0;
		w.func(e, w.job, a); /* the cancel callback, kaio dropped (CB_DAEMON / CB_SYNC, CB_COMPLETE) */
		LOCK(&ki->kaio_mtx);
		if (aio_cancel_job_end(e, w.job))
			w.cancelled++;
		else
			w.notcancelled++;
		if (ujob == NULL) {
			pend = aio_cancel_walk_on(e, &w);
		} else if (w.jobn != NULL) {
			aio_job_drop(e, w.jobn);
			w.jobn = NULL;
		}
		TR(e, a, CAN_END);
		UNLOCK(&ki->kaio_mtx);
	}
	if (!res)
		res = ujob != NULL && w.cancelled ? AIO_CANCELED
		      : w.notcancelled	      ? AIO_NOTCANCELED
		      : w.cancelled	      ? AIO_CANCELED
					      : AIO_ALLDONE;
	return res;
}

enum { R_CB = 1, R_FREE, R_DRAIN };

/* L700-721, kaio held: free the head of kaio_done, else the lios (A7), else drain. */
static int aio_rundown_free_next(struct aio_engine *e, struct kaiocb **jobp)
{
	struct kaioinfo *ki = KI(e);
	struct aioliojob *lj, *ljn;

	if ((*jobp = TAILQ_FIRST(&ki->kaio_done)) != NULL) {
		aio_free_entry_locked(e, *jobp);
		return R_FREE;
	}
	TAILQ_FOREACH_SAFE(lj, &ki->kaio_liojoblist, lioj_list, ljn) {
		if (lj->lioj_count == 0) {
			TAILQ_REMOVE(&ki->kaio_liojoblist, lj, lioj_list);
			aio_lio_free_locked(e, lj);
		} else {
			aio_fault(e, "panic: LIO job not cleaned up: C:%d, FC:%d (A7)", lj->lioj_count,
				  lj->lioj_finished_count);
		}
	}
	return R_DRAIN;
}

/* After a walk (kaio held): a callback to run, or wait (RUN_SLEEP), or free kaio_done. */
static int aio_rundown_continue(struct aio_engine *e, actor_t a, struct walk *w, int pend, int label,
				struct kaiocb **jobp)
{
	struct kaioinfo *ki = KI(e);
	int why = C_NONE, nxt;

	while (!pend && (!TAILQ_EMPTY(&ki->kaio_jobqueue) || ki->kaio_active_count != 0)) {
		sleep_on_aioinfo(e, a, &label, L_RUN_SLEEP, &why, e->rundown_timeout);
		pend = aio_cancel_walk(e, w, TAILQ_FIRST(&ki->kaio_jobqueue));
	}
	nxt = pend ? R_CB : aio_rundown_free_next(e, jobp);
	TRW(e, a, label, why);
	return nxt;
}

/* aio_proc_rundown L666-735 (called without the GIL): cancel, wait, free everything, drain. */
void aio_proc_rundown(struct aio_engine *e)
{
	struct kaioinfo *ki = KI(e);
	actor_t a = {0, EXIT_INDEX};
	struct walk w = {-1, NULL, 1, 0, 0, NULL, NULL, NULL};
	struct kaiocb *job = NULL;
	int nxt;

	LOCK(&ki->kaio_mtx);
	if (!ki->exists) {
		TR(e, a, RUN_MARK);
		UNLOCK(&ki->kaio_mtx);
		return;
	}
	ki->kaio_flags |= KAIO_RUNDOWN;
	nxt = aio_rundown_continue(e, a, &w, aio_cancel_walk(e, &w, TAILQ_FIRST(&ki->kaio_jobqueue)), L_RUN_MARK,
				   &job);
	UNLOCK(&ki->kaio_mtx);
	for (;;) {
		if (nxt == R_CB) {
			w.func(e, w.job, a);
			LOCK(&ki->kaio_mtx);
			aio_cancel_job_end(e, w.job);
			nxt = aio_rundown_continue(e, a, &w, aio_cancel_walk_on(e, &w), L_CAN_END, &job);
			UNLOCK(&ki->kaio_mtx);
		} else if (nxt == R_FREE) {
			LOCK(&ki->kaio_mtx); /* no lock in the seed; here it guards the holders' count */
			aio_free_entry_tail(e, job);
			if (job->refs == 0) {
				job->znext = e->zjobs;
				e->zjobs = job;
			}
			TR(e, a, RUN_FREE_TAIL);
			UNLOCK(&ki->kaio_mtx);
			LOCK(&ki->kaio_mtx);
			nxt = aio_rundown_free_next(e, &job);
			TR(e, a, RUN_RELOCK);
			UNLOCK(&ki->kaio_mtx);
		} else {
			LOCK(&ki->kaio_mtx);
			while (ki->task_pending || ki->task_running)
				pthread_cond_wait(&ki->drain_cv, &ki->kaio_mtx); /* taskqueue_drain(kaio_sync_task) */
			ki->exists = 0;
			TR(e, a, RUN_DRAIN);
			UNLOCK(&ki->kaio_mtx);
			return;
		}
	}
}
