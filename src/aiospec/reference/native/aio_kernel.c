/*
 * The kernel half of the native engine: the in-file functions of vfs_aio.c that run inside a
 * critical section (each says which lock its caller holds, as the seed does) and the cancel
 * callbacks (aio_cancel_daemon_job, aio_cancel_sync).  Mirrors kernel.py step for step.
 * Nothing here touches a Python object: the notifier thread (aio_module.c) delivers what
 * aio_bio_done_notify queues.  The threads and the backends are in aio_daemon.c.
 */
#include "aio_engine.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* ---- trace, faults, sleeping ------------------------------------------------------------- */

void aio_trace_step(struct aio_engine *e, actor_t a, int label, int ctype, long status, int error)
{
	size_t i = __atomic_fetch_add(&e->tnext, 1, __ATOMIC_ACQ_REL), c = i >> TCHUNK_SHIFT;
	struct trec *chunk, *fresh = NULL, *r;

	if (c >= TCHUNKS_MAX) {
		aio_fault(e, "trace: full, a step was lost");
		return;
	}
	chunk = __atomic_load_n(&e->tchunks[c], __ATOMIC_ACQUIRE);
	if (chunk == NULL) {
		fresh = calloc(TCHUNK, sizeof(struct trec));
		if (fresh == NULL) {
			aio_fault(e, "trace: out of memory, a step was lost");
			return;
		}
		if (__atomic_compare_exchange_n(&e->tchunks[c], &chunk, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			chunk = fresh;
		else
			free(fresh); /* another writer installed it */
	}
	r = &chunk[i & (TCHUNK - 1)];
	r->kind = (int16_t)a.kind;
	r->index = a.index;
	r->label = (uint8_t)label;
	r->ctype = (uint8_t)ctype;
	r->status = status;
	r->error = error;
	__atomic_store_n(&r->valid, 1, __ATOMIC_RELEASE);
}

/* Something the seed would panic on or read freed memory for (the checker says which). */
void aio_fault(struct aio_engine *e, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&e->fault_mtx);
	if (e->nfaults == e->capfaults) {
		size_t cap = e->capfaults ? e->capfaults * 2 : 8;
		char **v = realloc(e->faults, cap * sizeof(*v));
		if (v != NULL) {
			e->faults = v;
			e->capfaults = cap;
		}
	}
	if (e->nfaults < e->capfaults) {
		char *s = strdup(buf);
		if (s != NULL)
			e->faults[e->nfaults++] = s;
	}
	pthread_mutex_unlock(&e->fault_mtx);
}

/* msleep(&p->p_aioinfo, kaio_mtx, timeout), kaio held: C_WAKEUP if a wakeup() reached it. */
/* ki->kaio_flags |= KAIO_WAKEUP; msleep(&p->p_aioinfo, ...): the step that was running ends (it is
 * traced), the caller sleeps at sleep_label, and *why says how it woke (spec: kernel.sleep_on_aioinfo). */
int sleep_on_aioinfo(struct aio_engine *e, actor_t a, int *label, int sleep_label, int *why, double timeout)
{
	KI(e)->kaio_flags |= KAIO_WAKEUP;
	TRW(e, a, *label, *why);
	*label = sleep_label;
	*why = aio_sleep(e, timeout);
	return *why;
}

int aio_sleep(struct aio_engine *e, double timeout)
{
	struct kaioinfo *ki = KI(e);
	struct aio_sleeper s, **pp;
	struct timespec dl;

	s.woken = 0;
	s.next = ki->sleepers;
	ki->sleepers = &s;
	if (timeout < 0) {
		while (!s.woken)
			pthread_cond_wait(&ki->kaio_cv, &ki->kaio_mtx);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += (time_t)timeout;
		dl.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		while (!s.woken)
			if (pthread_cond_timedwait(&ki->kaio_cv, &ki->kaio_mtx, &dl) == ETIMEDOUT)
				break;
	}
	for (pp = &ki->sleepers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &s) {
			*pp = s.next;
			break;
		}
	return s.woken ? C_WAKEUP : C_TIMEOUT;
}

/* ---- memory: holders of freed jobs and lios ---------------------------------------------- */

void aio_job_hold(struct kaiocb *job)
{
	job->refs++;
}

/* kaio held: let go of a job; once it is freed and unheld it goes to the zombie list. */
int aio_job_drop(struct aio_engine *e, struct kaiocb *job)
{
	if (--job->refs == 0 && job->freed) {
		job->znext = e->zjobs;
		e->zjobs = job;
		return 1;
	}
	return 0;
}

/* kaio held: uma_zfree(aiolio_zone, lj), deferred while a notification still names it. */
void aio_lio_free_locked(struct aio_engine *e, struct aioliojob *lj)
{
	lj->freed = 1;
	if (lj->refs == 0) {
		lj->znext = e->zlios;
		e->zlios = lj;
	}
}

static void aio_lio_drop(struct aio_engine *e, struct aioliojob *lj)
{
	if (--lj->refs == 0 && lj->freed) {
		lj->znext = e->zlios;
		e->zlios = lj;
	}
}

/* kaio held: TAILQ_REMOVE(&kaio_jobqueue or &kaio_done, job, plist). */
void aio_plist_remove(struct aio_engine *e, struct kaiocb *job, int which)
{
	struct kaioinfo *ki = KI(e);

	if (job->onq != which) {
		aio_fault(e, "job %ld is not on the list it is removed from (%d, on %d)", job->jid, which, job->onq);
		return;
	}
	if (which == PLIST_JOBQUEUE)
		TAILQ_REMOVE(&ki->kaio_jobqueue, job, plist);
	else
		TAILQ_REMOVE(&ki->kaio_done, job, plist);
	job->onq = PLIST_NONE;
}

/* ---- notification ------------------------------------------------------------------------ */

/* kaio held: queue a knote / SIGEV_THREAD-style callback for the notifier (never under a lock there). */
static void aio_post(struct aio_engine *e, int sigev, PyObject *fn, PyObject *ident, struct kaiocb *job,
		     struct aioliojob *lio)
{
	struct anote *n = malloc(sizeof(*n));

	if (n == NULL) {
		aio_fault(e, "a notification was dropped: out of memory");
		return;
	}
	n->next = NULL;
	n->sigev = sigev;
	n->fn = fn;
	n->ident = ident;
	n->job = job;
	n->lio = lio;
	if (job != NULL)
		aio_job_hold(job);
	else
		lio->refs++;
	pthread_mutex_lock(&e->note_mtx);
	if (e->note_tail != NULL)
		e->note_tail->next = n;
	else
		e->note_head = n;
	e->note_tail = n;
	pthread_cond_signal(&e->note_cv);
	pthread_mutex_unlock(&e->note_mtx);
}

/* kaio held: the delivery of n is over; let go of what it named. */
void aio_note_done(struct aio_engine *e, struct anote *n)
{
	if (n->job != NULL)
		aio_job_drop(e, n->job);
	else
		aio_lio_drop(e, n->lio);
}

/* aio_bio_done_notify L960-973 / kern_lio_listio L2445-2459, kaio held. */
void aio_post_lio(struct aio_engine *e, struct aioliojob *lj)
{
	if (lj->lioj_sigev == AIO_SIGEV_KEVENT) {
		lj->lioj_flags |= LIOJ_KEVENT_POSTED;
		aio_post(e, AIO_SIGEV_KEVENT, lj->lioj_notify, lj->ident, NULL, lj);
	}
	if ((lj->lioj_flags & (LIOJ_SIGNAL | LIOJ_SIGNAL_POSTED)) == LIOJ_SIGNAL) {
		lj->lioj_flags |= LIOJ_SIGNAL_POSTED;
		aio_post(e, AIO_SIGEV_SIGNAL, lj->lioj_notify, lj->ident, NULL, lj);
	}
}

/* ---- the in-file kernel functions (kaio held unless said otherwise) ---------------------- */

/* L934-1013: the one place a job becomes visible as done; runs once per job. */
void aio_bio_done_notify(struct aio_engine *e, struct kaiocb *job)
{
	struct kaioinfo *ki = KI(e);
	struct aioliojob *lj = job->lio;
	struct kaiocb *sjob, *sjobn;
	struct aio_sleeper *s;
	int lj_done = 0, schedule_fsync = 0;

	if (lj != NULL) {
		lj->lioj_finished_count++;
		lj_done = lj->lioj_count == lj->lioj_finished_count;
	}
	TAILQ_INSERT_TAIL(&ki->kaio_done, job, plist);
	job->onq = PLIST_DONE;
	e->notifies++;
	if (!(ki->kaio_flags & KAIO_RUNDOWN)) {
		if (job->sigev == AIO_SIGEV_SIGNAL || job->sigev == AIO_SIGEV_KEVENT)
			aio_post(e, job->sigev, job->notify, job->ujob, job, NULL);
		if (lj_done)
			aio_post_lio(e, lj);
	}
	if (job->jobflags & KAIOCB_CHECKSYNC) {
		TAILQ_FOREACH_SAFE(sjob, &ki->kaio_syncqueue, list, sjobn) {
			if (job->uaiocb.aio_fildes != sjob->uaiocb.aio_fildes || job->seqno >= sjob->seqno)
				continue;
			if (--sjob->pending > 0)
				continue;
			TAILQ_REMOVE(&ki->kaio_syncqueue, sjob, list);
			if (!aio_clear_cancel_function_locked(e, sjob))
				continue; /* CLEARED: the running cancel callback completes it */
			TAILQ_INSERT_TAIL(&ki->kaio_syncready, sjob, list);
			schedule_fsync = 1;
		}
		if (schedule_fsync) {
			ki->task_pending = 1; /* taskqueue_enqueue(kaio_sync_task) */
			pthread_cond_signal(&ki->task_cv);
		}
	}
	if (ki->kaio_flags & KAIO_WAKEUP) {
		ki->kaio_flags &= ~KAIO_WAKEUP;
		for (s = ki->sleepers; s != NULL; s = s->next)
			s->woken = 1;
		pthread_cond_broadcast(&ki->kaio_cv);
	}
}

/* L1043-1058: fails (and marks CLEARED) while a cancel callback is about to run. */
int aio_clear_cancel_function_locked(struct aio_engine *e, struct kaiocb *job)
{
	if (job->cancel_fn == NULL)
		aio_fault(e, "aio_clear_cancel_function: job %ld has no cancel_fn (A4)", job->jid);
	if (job->jobflags & KAIOCB_CANCELLING) {
		job->jobflags |= KAIOCB_CLEARED;
		return 0;
	}
	job->cancel_fn = NULL;
	return 1;
}

/* L1075-1085: fails once CANCELLED is set ("sticky cancel"). */
int aio_set_cancel_function_locked(struct aio_engine *e, struct kaiocb *job, aio_cancel_fn_t *fn)
{
	(void)e;
	if (job->jobflags & KAIOCB_CANCELLED)
		return 0;
	job->cancel_fn = fn;
	return 1;
}

/* aio_complete L1110-1134 (the result was stored unlocked before): "last one finishes". */
void aio_complete_locked(struct aio_engine *e, struct kaiocb *job)
{
	if (job->jobflags & KAIOCB_FINISHED) {
		aio_fault(e, "duplicate aio_complete of job %ld (A1)", job->jid);
		return;
	}
	job->jobflags |= KAIOCB_FINISHED;
	e->completes++;
	if (!(job->jobflags & (KAIOCB_QUEUEING | KAIOCB_CANCELLING))) {
		aio_plist_remove(e, job, PLIST_JOBQUEUE);
		aio_bio_done_notify(e, job);
	}
	/* else deferred: the commit (QUEUEING) or aio_cancel_job (CANCELLING) finishes it */
}

/* aio_free_entry L521-567 up to the unlock: the bookkeeping. */
void aio_free_entry_locked(struct aio_engine *e, struct kaiocb *job)
{
	struct kaioinfo *ki = KI(e);
	struct aioliojob *lj;

	if (!(job->jobflags & KAIOCB_FINISHED))
		aio_fault(e, "aio_free_entry of unfinished job %ld (A2)", job->jid);
	e->num_queue_count--;
	ki->kaio_count--;
	aio_plist_remove(e, job, PLIST_DONE);
	TAILQ_REMOVE(&ki->kaio_all, job, allist);
	lj = job->lio;
	if (lj != NULL) {
		lj->lioj_count--;
		lj->lioj_finished_count--;
		if (lj->lioj_count == 0) {
			TAILQ_REMOVE(&ki->kaio_liojoblist, lj, lioj_list);
			aio_lio_free_locked(e, lj);
		}
	}
}

/* aio_free_entry L569-599 (fdrop, crfree, uma_zfree), kaio held here for the holders' sake. */
void aio_free_entry_tail(struct aio_engine *e, struct kaiocb *job)
{
	if (job->freed)
		aio_fault(e, "job %ld freed twice", job->jid);
	job->freed = 1;
	e->frees++;
}

/* aio_cancel_job L612-642 up to the lock drop: 0, or AIO_CALLBACK with CANCELLING set. */
int aio_cancel_job_begin(struct aio_engine *e, struct kaiocb *job)
{
	if (job->jobflags & (KAIOCB_CANCELLED | KAIOCB_FINISHED))
		return 0;
	if (job->jobflags & KAIOCB_CANCELLING)
		aio_fault(e, "aio_cancel_job: job %ld already CANCELLING (A3)", job->jid);
	job->jobflags |= KAIOCB_CANCELLED;
	if (job->cancel_fn == NULL)
		return 0; /* being serviced: it completes normally, or a backend cancels it later */
	job->jobflags |= KAIOCB_CANCELLING;
	return AIO_CALLBACK;
}

/* aio_cancel_job L643-659 after re-taking kaio: finish a deferred completion. */
int aio_cancel_job_end(struct aio_engine *e, struct kaiocb *job)
{
	int cancelled;

	job->jobflags &= ~KAIOCB_CANCELLING;
	if (job->jobflags & KAIOCB_FINISHED) {
		cancelled = job->uaiocb._aiocb_private.error == FB_ECANCELED;
		aio_plist_remove(e, job, PLIST_JOBQUEUE);
		aio_bio_done_notify(e, job);
		return cancelled;
	}
	return 0;
}

/* L741-771, aio_job_mtx and kaio held. */
struct kaiocb *aio_selectjob(struct aio_engine *e)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job;

restart:
	TAILQ_FOREACH(job, &e->aio_jobs, list) {
		if (ki->kaio_active_count < e->max_aio_per_proc) {
			TAILQ_REMOVE(&e->aio_jobs, job, list);
			e->njobs--;
			if (!aio_clear_cancel_function_locked(e, job))
				goto restart; /* the callback owns it now */
			ki->kaio_active_count++;
			return job;
		}
	}
	return NULL;
}

/* aio_schedule L1803-1816 with aio_job_mtx and kaio held; 0: the caller must aio_cancel. */
int aio_schedule_locked(struct aio_engine *e, struct kaiocb *job, aio_handle_fn_t *fn)
{
	if (!aio_set_cancel_function_locked(e, job, aio_cancel_daemon_job))
		return 0;
	job->handle_fn = fn;
	TAILQ_INSERT_TAIL(&e->aio_jobs, job, list);
	e->njobs++;
	aio_kick_more(e); /* aio_kick_nowait: wake a free daemon, unless one is polling */
	return 1;
}

/* aio_cancel L1138 after a cancel callback (no lock held): the CB_COMPLETE step. */
static void aio_cancel_complete(struct aio_engine *e, struct kaiocb *job, actor_t a)
{
	pthread_mutex_lock(&KI(e)->kaio_mtx);
	aio_complete_locked(e, job);
	TR(e, a, CB_COMPLETE);
	pthread_mutex_unlock(&KI(e)->kaio_mtx);
}

/* aio_cancel_daemon_job L1792, no lock held on entry (aio_cancel_job dropped kaio). */
void aio_cancel_daemon_job(struct aio_engine *e, struct kaiocb *job, actor_t a)
{
	pthread_mutex_lock(&e->aio_job_mtx);
	if (!(job->jobflags & KAIOCB_CLEARED)) {
		TAILQ_REMOVE(&e->aio_jobs, job, list);
		e->njobs--;
	}
	job->uaiocb._aiocb_private.status = -1;
	job->uaiocb._aiocb_private.error = FB_ECANCELED;
	TR(e, a, CB_DAEMON);
	pthread_mutex_unlock(&e->aio_job_mtx);
	aio_cancel_complete(e, job, a);
}

/* aio_cancel_sync L1819, no lock held on entry. */
void aio_cancel_sync(struct aio_engine *e, struct kaiocb *job, actor_t a)
{
	struct kaioinfo *ki = KI(e);

	pthread_mutex_lock(&ki->kaio_mtx);
	if (!(job->jobflags & KAIOCB_CLEARED))
		TAILQ_REMOVE(&ki->kaio_syncqueue, job, list);
	job->uaiocb._aiocb_private.status = -1;
	job->uaiocb._aiocb_private.error = FB_ECANCELED;
	TR(e, a, CB_SYNC);
	pthread_mutex_unlock(&ki->kaio_mtx);
	aio_cancel_complete(e, job, a);
}
