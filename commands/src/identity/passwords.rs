//! Password hashing and the minimum-strength rule. Hashing costs tens of
//! milliseconds of CPU and about 19 MiB, so it runs, bounded, on threads of its
//! own, never on the async ones.

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore, SemaphorePermit};

use crate::error::UseCaseError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Checks the minimum-strength rule; `None` when the password is acceptable.
pub fn weakness(password: &str, email: &str) -> Option<String> {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_PASSWORD_CHARS {
        return Some(format!("use at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars.len() > MAX_PASSWORD_CHARS {
        return Some(format!("use at most {MAX_PASSWORD_CHARS} characters"));
    }
    let distinct: std::collections::BTreeSet<char> = chars.iter().copied().collect();
    if distinct.len() < 5 {
        return Some("use more varied characters".into());
    }
    if password.to_lowercase().contains(&email.to_lowercase()) {
        return Some("do not use your email address in your password".into());
    }
    None
}

/// How long a shed caller is told to wait.
const SHED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A hash or a verification, run on one of the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// Password hashing with a bound: argon2id takes about 19 MiB and tens of
/// milliseconds of one core per hash, so at most one hash per core runs at once,
/// on threads of its own (a fixed few, so the allocator keeps no more than a few
/// hash-sized arenas), and a short queue waits; callers beyond it are shed at
/// once with [`UseCaseError::Busy`] instead of piling up memory and threads.
pub struct PasswordHashing {
    running: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for PasswordHashing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHashing")
            .field("available", &self.running.available_permits())
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish()
    }
}

impl Default for PasswordHashing {
    /// One hash per core, four callers per core waiting.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores, 4 * cores)
    }
}

impl PasswordHashing {
    /// At most `parallel` hashes at once and `max_waiting` callers queued. The
    /// threads end when this is dropped.
    pub fn new(parallel: usize, max_waiting: usize) -> Self {
        let parallel = parallel.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..parallel {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            running: Semaphore::new(parallel),
            waiting: AtomicUsize::new(0),
            max_waiting,
            jobs: Mutex::new(jobs),
        }
    }

    /// Runs `work` on a hashing thread, within a slot.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, UseCaseError> + Send + 'static,
    ) -> Result<T, UseCaseError> {
        let _slot = self.slot().await?;
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .lock()
            .map_err(|_| {
                UseCaseError::infrastructure("hashing a password", "the queue is poisoned")
            })?
            .send(job)
            .map_err(|_| UseCaseError::infrastructure("hashing a password", "no hashing thread"))?;
        answer.await.map_err(|_| {
            UseCaseError::infrastructure("hashing a password", "the hashing thread stopped")
        })?
    }

    async fn slot(&self) -> Result<SemaphorePermit<'_>, UseCaseError> {
        if let Ok(permit) = self.running.try_acquire() {
            return Ok(permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let permit = if queued < self.max_waiting {
            self.running.acquire().await.ok()
        } else {
            None
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.ok_or(UseCaseError::Busy {
            retry_after: SHED_RETRY_AFTER,
        })
    }

    /// Hashes a password with argon2id on a blocking thread.
    pub async fn hash(&self, password: String) -> Result<String, UseCaseError> {
        self.run(move || hash_now(&password)).await
    }

    /// Verifies a password on a blocking thread. With no stored hash (unknown
    /// email) it hashes the password anyway, so unknown emails and wrong passwords
    /// cost the same time and cannot be told apart.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, UseCaseError> {
        self.run(move || match stored {
            None => hash_now(&password).map(|_| false),
            Some(stored) => Ok(verify_now(&password, &stored)),
        })
        .await
    }
}

thread_local! {
    /// Each hashing thread's argon2 working memory, reused from hash to hash: a
    /// fresh 19 MiB buffer per hash leaves the allocator holding far more than the
    /// hashes in flight.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// argon2 of `password` and `salt` into `out`, in this thread's working memory.
fn compute(
    argon: &Argon2<'_>,
    blocks: usize,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
    })
}

fn hash_now(password: &str) -> Result<String, UseCaseError> {
    let failed = |e: String| UseCaseError::infrastructure("hashing a password", e);
    let mut raw_salt = [0u8; 16];
    getrandom::getrandom(&mut raw_salt)
        .map_err(|e| UseCaseError::infrastructure("drawing a salt", e))?;
    let salt = SaltString::encode_b64(&raw_salt).map_err(|e| failed(e.to_string()))?;
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon, params.block_count(), password, &raw_salt, &mut out)
        .map_err(|e| failed(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string (compared in constant time);
/// a string that does not parse matches nothing.
fn verify_now(password: &str, stored: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(phc.algorithm), Params::try_from(&phc))
    else {
        return false;
    };
    let version = match phc.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    compute(&argon, blocks, password, salt, &mut out).is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_uniform_or_email_passwords_are_weak() {
        assert!(weakness("short", "a@x.io").is_some());
        assert!(weakness("aaaaaaaaaaaaaaaa", "a@x.io").is_some());
        assert!(weakness("my a@x.io password!", "a@x.io").is_some());
        assert_eq!(weakness("correct horse battery staple", "a@x.io"), None);
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hashing = PasswordHashing::default();
        let stored = hashing
            .hash("correct horse battery staple".into())
            .await
            .expect("hash");
        assert!(hashing
            .verify("correct horse battery staple".into(), Some(stored.clone()))
            .await
            .expect("verify"));
        assert!(!hashing
            .verify("wrong horse battery staple".into(), Some(stored))
            .await
            .expect("verify"));
        assert!(!hashing
            .verify("anything at all here".into(), None)
            .await
            .expect("verify"));
    }

    #[test]
    fn hashes_are_standard_argon2id_phc_strings() {
        use argon2::password_hash::PasswordVerifier;
        let stored = hash_now("correct horse battery staple").expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let parsed = PasswordHash::new(&stored).expect("parse");
        assert!(Argon2::default()
            .verify_password(b"correct horse battery staple", &parsed)
            .is_ok());
        assert!(!verify_now("correct horse battery staple", "not a hash"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_beyond_the_queue_are_shed_at_once() {
        let hashing = std::sync::Arc::new(PasswordHashing::new(1, 1));
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let h = hashing.clone();
                tokio::spawn(async move { h.hash("correct horse battery staple".into()).await })
            })
            .collect();
        let mut shed = 0;
        for call in calls {
            match call.await.expect("task") {
                Ok(_) => {}
                Err(UseCaseError::Busy { .. }) => shed += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert!(shed >= 1, "one running and one waiting; the rest are shed");
    }
}
