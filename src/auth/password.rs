//! argon2id hashing on dedicated threads, so the async runtime never stalls on it. Each thread
//! keeps one memory block for its whole life: a fresh 19 MiB block per hash costs far more
//! memory (glibc keeps the freed blocks) and time (DESIGN.md, Budgets).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;
use tracing::Span;

/// Hashing failed or cannot be done now.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing thread is busy and the queue is full; retry later.
    #[error("password hashing is saturated")]
    Busy,
    /// The hashing threads are gone (shutting down).
    #[error("password hashing stopped")]
    Stopped,
    /// argon2 refused the input or parameters.
    #[error("argon2: {0}")]
    Argon2(String),
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (m).
    pub memory_kib: u32,
    /// Iterations (t).
    pub iterations: u32,
    /// Lanes (p).
    pub parallelism: u32,
}

enum Job {
    Hash {
        password: SecretString,
        reply: oneshot::Sender<Result<String, HashError>>,
    },
    Verify {
        password: SecretString,
        phc: String,
        reply: oneshot::Sender<Result<Verified, HashError>>,
    },
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub ok: bool,
    /// It matches a hash that is not argon2id of the current parameters (an imported legacy
    /// hash, or one made before a parameter change): store a new hash of it.
    pub rehash: bool,
}

/// A pool of hashing threads, one argon2 memory block each; its size bounds how many hashes
/// run at once (the semaphore), its queue how many may wait.
pub struct Hasher {
    jobs: SyncSender<(Job, Span)>,
    dummy: tokio::sync::OnceCell<String>,
}

impl Hasher {
    /// Starts `threads` hashing threads (at least one).
    pub fn start(threads: usize, params: HashParams) -> Result<Hasher, HashError> {
        let threads = threads.max(1);
        let argon2 = argon2(params)?;
        // The threads take their metric handles at start: the recorder must exist by then.
        crate::telemetry::metrics();
        let (jobs, queue) = sync_channel::<(Job, Span)>(threads * 256);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let argon2 = argon2.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&queue, &argon2))
                .map_err(|e| HashError::Argon2(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Hasher {
            jobs,
            dummy: tokio::sync::OnceCell::new(),
        })
    }

    /// The PHC string of a new hash of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash {
            password: SecretString::from(password.to_owned()),
            reply,
        })?;
        answer.await.map_err(|_| HashError::Stopped)?
    }

    /// Whether `password` matches the PHC string (constant-time comparison).
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        self.check(password, phc).await.map(|v| v.ok)
    }

    /// Whether `password` matches a stored hash — argon2 of any parameters or an imported
    /// legacy format ([`super::legacy`]) — and whether that hash should be replaced. A
    /// mismatch against a legacy hash also does the argon2 work of the current parameters,
    /// so a failure takes as long whatever the account's hash.
    pub async fn check(&self, password: &str, phc: &str) -> Result<Verified, HashError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password: SecretString::from(password.to_owned()),
            phc: phc.to_owned(),
            reply,
        })?;
        answer.await.map_err(|_| HashError::Stopped)?
    }

    /// Does the work of a verification against a hash no password matches, so an unknown
    /// account takes as long as a wrong password.
    pub async fn verify_dummy(&self, password: &str) -> Result<bool, HashError> {
        let dummy = self.prepare_dummy().await?;
        self.verify(password, dummy).await.map(|_| false)
    }

    /// Makes the dummy hash (a real hash under the current parameters) on first need. Call
    /// it before deciding between `verify` and `verify_dummy`, so the first login pays the
    /// same whether or not the account exists.
    pub async fn prepare_dummy(&self) -> Result<&str, HashError> {
        self.dummy
            .get_or_try_init(|| self.hash("not a real password 0"))
            .await
            .map(String::as_str)
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        match self.jobs.try_send((job, Span::current())) {
            Ok(()) => {
                metrics::gauge!(QUEUE_DEPTH).increment(1.0);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(HashError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(HashError::Stopped),
        }
    }
}

fn argon2(p: HashParams) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32))
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Jobs handed to the hashing threads and not yet taken by one (a gauge).
const QUEUE_DEPTH: &str = "argon2_queue_depth";

fn work(queue: &Mutex<Receiver<(Job, Span)>>, argon2: &Argon2<'static>) {
    let hashed = metrics::histogram!("argon2_duration_seconds", "op" => "hash");
    let verified = metrics::histogram!("argon2_duration_seconds", "op" => "verify");
    // Allocated at the first job, so an idle process does not hold hashing memory.
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let next = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((job, span)) = next else { return };
        metrics::gauge!(QUEUE_DEPTH).decrement(1.0);
        let _entered = span.enter();
        if blocks.is_empty() {
            blocks = vec![Block::default(); argon2.params().block_count()];
        }
        let started = std::time::Instant::now();
        match job {
            // The request is gone (client left, timeout): do not spend a hash on it.
            Job::Hash { reply, .. } if reply.is_closed() => {}
            Job::Verify { reply, .. } if reply.is_closed() => {}
            Job::Hash { password, reply } => {
                let result = hash_with(argon2, password.expose_secret(), &mut blocks);
                hashed.record(started.elapsed().as_secs_f64());
                let _ = reply.send(result);
            }
            Job::Verify {
                password,
                phc,
                reply,
            } => {
                let result = verify_with(argon2, password.expose_secret(), &phc, &mut blocks);
                verified.record(started.elapsed().as_secs_f64());
                let _ = reply.send(result);
            }
        }
    }
}

fn hash_with(
    argon2: &Argon2<'_>,
    password: &str,
    blocks: &mut [Block],
) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut *blocks)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Argon2(e.to_string()))?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: argon2
            .params()
            .try_into()
            .map_err(|e: argon2::password_hash::Error| HashError::Argon2(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| HashError::Argon2(e.to_string()))?),
    };
    Ok(hash.to_string())
}

fn verify_with(
    current: &Argon2<'_>,
    password: &str,
    phc: &str,
    blocks: &mut [Block],
) -> Result<Verified, HashError> {
    let bad = |e: &dyn std::fmt::Display| HashError::Argon2(format!("stored hash: {e}"));
    if !phc.starts_with("$argon2") {
        // `!`: imported without a password (set through a reset); nothing matches it.
        let ok = phc != "!" && super::legacy::verify(password, phc).map_err(|e| bad(&e))?;
        if !ok {
            let mut out = [0u8; 32];
            current
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    DUMMY_SALT,
                    &mut out,
                    &mut *blocks,
                )
                .map_err(|e| bad(&e))?;
        }
        return Ok(Verified { ok, rehash: ok });
    }
    let parsed = PasswordHash::new(phc).map_err(|e| bad(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| bad(&e))?;
    // As the argon2 crate reads a PHC string without `v=`.
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| bad(&e))?,
        None => Version::V0x13,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(bad(&"no salt or hash"));
    };
    let params = Params::try_from(&parsed).map_err(|e| bad(&e))?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(|e| bad(&e))?;
    let mut out = vec![0u8; expected.len()];
    // Hashes made under other parameters (before a config change, or imported) still verify.
    let argon2 = Argon2::new(algorithm, version, params.clone());
    if params.block_count() == current.params().block_count() {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut *blocks)
    } else {
        argon2.hash_password_into(password.as_bytes(), salt, &mut out)
    }
    .map_err(|e| bad(&e))?;
    let actual = Output::new(&out).map_err(|e| bad(&e))?;
    let ok = actual == expected;
    let c = current.params();
    let same = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && (params.m_cost(), params.t_cost(), params.p_cost())
            == (c.m_cost(), c.t_cost(), c.p_cost())
        && expected.len() == 32;
    Ok(Verified {
        ok,
        rehash: ok && !same,
    })
}

/// The salt of the argon2 work done after a legacy mismatch (its output is thrown away).
const DUMMY_SALT: &[u8] = b"enroll-legacy-mismatch";

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = Hasher::start(2, FAST).unwrap();
        let phc = hasher.hash("secret123").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(hasher.verify("secret123", &phc).await.unwrap());
        assert!(!hasher.verify("secret124", &phc).await.unwrap());
        assert!(!hasher.verify_dummy("secret123").await.unwrap());
        assert_ne!(phc, hasher.hash("secret123").await.unwrap(), "salted");
    }

    #[tokio::test]
    async fn hashes_from_other_parameters_still_verify() {
        let old = Hasher::start(
            1,
            HashParams {
                memory_kib: 128,
                iterations: 2,
                parallelism: 1,
            },
        )
        .unwrap();
        let phc = old.hash("secret123").await.unwrap();
        let new = Hasher::start(1, FAST).unwrap();
        assert!(new.verify("secret123", &phc).await.unwrap());
    }

    #[test]
    fn matches_the_reference_implementation() {
        use argon2::PasswordVerifier;
        let a = argon2(FAST).unwrap();
        let mut blocks = vec![Block::default(); a.params().block_count()];
        let phc = hash_with(&a, "secret123", &mut blocks).unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"secret123", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn legacy_hashes_verify_and_ask_for_a_rehash() {
        let hasher = Hasher::start(1, FAST).unwrap();
        let fixtures = crate::auth::legacy::tests::fixtures();
        assert!(fixtures.len() >= 12);
        for (name, hash) in fixtures {
            let right = hasher
                .check(crate::auth::legacy::tests::PASSWORD, &hash)
                .await;
            let right = right.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                right,
                Verified {
                    ok: true,
                    rehash: true
                },
                "{name}"
            );
            let wrong = hasher.check("Legacy-pass 43!", &hash).await.unwrap();
            assert_eq!(
                wrong,
                Verified {
                    ok: false,
                    rehash: false
                },
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn current_argon2id_needs_no_rehash_and_other_parameters_do() {
        let hasher = Hasher::start(1, FAST).unwrap();
        let phc = hasher.hash("secret123").await.unwrap();
        let v = hasher.check("secret123", &phc).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                rehash: false
            }
        );
        let other = Hasher::start(
            1,
            HashParams {
                memory_kib: 128,
                iterations: 1,
                parallelism: 1,
            },
        )
        .unwrap();
        let v = other.check("secret123", &phc).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                rehash: true
            }
        );
    }
}
