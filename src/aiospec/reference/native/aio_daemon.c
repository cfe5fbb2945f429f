/*
 * The threads of the native engine and what they run: the backends (aio_process_rw,
 * aio_process_sync, aio_process_mlock on the real descriptor), the AIO daemons (aio_daemon:
 * D_SELECT, D_RUN, D_COMPLETE, D_RELEASE as kernel.py's _aio_daemon), the fsync task
 * (aio_schedule_fsync: TASK_START, TASK_SCHED, TASK_CANCEL, TASK_RELOCK) and the engine's
 * life cycle.  No Python object is touched here, and no GIL is taken.
 */
#include "aio_engine.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>


/* ---- the backends ------------------------------------------------------------------------ */

int host_errno(int e)
{
	switch (e) {
	case EINTR: return FB_EINTR;
	case EIO: return FB_EIO;
	case ENXIO: return FB_ENXIO;
	case EBADF: return FB_EBADF;
	case EFAULT: return FB_EFAULT;
	case EINVAL: return FB_EINVAL;
	case EPIPE: return FB_EPIPE;
	case EAGAIN: return FB_EAGAIN;
	case EINPROGRESS: return FB_EINPROGRESS;
	case EOPNOTSUPP: return FB_EOPNOTSUPP;
	case ECANCELED: return FB_ECANCELED;
	default: return e;
	}
}

/* aio_process_rw L805: one fo_read/fo_write (pread/pwrite; read/write on a FIFO or socket, whose
 * offset fo_read/fo_write ignore); a bad user buffer faults (EFAULT). */
void aio_process_rw(struct kaiocb *job, long *status, int *error)
{
	struct aio_uaiocb *cb = &job->uaiocb;
	ssize_t r;

	if (cb->aio_lio_opcode == LIO_READ && cb->aio_nbytes == 0) {
		*status = 0, *error = 0; /* no fo_read for an empty read */
		return;
	}
	if (job->efault) {
		*status = -1, *error = FB_EFAULT;
		return;
	}
	do {
		if (job->stream) /* a pipe's fo_read/fo_write: the offset is ignored */
			r = cb->aio_lio_opcode == LIO_READ ? read(cb->aio_fildes, cb->aio_buf, cb->aio_nbytes)
							   : write(cb->aio_fildes, cb->aio_buf, cb->aio_nbytes);
		else if (cb->aio_lio_opcode == LIO_READ)
			r = pread(cb->aio_fildes, cb->aio_buf, cb->aio_nbytes, (off_t)cb->aio_offset);
		else
			r = pwrite(cb->aio_fildes, cb->aio_buf, cb->aio_nbytes, (off_t)cb->aio_offset);
		if (r < 0 && errno == ESPIPE && !job->stream) {
			job->stream = 1; /* not seekable after all: read/write, once per request */
			errno = EINTR;
		}
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		*status = -1, *error = host_errno(errno);
	else
		*status = (long)r, *error = 0;
}

/* aio_process_sync L898. */
void aio_process_sync(struct kaiocb *job, long *status, int *error)
{
	int r;

	do
		r = fsync(job->uaiocb.aio_fildes);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		*status = -1, *error = host_errno(errno);
	else
		*status = 0, *error = 0;
}

/* aio_process_mlock L919: nothing to wire here. */
void aio_process_mlock(struct kaiocb *job, long *status, int *error)
{
	(void)job;
	*status = 0, *error = 0;
}

/* ---- the daemons and the sync task ------------------------------------------------------- */

struct daemon_arg {
	struct aio_engine *e;
	int d;
};

/*
 * Waking daemons (a scheduling detail; the seed's aio_kick_nowait wakes one free daemon per
 * request).  Here a request wakes a sleeping daemon only if more jobs wait on aio_jobs than
 * daemons are already on their way to them (woken: `pending`, or polling: `spinning`), and
 * before sleeping on aio_freeproc one idle daemon at a time polls aio_jobs for spin_ns,
 * yielding the CPU between polls.  This saves a futex wakeup per request when requests come
 * faster than a sleep/wakeup round trip, without starving anyone: a daemon that takes a job
 * and leaves more behind wakes the next one.  spin_ns = 0 disables polling.
 */
static int aio_daemon_spin(struct aio_engine *e)
{
	struct timespec t0, t;
	long ns = e->spin_ns;

	if (ns <= 0 || __atomic_exchange_n(&e->spinning, 1, __ATOMIC_ACQ_REL))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(&e->aio_jobs.tqh_first, __ATOMIC_RELAXED) == NULL &&
	       !__atomic_load_n(&e->stopping, __ATOMIC_RELAXED)) {
		sched_yield(); /* a runnable thread (the submitter, on a busy machine) gets the CPU */
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > ns)
			break;
	}
	return 1; /* still counted as on its way until it holds aio_job_mtx */
}

/* aio_job_mtx held: wake a sleeping daemon if the waiting jobs outnumber the daemons coming. */
void aio_kick_more(struct aio_engine *e)
{
	int coming = e->pending + __atomic_load_n(&e->spinning, __ATOMIC_ACQUIRE);

	if (e->njobs > coming && e->idle > e->pending) {
		e->pending++;
		pthread_cond_signal(&e->aio_freeproc);
	}
}

/* aio_daemon L1158-1262: select, run the handler unlocked, complete, release. */
static void *aio_daemon(void *arg)
{
	struct daemon_arg *da = arg;
	struct aio_engine *e = da->e;
	struct kaioinfo *ki = KI(e);
	actor_t a = {1, da->d};
	struct kaiocb *job = NULL;
	long status;
	int error, spun;

	free(da);
	for (;;) {
		if (job == NULL) { /* idle on aio_freeproc until aio_kick_nowait */
			spun = aio_daemon_spin(e);
			pthread_mutex_lock(&e->aio_job_mtx);
			if (spun)
				__atomic_store_n(&e->spinning, 0, __ATOMIC_RELEASE);
			while (TAILQ_EMPTY(&e->aio_jobs) || ki->kaio_active_count >= e->max_aio_per_proc) {
				if (e->stopping) {
					pthread_mutex_unlock(&e->aio_job_mtx);
					return NULL;
				}
				e->idle++;
				pthread_cond_wait(&e->aio_freeproc, &e->aio_job_mtx);
				e->idle--;
				if (e->pending > 0)
					e->pending--;
			}
			pthread_mutex_lock(&ki->kaio_mtx);
			job = aio_selectjob(e);
			TR(e, a, D_SELECT);
			pthread_mutex_unlock(&ki->kaio_mtx);
			aio_kick_more(e);
			pthread_mutex_unlock(&e->aio_job_mtx);
			continue;
		}
		job->handle_fn(job, &status, &error);
		job->uaiocb._aiocb_private.status = status; /* aio_complete L1115-1116, unlocked */
		job->uaiocb._aiocb_private.error = error;
		if (e->tracing)
			aio_trace_step(e, a, L_D_RUN, C_IO, status, error);
		pthread_mutex_lock(&ki->kaio_mtx);
		aio_complete_locked(e, job);
		TR(e, a, D_COMPLETE);
		pthread_mutex_unlock(&ki->kaio_mtx);
		pthread_mutex_lock(&e->aio_job_mtx);
		pthread_mutex_lock(&ki->kaio_mtx);
		ki->kaio_active_count--;
		job = aio_selectjob(e);
		TR(e, a, D_RELEASE);
		pthread_mutex_unlock(&ki->kaio_mtx);
		if (job != NULL)
			aio_kick_more(e);
		pthread_mutex_unlock(&e->aio_job_mtx);
	}
}

/* kaio held: the next job of kaio_syncready; wakes taskqueue_drain when there is none. */
static struct kaiocb *aio_task_pop(struct aio_engine *e)
{
	struct kaioinfo *ki = KI(e);
	struct kaiocb *job = TAILQ_FIRST(&ki->kaio_syncready);

	if (job != NULL)
		TAILQ_REMOVE(&ki->kaio_syncready, job, list);
	ki->task_running = job != NULL;
	if (job == NULL)
		pthread_cond_broadcast(&ki->drain_cv);
	return job;
}

/* aio_schedule_fsync L1016-1030 on the aiod_kick taskqueue. */
static void *aio_schedule_fsync(void *arg)
{
	struct aio_engine *e = arg;
	struct kaioinfo *ki = KI(e);
	actor_t a = {2, 0};
	struct kaiocb *job;
	int ok;

	for (;;) {
		pthread_mutex_lock(&ki->kaio_mtx);
		while (!ki->task_pending) {
			if (e->stopping) {
				pthread_mutex_unlock(&ki->kaio_mtx);
				return NULL;
			}
			pthread_cond_wait(&ki->task_cv, &ki->kaio_mtx);
		}
		ki->task_pending = 0;
		job = aio_task_pop(e);
		TR(e, a, TASK_START);
		pthread_mutex_unlock(&ki->kaio_mtx);
		while (job != NULL) {
			pthread_mutex_lock(&e->aio_job_mtx);
			pthread_mutex_lock(&ki->kaio_mtx);
			ok = aio_schedule_locked(e, job, aio_process_sync);
			if (!ok) {
				job->uaiocb._aiocb_private.status = -1;
				job->uaiocb._aiocb_private.error = FB_ECANCELED;
			}
			TR(e, a, TASK_SCHED);
			pthread_mutex_unlock(&ki->kaio_mtx);
			pthread_mutex_unlock(&e->aio_job_mtx);
			if (!ok) { /* sticky cancel: aio_cancel(job) */
				pthread_mutex_lock(&ki->kaio_mtx);
				aio_complete_locked(e, job);
				TR(e, a, TASK_CANCEL);
				pthread_mutex_unlock(&ki->kaio_mtx);
			}
			pthread_mutex_lock(&ki->kaio_mtx);
			job = aio_task_pop(e);
			TR(e, a, TASK_RELOCK);
			pthread_mutex_unlock(&ki->kaio_mtx);
		}
	}
}

/* ---- life cycle -------------------------------------------------------------------------- */

int aio_engine_init(struct aio_engine *e)
{
	struct kaioinfo *ki = KI(e);
	pthread_condattr_t ca;

	pthread_mutexattr_t ma;

	/* the critical sections are a few list operations: spin briefly before sleeping */
	pthread_mutexattr_init(&ma);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&e->aio_job_mtx, &ma);
	pthread_cond_init(&e->aio_freeproc, NULL);
	pthread_mutex_init(&ki->kaio_mtx, &ma);
	pthread_cond_init(&ki->kaio_cv, &ca);
	pthread_cond_init(&ki->task_cv, NULL);
	pthread_cond_init(&ki->drain_cv, NULL);
	pthread_mutex_init(&e->note_mtx, &ma);
	pthread_cond_init(&e->note_cv, NULL);
	pthread_mutex_init(&e->fault_mtx, NULL);
	pthread_condattr_destroy(&ca);
	pthread_mutexattr_destroy(&ma);
	e->tchunks = calloc(TCHUNKS_MAX, sizeof(struct trec *));
	if (e->tchunks == NULL)
		return ENOMEM;
	TAILQ_INIT(&e->aio_jobs);
	TAILQ_INIT(&ki->kaio_all);
	TAILQ_INIT(&ki->kaio_done);
	TAILQ_INIT(&ki->kaio_liojoblist);
	TAILQ_INIT(&ki->kaio_jobqueue);
	TAILQ_INIT(&ki->kaio_syncqueue);
	TAILQ_INIT(&ki->kaio_syncready);
	e->jobrefid = 1;
	e->jobseqno = 0;
	return 0;
}

/* Create the daemons and the task with every signal blocked (the interpreter handles them). */
int aio_engine_start(struct aio_engine *e)
{
	sigset_t all, old;
	int d, rc = 0;

	e->daemons = calloc((size_t)e->n_daemons, sizeof(pthread_t));
	if (e->daemons == NULL)
		return ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (d = 0; d < e->n_daemons && rc == 0; d++) {
		struct daemon_arg *da = malloc(sizeof(*da));
		if (da == NULL) {
			rc = ENOMEM;
			break;
		}
		da->e = e;
		da->d = d;
		rc = pthread_create(&e->daemons[d], NULL, aio_daemon, da);
		if (rc != 0)
			free(da);
		else
			e->started++;
	}
	if (rc == 0) {
		rc = pthread_create(&e->task, NULL, aio_schedule_fsync, e);
		if (rc == 0)
			e->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Stop the daemons and the task, join them, and tell the notifier to finish its queue. */
void aio_engine_stop(struct aio_engine *e)
{
	int d, n;

	if (e->joined)
		return;
	pthread_mutex_lock(&e->aio_job_mtx);
	pthread_mutex_lock(&e->ki.kaio_mtx);
	e->stopping = 1;
	pthread_cond_broadcast(&e->aio_freeproc);
	pthread_cond_broadcast(&e->ki.task_cv);
	pthread_mutex_unlock(&e->ki.kaio_mtx);
	pthread_mutex_unlock(&e->aio_job_mtx);
	n = e->started;
	for (d = 0; d < e->n_daemons && n > 0; d++, n--)
		pthread_join(e->daemons[d], NULL);
	if (n > 0)
		pthread_join(e->task, NULL);
	e->joined = 1;
	pthread_mutex_lock(&e->note_mtx);
	e->note_stop = 1;
	pthread_cond_broadcast(&e->note_cv);
	pthread_mutex_unlock(&e->note_mtx);
}

void aio_engine_destroy(struct aio_engine *e)
{
	size_t i;

	for (i = 0; i < e->nfaults; i++)
		free(e->faults[i]);
	free(e->faults);
	for (i = 0; e->tchunks != NULL && i < TCHUNKS_MAX; i++)
		free(e->tchunks[i]);
	free(e->tchunks);
	free(e->daemons);
	e->faults = NULL;
	e->tchunks = NULL;
	e->daemons = NULL;
}
