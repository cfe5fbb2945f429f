/*
 * The native hot path of the reference engine: FreeBSD's POSIX AIO (sys/kern/vfs_aio.c) as
 * a userland engine in C with pthreads.  Structures and functions keep the seed's names
 * (struct kaiocb, struct aioliojob, struct kaioinfo, aio_jobs, aio_job_mtx, kaio_mtx,
 * aio_selectjob, aio_process_rw, aio_complete, aio_bio_done_notify, aio_cancel_job, ...), and
 * every critical section is one step (label) of the spec, recorded when tracing is on, exactly
 * where the Python engine (engine.py, kernel.py, cancel.py) records it.
 *
 * Threads and the GIL.  The daemons and the fsync task never touch a Python object: a job
 * carries a C copy of the aiocb and the exported buffer (Py_buffer, taken at submission).
 * User calls hold the GIL except while they sleep (msleep), and the rule that keeps the GIL
 * and the engine's mutexes deadlock-free is: a thread holding an engine mutex never waits
 * for the GIL and never calls into Python code that could release it.  So Python objects
 * are read before a call takes its locks and written after it drops them (the GIL keeps the
 * reads, the steps and the writes of one call atomic with respect to other Python threads),
 * and references are dropped only by GIL holders: a freed job or lio whose memory is still
 * pinned (a pending notification, or a cancel walk holding it as its saved successor) waits
 * on a zombie list until the last holder lets go.
 */
#ifndef AIOSPEC_AIO_ENGINE_H
#define AIOSPEC_AIO_ENGINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar) \
	for ((var) = TAILQ_FIRST((head)); (var) && ((tvar) = TAILQ_NEXT((var), field), 1); (var) = (tvar))
#endif

/* jobflags (L234-239) */
#define KAIOCB_QUEUEING 0x01
#define KAIOCB_CANCELLED 0x02
#define KAIOCB_CANCELLING 0x04
#define KAIOCB_CHECKSYNC 0x08
#define KAIOCB_CLEARED 0x10
#define KAIOCB_FINISHED 0x20

/* lioj_flags (L258-260) */
#define LIOJ_SIGNAL 0x1
#define LIOJ_SIGNAL_POSTED 0x2
#define LIOJ_KEVENT_POSTED 0x4

/* kaio_flags (L282-283) */
#define KAIO_RUNDOWN 0x1
#define KAIO_WAKEUP 0x2

/* aio_lio_opcode (sys/aio.h) */
#define LIO_NOP 0
#define LIO_WRITE 1
#define LIO_READ 2
#define LIO_SYNC 3
#define LIO_MLOCK 4
#define LIO_INVALID 99

#define LIO_NOWAIT 0
#define LIO_WAIT 1

/* sigev_notify as the spec names it: NONE, SIGNAL (a callable), KEVENT (a KeventFd) */
#define AIO_SIGEV_NONE 1
#define AIO_SIGEV_SIGNAL 2
#define AIO_SIGEV_KEVENT 3
#define AIO_SIGEV_INVALID 4

/* aio_cancel results */
#define AIO_CANCELED 1
#define AIO_NOTCANCELED 2
#define AIO_ALLDONE 3

/* FreeBSD errno values (aiospec.spec.constants.Errno), not the host's */
#define FB_EINTR 4
#define FB_EIO 5
#define FB_ENXIO 6
#define FB_EBADF 9
#define FB_EFAULT 14
#define FB_EINVAL 22
#define FB_EPIPE 32
#define FB_EAGAIN 35
#define FB_EINPROGRESS 36
#define FB_EOPNOTSUPP 45
#define FB_ECANCELED 85

#define AIO_IOSIZE_MAX 2147483647LL
#define AIO_WOULDSLEEP (-1000) /* a probe under the GIL found it must sleep: retry without it */
#define AIO_CALLBACK (-2)      /* aio_cancel_job dropped kaio_mtx to run a cancel callback */

/* the spec's actors: 0 = user thread (index; -1 = the exiting thread), 1 = daemon, 2 = task */
typedef struct {
	int kind;
	int index;
} actor_t;
#define EXIT_INDEX (-1)

/* the spec's labels, in the order of aiospec.reference's recorder; L_<name> */
#define AIO_LABELS(X)                                                                                              \
	X(SUB_CHECK) X(SUB_NUMBER) X(SUB_SCHED) X(SUB_SYNC) X(SUB_CANCEL) X(SUB_COMMIT) X(LIO_OPEN) X(LIO_CLOSE)     \
	X(LIO_SLEEP) X(ERROR_FIND) X(ERROR_USER) X(RETURN_FIND) X(FREE_TAIL) X(WAITC) X(WAITC_SLEEP) X(SUSPEND)      \
	X(SUSPEND_SLEEP) X(CANCEL) X(CB_DAEMON) X(CB_SYNC) X(CB_COMPLETE) X(CAN_END) X(RUN_MARK) X(RUN_SLEEP)       \
	X(RUN_FREE_TAIL) X(RUN_RELOCK) X(RUN_DRAIN) X(D_SELECT) X(D_RUN) X(D_COMPLETE) X(D_RELEASE) X(TASK_START)   \
	X(TASK_SCHED) X(TASK_CANCEL) X(TASK_RELOCK)
#define AIO_LABEL_ENUM(n) L_##n,
enum aio_label { AIO_LABELS(AIO_LABEL_ENUM) L_COUNT };

/* a step's choice: none, an I/O result (status, error), or why a sleep ended */
enum aio_choice { C_NONE = 0, C_IO, C_WAKEUP, C_TIMEOUT, C_SIGNAL };

struct trec {
	int32_t index;
	int16_t kind;
	uint8_t label;
	uint8_t ctype;
	int32_t error;
	uint32_t valid; /* written last (release): the reader waits for it */
	int64_t status;
};

/* The trace: records appended lock-free (a fetch-and-add taken while the step still holds its
 * locks orders them as a linearization) into chunks allocated on demand and freed once taken. */
#define TCHUNK_SHIFT 15
#define TCHUNK (1u << TCHUNK_SHIFT)
#define TCHUNKS_MAX 65536 /* 2^31 records */

struct aio_engine;
struct kaiocb;
typedef void aio_cancel_fn_t(struct aio_engine *e, struct kaiocb *job, actor_t a);
typedef void aio_handle_fn_t(struct kaiocb *job, long *status, int *error);

/* struct aioliojob (L255-267) */
struct aioliojob {
	int lioj_flags;
	int lioj_count;
	int lioj_finished_count;
	int lioj_sigev;      /* lioj_signal.sigev_notify (0: not set up) */
	PyObject *lioj_notify; /* the callable or KeventFd, a strong reference */
	PyObject *ident;     /* the user's list: the EVFILT_LIO ident, a strong reference */
	TAILQ_ENTRY(aioliojob) lioj_list;
	int freed;           /* uma_zfree'd */
	int refs;            /* pending notifications that still name it */
	struct aioliojob *znext;
};

/* the kernel copy of the user's struct aiocb */
struct aio_uaiocb {
	int aio_fildes;
	int aio_lio_opcode;
	int64_t aio_offset;
	size_t aio_nbytes;
	char *aio_buf;
	struct {
		long status;
		int error;
	} _aiocb_private;
};

#define PLIST_NONE 0
#define PLIST_JOBQUEUE 1
#define PLIST_DONE 2

/* struct kaiocb (sys/aio.h) */
struct kaiocb {
	TAILQ_ENTRY(kaiocb) list;   /* (b) aio_jobs, kaio_syncqueue or kaio_syncready */
	TAILQ_ENTRY(kaiocb) plist;  /* (a) kaio_jobqueue or kaio_done */
	TAILQ_ENTRY(kaiocb) allist; /* (a) kaio_all */
	int jobflags;
	struct aioliojob *lio;
	PyObject *ujob; /* the user's Aiocb (identity = the userland address), a strong reference */
	struct aio_uaiocb uaiocb;
	Py_buffer view; /* the exported user buffer, pinned until the job is freed */
	int has_view;
	int efault; /* the buffer is unusable: the transfer faults (EFAULT) */
	int stream; /* a FIFO or socket (no offset): read/write instead of pread/pwrite */
	int sigev;
	PyObject *notify; /* strong reference, or NULL */
	uint64_t seqno;
	long jid;
	aio_cancel_fn_t *cancel_fn;
	aio_handle_fn_t *handle_fn;
	int pending; /* fsync: earlier jobs of the file still to finish */
	int onq;     /* PLIST_*: which list the plist link is on (NONE: a stale link) */
	int freed;   /* uma_zfree'd: the cancel walk reports following it (finding F1) */
	int refs;    /* holders of the memory after the free: notifications, a cancel walk */
	struct kaiocb *znext;
};

struct aio_sleeper {
	struct aio_sleeper *next;
	int woken;
};

/* struct kaioinfo (L272-286) */
struct kaioinfo {
	pthread_mutex_t kaio_mtx;
	pthread_cond_t kaio_cv;  /* msleep / wakeup on &p->p_aioinfo */
	pthread_cond_t task_cv;  /* taskqueue_enqueue(kaio_sync_task) */
	pthread_cond_t drain_cv; /* taskqueue_drain */
	int exists;              /* p->p_aioinfo != NULL */
	int kaio_flags;
	int kaio_active_count; /* (c) aio_job_mtx */
	int kaio_count;
	TAILQ_HEAD(, kaiocb) kaio_all;
	TAILQ_HEAD(, kaiocb) kaio_done;
	TAILQ_HEAD(, aioliojob) kaio_liojoblist;
	TAILQ_HEAD(, kaiocb) kaio_jobqueue;
	TAILQ_HEAD(, kaiocb) kaio_syncqueue;
	TAILQ_HEAD(, kaiocb) kaio_syncready;
	int task_pending;
	int task_running;
	struct aio_sleeper *sleepers;
};

struct anote { /* a queued notification: delivered by the notifier thread, with the GIL */
	struct anote *next;
	int sigev;
	PyObject *fn;
	PyObject *ident;
	struct kaiocb *job;
	struct aioliojob *lio;
};

struct aio_engine {
	/* limits (sysctls) */
	int max_aio_queue_per_proc;
	int max_queue_count;
	int max_aio_per_proc;
	int enable_aio_unsafe;
	double rundown_timeout;
	/* the globals */
	pthread_mutex_t aio_job_mtx;
	pthread_cond_t aio_freeproc; /* idle daemons */
	TAILQ_HEAD(, kaiocb) aio_jobs;
	long jobrefid;
	uint64_t jobseqno;
	int num_queue_count;
	struct kaioinfo ki;
	/* threads */
	int n_daemons;
	pthread_t *daemons;
	pthread_t task;
	int started;  /* how many threads were created */
	int stopping; /* read under aio_job_mtx (daemons) and kaio_mtx (task) */
	int joined;
	int njobs;    /* length of aio_jobs (aio_job_mtx) */
	int idle;     /* daemons asleep on aio_freeproc (aio_job_mtx) */
	int pending;  /* of those, woken and not yet running (aio_job_mtx) */
	int spinning; /* a daemon polls aio_jobs before sleeping (atomic) */
	long spin_ns;
	/* notifications (note_mtx nests inside kaio_mtx) */
	pthread_mutex_t note_mtx;
	pthread_cond_t note_cv;
	struct anote *note_head, *note_tail;
	int note_stop;
	int note_wanted; /* a job or lio with a notification exists: the notifier must run */
	/* memory waiting for its last holder (kaio_mtx) */
	struct kaiocb *zjobs;
	struct aioliojob *zlios;
	/* statistics (kaio_mtx) */
	long completes, notifies, frees;
	/* faults (fault_mtx, innermost) */
	pthread_mutex_t fault_mtx;
	char **faults;
	size_t nfaults, capfaults;
	/* trace */
	int tracing;
	size_t tnext; /* the next record's index (atomic) */
	size_t tbase; /* the first record not yet taken (the taker's) */
	struct trec **tchunks;
	int closed;
};

/* aio_kernel.c: in-file kernel functions (kaio_mtx held unless said otherwise), threads */
void aio_trace_step(struct aio_engine *e, actor_t a, int label, int ctype, long status, int error);
#define TR(e, a, lb)                                                                                               \
	do {                                                                                                       \
		if ((e)->tracing)                                                                                  \
			aio_trace_step((e), (a), L_##lb, C_NONE, 0, 0);                                            \
	} while (0)
#define TRW(e, a, lb, why)                                                                                         \
	do {                                                                                                       \
		if ((e)->tracing)                                                                                  \
			aio_trace_step((e), (a), (lb), (why), 0, 0);                                               \
	} while (0)
void aio_fault(struct aio_engine *e, const char *fmt, ...);
#define KI(e) (&(e)->ki) /* the one process's kaioinfo */
int aio_sleep(struct aio_engine *e, double timeout); /* timeout < 0: forever; returns C_WAKEUP/C_TIMEOUT */
int sleep_on_aioinfo(struct aio_engine *e, actor_t a, int *label, int sleep_label, int *why, double timeout);
void aio_post_lio(struct aio_engine *e, struct aioliojob *lj);
void aio_note_done(struct aio_engine *e, struct anote *n);
void aio_bio_done_notify(struct aio_engine *e, struct kaiocb *job);
int aio_clear_cancel_function_locked(struct aio_engine *e, struct kaiocb *job);
int aio_set_cancel_function_locked(struct aio_engine *e, struct kaiocb *job, aio_cancel_fn_t *fn);
void aio_complete_locked(struct aio_engine *e, struct kaiocb *job);
void aio_free_entry_locked(struct aio_engine *e, struct kaiocb *job);
void aio_free_entry_tail(struct aio_engine *e, struct kaiocb *job);
int aio_cancel_job_begin(struct aio_engine *e, struct kaiocb *job);
int aio_cancel_job_end(struct aio_engine *e, struct kaiocb *job);
struct kaiocb *aio_selectjob(struct aio_engine *e);
int aio_schedule_locked(struct aio_engine *e, struct kaiocb *job, aio_handle_fn_t *fn);
void aio_kick_more(struct aio_engine *e);
void aio_cancel_daemon_job(struct aio_engine *e, struct kaiocb *job, actor_t a);
void aio_cancel_sync(struct aio_engine *e, struct kaiocb *job, actor_t a);
void aio_process_rw(struct kaiocb *job, long *status, int *error);
void aio_process_sync(struct kaiocb *job, long *status, int *error);
void aio_process_mlock(struct kaiocb *job, long *status, int *error);
void aio_job_hold(struct kaiocb *job);
int aio_job_drop(struct aio_engine *e, struct kaiocb *job);
void aio_lio_free_locked(struct aio_engine *e, struct aioliojob *lj);
void aio_plist_remove(struct aio_engine *e, struct kaiocb *job, int which);
int aio_engine_init(struct aio_engine *e);
int aio_engine_start(struct aio_engine *e);
void aio_engine_stop(struct aio_engine *e);
void aio_engine_destroy(struct aio_engine *e);
int host_errno(int e);

/* aio_syscalls.c: the system calls, without Python */
struct aqueue_in { /* what the caller read from the user's aiocb (and the fd) before SUB_CHECK */
	int fsync_bad;  /* kern_aio_fsync: op is not O_SYNC */
	int nbytes_ok;  /* an int in [0, IOSIZE_MAX] */
	int opcode;     /* the aiocb's aio_lio_opcode (lio_listio), LIO_INVALID if not one */
	int fd_ok;      /* an int that fits */
	int accmode;    /* fcntl(F_GETFL) & O_ACCMODE, -1 if the fd is closed */
	int stat_ok;
	unsigned mode;  /* st_mode */
	int offset_ok;  /* an int >= 0 */
};
struct ustore { /* stores to the user's aiocb (_aiocb_private, kernelinfo), applied by the caller */
	int set_status, set_error, set_kernelinfo;
	long status, error, kernelinfo;
};
int aio_aqueue(struct aio_engine *e, actor_t a, const struct aqueue_in *in, struct kaiocb *job,
	       struct aioliojob *lj, int type, struct ustore *st, int *owned);
int lio_open(struct aio_engine *e, actor_t a, int mode, Py_ssize_t n, struct aioliojob *lj);
int lio_close(struct aio_engine *e, actor_t a, int mode, struct aioliojob *lj, int may_sleep);
int kern_aio_error_find(struct aio_engine *e, actor_t a, PyObject *ujob, int *found);
void kern_aio_error_user(struct aio_engine *e, actor_t a);
struct kaiocb *kern_aio_return_find(struct aio_engine *e, actor_t a, PyObject *ujob);
int aio_free_tail(struct aio_engine *e, actor_t a, struct kaiocb *job, long *status, int *error);
int kern_aio_waitcomplete(struct aio_engine *e, actor_t a, int tmo_ok, double timeout, int may_sleep,
			  struct kaiocb **jobp);
int kern_aio_suspend(struct aio_engine *e, actor_t a, PyObject *const *targets, Py_ssize_t ntargets,
		     Py_ssize_t total, int tmo_ok, double timeout, int may_sleep);
int sys_aio_cancel(struct aio_engine *e, actor_t a, int fd_bad, int fd, PyObject *ujob);
void aio_proc_rundown(struct aio_engine *e);

#endif
