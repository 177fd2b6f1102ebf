//! One lock per app on this server, shared by every driver of its deploys: Berth's deploys
//! (the CLI, the desktop: taken through the control API with a lease they renew) and the
//! relay's own unattended ones. A holder that disappears loses the lock when its lease runs out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Who holds a lock: `owner` decides (one Berth data dir — whose own processes already
/// exclude each other with a file lock — or the relay itself), `holder` is what a refused
/// caller is told.
struct Lease {
    owner: String,
    holder: String,
    until: Instant,
    /// Cancelled when someone asks the holder to stop (`berth cancel`); a renewal keeps it.
    cancel: CancellationToken,
}

#[derive(Default)]
pub(crate) struct AppLocks {
    held: Mutex<HashMap<String, Lease>>,
}

impl AppLocks {
    /// Takes (or, for the same owner, renews or takes over) `app`'s lock for `lease`;
    /// `Err(holder)` while another owner's lease runs.
    pub(crate) fn take(
        &self,
        app: &str,
        owner: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<(), String> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if let Some(l) = held.get(app)
            && l.owner != owner
            && l.until > now
        {
            return Err(l.holder.clone());
        }
        let cancel = match held.get(app) {
            Some(l) if l.owner == owner && l.until > now => l.cancel.clone(),
            _ => CancellationToken::new(),
        };
        held.insert(
            app.to_owned(),
            Lease {
                owner: owner.to_owned(),
                holder: holder.to_owned(),
                until: now + lease,
                cancel,
            },
        );
        Ok(())
    }

    /// What the holder of `app`'s lock watches to stop early (a fresh token when nobody
    /// holds it: never cancelled).
    pub(crate) fn cancel_token(&self, app: &str) -> CancellationToken {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.get(app)
            .filter(|l| l.until > Instant::now())
            .map_or_else(CancellationToken::new, |l| l.cancel.clone())
    }

    /// Asks whoever holds `app`'s lock to stop: `(owner, holder)` of the live lease, if any.
    pub(crate) fn cancel(&self, app: &str) -> Option<(String, String)> {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let l = held.get(app).filter(|l| l.until > Instant::now())?;
        l.cancel.cancel();
        Some((l.owner.clone(), l.holder.clone()))
    }

    /// Whether someone holds `app`'s lock now (the monitor leaves such an app alone: a deploy,
    /// a stop or a start is under way).
    pub(crate) fn held(&self, app: &str) -> bool {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.get(app).is_some_and(|l| l.until > Instant::now())
    }

    /// Releases `app`'s lock if `owner` holds it; `false` when it did not.
    pub(crate) fn release(&self, app: &str, owner: &str) -> bool {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.get(app).is_some_and(|l| l.owner == owner) {
            held.remove(app);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_per_app_until_released_or_expired() {
        let locks = AppLocks::default();
        let long = Duration::from_secs(60);
        locks
            .take("web", "laptop", "a deploy by cli", long)
            .unwrap();
        assert_eq!(
            locks.take("web", "relay", "the relay", long),
            Err("a deploy by cli".to_owned())
        );
        locks.take("api", "relay", "the relay", long).unwrap();
        // The same owner renews, or takes over what a process of its own left behind.
        locks
            .take("web", "laptop", "a restart by desktop", long)
            .unwrap();
        assert!(!locks.release("web", "relay"));
        assert!(locks.release("web", "laptop"));
        locks
            .take("web", "relay", "the relay", Duration::ZERO)
            .unwrap();
        // An expired lease is anybody's.
        locks
            .take("web", "laptop", "a deploy by cli", long)
            .unwrap();
    }

    #[test]
    fn a_cancel_reaches_the_holder_and_not_the_next_one() {
        let locks = AppLocks::default();
        let long = Duration::from_secs(60);
        assert_eq!(locks.cancel("web"), None, "nobody to tell");
        locks.take("web", "relay", "the relay", long).unwrap();
        let watched = locks.cancel_token("web");
        assert_eq!(
            locks.cancel("web"),
            Some(("relay".to_owned(), "the relay".to_owned()))
        );
        assert!(watched.is_cancelled());
        // A renewal keeps the request; the next holder starts afresh.
        locks.take("web", "relay", "the relay", long).unwrap();
        assert!(locks.cancel_token("web").is_cancelled());
        assert!(locks.release("web", "relay"));
        locks
            .take("web", "laptop", "a deploy by cli", long)
            .unwrap();
        assert!(!locks.cancel_token("web").is_cancelled());
    }
}
