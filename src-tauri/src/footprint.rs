//! Keeping the desktop process small while it idles.
//!
//! Much of what a WebKitGTK app holds resident is library code and data touched once while
//! starting (relocations, static initialisers, theme parsing) and never again, plus heap the
//! allocator keeps after WebKit freed it. The kernel would take those pages back under memory
//! pressure; until then they count against Berth. [`trim`] hands them back now, the way Windows
//! apps empty their working set when they go to the tray: freed heap goes back to the OS
//! (`malloc_trim`), and clean file-backed pages that only this process maps are reclaimed
//! (`MADV_PAGEOUT`). Nothing is lost — a page needed again is read back on first touch — so
//! the shell does it only when the app has gone quiet: once after start-up, after the window
//! closed, and after it lost the focus (called off if the user comes back first).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long the app must stay quiet (window closed or unfocused) before a trim: WebKit tears
/// down asynchronously, and what it frees meanwhile should go back too.
pub const SETTLE: Duration = Duration::from_secs(3);

/// After start-up: long enough for the first screen to have painted and its data to be loaded.
pub const AFTER_START: Duration = Duration::from_secs(10);

/// Bumped whenever the user comes back to the app; a pending [`trim_when_quiet`] that sees it
/// moved is called off.
static ACTIVITY: AtomicU64 = AtomicU64::new(0);

/// The user is back (the window got the focus): pending [`trim_when_quiet`]s are called off.
pub fn activity() {
    ACTIVITY.fetch_add(1, Ordering::Relaxed);
}

/// Trims after `delay`, unless [`activity`] happened in between. `None` when called off.
pub fn trim_when_quiet(delay: Duration) -> impl Future<Output = Option<Trimmed>> {
    let seen = ACTIVITY.load(Ordering::Relaxed);
    async move {
        tokio::time::sleep(delay).await;
        if ACTIVITY.load(Ordering::Relaxed) != seen {
            return None;
        }
        trim_on_blocking_pool().await
    }
}

/// Trims after `delay`, whatever happens meanwhile.
pub async fn trim_after(delay: Duration) -> Option<Trimmed> {
    tokio::time::sleep(delay).await;
    trim_on_blocking_pool().await
}

/// [`trim`] reads `/proc` and walks every mapping: not on an async worker.
async fn trim_on_blocking_pool() -> Option<Trimmed> {
    tokio::task::spawn_blocking(trim).await.ok()
}

/// What one [`trim`] did, in bytes of this process's resident set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    pub before: u64,
    pub after: u64,
}

/// Returns freed heap and idle file-backed pages to the OS (see the module docs). A few
/// milliseconds of work, safe from any thread at any time; on other platforms it does nothing.
pub fn trim() -> Trimmed {
    let before = imp::resident_bytes();
    imp::trim();
    Trimmed {
        before,
        after: imp::resident_bytes(),
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod imp {
    /// A mapping of `/proc/self/maps` worth paging out: backed by a file (not the heap, a stack,
    /// anonymous memory or a kernel page) and not a device.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct FileMapping {
        pub start: usize,
        pub len: usize,
    }

    pub(super) fn file_mappings(maps: &str) -> Vec<FileMapping> {
        maps.lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let range = fields.next()?;
                let _perms = fields.next()?;
                let _offset = fields.next()?;
                let _device = fields.next()?;
                let inode = fields.next()?;
                let path = fields.next()?;
                if inode == "0" || !path.starts_with('/') || path.starts_with("/dev/") {
                    return None;
                }
                let (start, end) = range.split_once('-')?;
                let start = usize::from_str_radix(start, 16).ok()?;
                let end = usize::from_str_radix(end, 16).ok()?;
                (end > start).then(|| FileMapping {
                    start,
                    len: end - start,
                })
            })
            .collect()
    }

    pub(super) fn trim() {
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only returns free heap memory to the OS; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for m in file_mappings(&maps) {
            // SAFETY: MADV_PAGEOUT is advisory and keeps the mapping's contents: a reclaimed
            // page is read back from its file on the next touch. The range is a whole mapping
            // of this process as the kernel listed it; if it was unmapped since, the call fails
            // with ENOMEM and nothing happens. Errors (locked or special mappings) are ignored.
            unsafe {
                libc::madvise(m.start as *mut libc::c_void, m.len, libc::MADV_PAGEOUT);
            }
        }
    }

    /// This process's resident set size in bytes (0 where it cannot be read).
    pub(super) fn resident_bytes() -> u64 {
        // statm: size resident shared text lib data dt, in pages.
        let pages = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        pages * u64::try_from(page).unwrap_or(4096)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn trim() {}
    pub(super) fn resident_bytes() -> u64 {
        0
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::imp::{FileMapping, file_mappings};
    use super::*;
    use std::io::Write;

    #[test]
    fn only_file_backed_mappings_are_paged_out() {
        let maps = "\
5600-5700 r--p 00000000 fe:01 1234 /usr/bin/berth-desktop
5700-5900 r-xp 00001000 fe:01 1234 /usr/bin/berth-desktop
6000-7000 rw-p 00000000 00:00 0 [heap]
7000-7100 rw-p 00000000 00:00 0
7100-7200 rw-s 00000000 00:06 88 /dev/dri/renderD128
7200-7300 rw-s 00000000 00:01 5 /SYSV00000000 (deleted)
7ffc-7ffd r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            file_mappings(maps),
            vec![
                FileMapping {
                    start: 0x5600,
                    len: 0x100
                },
                FileMapping {
                    start: 0x5700,
                    len: 0x200
                },
                FileMapping {
                    start: 0x7200,
                    len: 0x100
                },
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_trim_waits_for_quiet_and_the_user_coming_back_calls_it_off() {
        let pending = tokio::spawn(trim_when_quiet(SETTLE));
        tokio::time::sleep(SETTLE / 2).await;
        activity();
        assert_eq!(pending.await.unwrap(), None, "focus came back: no trim");

        let quiet = trim_when_quiet(SETTLE)
            .await
            .expect("nothing happened: trimmed");
        assert!(quiet.before > 0 && quiet.after > 0, "{quiet:?}");
        assert!(trim_after(AFTER_START).await.is_some());
    }

    #[test]
    fn trimming_returns_a_read_file_to_the_os_and_keeps_it_readable() {
        // A 16 MiB file, mapped and read through: resident. After trim it is not, and reading
        // it again gives the same bytes.
        // Beside the test binary: on disk (a tmpfs /tmp holds pages only swap can take).
        let exe = std::env::current_exe().unwrap();
        let dir = exe
            .parent()
            .unwrap()
            .join(format!("berth-trim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("blob");
        let data: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
        let mut out = std::fs::File::create(&path).unwrap();
        out.write_all(&data).unwrap();
        // Written back, so its pages are clean and can simply be dropped.
        out.sync_all().unwrap();
        let file = std::fs::File::open(&path).unwrap();
        #[allow(unsafe_code)]
        // SAFETY: a private read-only mapping of a file this test owns, unmapped below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                data.len(),
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        #[allow(unsafe_code)]
        // SAFETY: the mapping is data.len() bytes long and lives until munmap below.
        let mapped = unsafe { std::slice::from_raw_parts(ptr as *const u8, data.len()) };
        let sum = |s: &[u8]| s.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>();
        let expected = sum(&data);
        drop(data);
        assert_eq!(sum(mapped), expected);

        let trimmed = trim();
        assert!(
            trimmed.before >= trimmed.after + (12 << 20),
            "trim should give back most of the 16 MiB file: {trimmed:?}"
        );
        assert_eq!(
            sum(mapped),
            expected,
            "the mapping reads the same afterwards"
        );

        #[allow(unsafe_code)]
        // SAFETY: ptr/len are the mapping created above, no longer borrowed.
        unsafe {
            libc::munmap(ptr, 16 << 20);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
