//! A llama.cpp context with its own persistent CPU threadpool.
//!
//! Without an attached threadpool (and without OpenMP, which we keep off: its spinning threads
//! compete with the runtime on small machines), ggml creates and joins the compute threads on
//! every decode step. llama.cpp's own tools keep theirs; a persistent pool measured +8–15%
//! generation and +15% prompt tok/s on the 2-core VM (docs/inference.md).
#![allow(unsafe_code)]

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_sys_2::{
    ggml_threadpool, ggml_threadpool_free, ggml_threadpool_new, ggml_threadpool_params_default,
    llama_attach_threadpool, llama_detach_threadpool,
};
use sp_core::{Error, Result};

/// How long an idle pool thread spins for the next step before it sleeps, in ggml's units
/// of 128k pause instructions (a few ms here). Level 1 caught the gap between decode steps
/// as well as ggml's default 50 (+12% tok/s over no pool, paired runs; 0 gave +8%), while
/// an engine that just went idle burns 50 times less CPU that other work on the machine —
/// another engine, the runtime — may need.
const POLL_LEVEL: u32 = 1;

/// A context and the threadpool it computes on; dereferences to the context.
pub(crate) struct PooledContext<'m> {
    ctx: LlamaContext<'m>,
    pool: NonNull<ggml_threadpool>,
}

impl<'m> PooledContext<'m> {
    /// Attaches a new pool of `threads` threads (the larger of the context's generation and
    /// batch thread counts) to `ctx`.
    pub(crate) fn new(mut ctx: LlamaContext<'m>, threads: u32) -> Result<Self> {
        let threads = i32::try_from(threads.max(1)).unwrap_or(i32::MAX);
        // SAFETY: plain C functions; the params struct is initialised by the first and only
        // read by the second, which returns null on failure (checked).
        let pool = unsafe {
            let mut params = ggml_threadpool_params_default(threads);
            params.poll = POLL_LEVEL;
            ggml_threadpool_new(&mut params)
        };
        let pool = NonNull::new(pool)
            .ok_or_else(|| Error::Inference("cannot start the CPU threadpool".into()))?;
        // SAFETY: both pointers are live; the pool outlives its use by the context because
        // `drop` detaches it before freeing it. The same pool serves single-token and batch
        // decodes, as in llama-bench.
        unsafe { llama_attach_threadpool(ctx.as_raw_mut(), pool.as_ptr(), pool.as_ptr()) };
        Ok(PooledContext { ctx, pool })
    }
}

impl<'m> Deref for PooledContext<'m> {
    type Target = LlamaContext<'m>;

    fn deref(&self) -> &Self::Target {
        &self.ctx
    }
}

impl DerefMut for PooledContext<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.ctx
    }
}

impl Drop for PooledContext<'_> {
    fn drop(&mut self) {
        // SAFETY: the context is still alive (fields drop after this); once detached it no
        // longer refers to the pool, which nothing else holds.
        unsafe {
            llama_detach_threadpool(self.ctx.as_raw_mut());
            ggml_threadpool_free(self.pool.as_ptr());
        }
    }
}
