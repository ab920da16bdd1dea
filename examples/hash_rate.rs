//! Baseline for `bench/run`: raw argon2id hashes per second.
//!
//! `hash_rate [THREADS] [SECONDS]` hashes with argon2id m=19456 KiB, t=2, p=1 (the
//! parameters Enroll uses) on THREADS threads (default: the number of cores) for SECONDS
//! seconds (default 10), each thread reusing one memory block of m `argon2::Block`s
//! (`Argon2::hash_password_into_with_memory`), allocated before the clock starts, and prints
//! `threads=N seconds=S hashes=H hashes_per_sec=R`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};

type Error = Box<dyn std::error::Error + Send + Sync>;

const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Allocates its memory block, waits at `start`, then hashes until `stop`; returns how many
/// hashes were completed.
fn worker(thread: usize, start: &Barrier, stop: &AtomicBool) -> Result<u64, Error> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(32));
    // Every thread must reach the barrier, even when it cannot hash.
    let mut memory = vec![Block::default(); M_COST_KIB as usize];
    start.wait();
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        params.map_err(|e| e.to_string())?,
    );
    let salt = [thread as u8; 16];
    let mut out = [0u8; 32];
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let password = format!("correct horse {thread} {done}");
        argon2
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory)
            .map_err(|e| e.to_string())?;
        done += 1;
    }
    Ok(done)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let threads = match args.next() {
        Some(t) => t.parse::<usize>()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let seconds = match args.next() {
        Some(s) => s.parse::<f64>()?,
        None => 10.0,
    };
    if threads == 0 || seconds <= 0.0 {
        return Err("THREADS and SECONDS must be positive".into());
    }

    let stop = Arc::new(AtomicBool::new(false));
    // The clock starts once every thread has its memory (Enroll's threads keep theirs).
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (start, stop) = (Arc::clone(&start), Arc::clone(&stop));
            std::thread::spawn(move || worker(i, &start, &stop))
        })
        .collect();
    start.wait();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut hashes = 0u64;
    for handle in handles {
        hashes += handle.join().map_err(|_| "a hashing thread panicked")??;
    }
    // Hashes still running at `stop` finish after it; count the time they took too.
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "threads={threads} seconds={elapsed:.2} hashes={hashes} hashes_per_sec={:.2}",
        hashes as f64 / elapsed
    );
    Ok(())
}
