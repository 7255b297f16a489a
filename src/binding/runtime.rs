//! The tokio runtime the pool's work runs on, sized and scheduled for a process whose JS thread
//! comes first.

/// Sizes the tokio runtime before first use: `PGWARDEN_WORKER_THREADS`, default one worker per
/// core (at least 2). Measured on 2 cores (SELECT 1, 100 callers): one worker made every
/// statement wait for the same thread that drives the sockets (~21k q/s); two or more let the
/// connection tasks and the statements run side by side (~30-37k q/s, less CPU per query).
#[napi_derive::module_init]
fn init_runtime() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let workers = std::env::var("PGWARDEN_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(cores.max(2))
        .max(1);
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(yield_to_woken_threads)
        .enable_all()
        .build();
    if let Ok(rt) = built {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
}

/// Makes the calling runtime thread one that never preempts the thread that woke it
/// (`SCHED_BATCH`): each statement the JS thread submits wakes a worker, and on a busy machine
/// the woken worker used to take the JS thread's core at once, so the JS thread paid for the
/// worker's context switch in the middle of its own work (a sixth of its time in the native
/// `submit` call under Prisma). The worker still runs at once on an idle core, and gets its
/// normal share of a busy one; only its claim to cut in is gone. Where the policy cannot be
/// set, nothing changes.
fn yield_to_woken_threads() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` lives across the call.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}
