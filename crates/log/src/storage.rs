//! The file-system boundary: every byte the log reads or writes passes through [`Storage`].
//!
//! Two implementations: [`FsStorage`] (the real file system, positional I/O, `fdatasync`)
//! and [`MemStorage`] (in memory, tracking which bytes are durable, so tests can crash it,
//! tear unsynced writes, flip bits and inject `ENOSPC`/`EIO` on any call).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// How [`Storage::open_file`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create a new empty file; fail if it exists.
    CreateNew,
    /// Open an existing file for reading and writing.
    ReadWrite,
}

/// A guard that holds a directory lock until dropped.
pub trait StorageLock: Send + Sync + Debug {}

/// An open file: positional reads and writes, so readers and the writer share one handle.
pub trait StorageFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `position`; returns how many were read (0 at EOF).
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `position` in one call.
    fn write_all_at(&self, buf: &[u8], position: u64) -> io::Result<()>;
    /// Current length in bytes.
    fn len_bytes(&self) -> io::Result<u64>;
    /// Truncates or extends the file.
    fn set_len(&self, len_bytes: u64) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Maps the file's first `len_bytes` into memory for reading, or `None` where this
    /// storage does not map files (then every read goes through
    /// [`StorageFile::read_at`]). `len_bytes` may run past the file's end: the caller
    /// reads only bytes the file already holds, which it has written itself.
    fn map(&self, len_bytes: u64) -> io::Result<Option<FileMap>> {
        let _ = len_bytes;
        Ok(None)
    }
}

/// A file's bytes mapped read-only into memory (see [`StorageFile::map`]): reading them
/// costs no system call and no copy, where a positional read costs both.
#[derive(Debug)]
pub struct FileMap(memmap2::Mmap);

impl std::ops::Deref for FileMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// The file-system operations the log needs, and nothing more.
pub trait Storage: Send + Sync + Debug {
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// File names (not paths) in a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Opens a file.
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Renames a file, replacing the target.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes a directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `path` (created if missing); fails with
    /// [`io::ErrorKind::WouldBlock`] if it is held.
    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn StorageLock>>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsStorage;

/// How long [`FsStorage::try_lock`] tries a held lock again before it counts as held.
pub const LOCK_RETRY_MS_MAX: u64 = 50;

#[derive(Debug)]
struct FsFile(std::fs::File);

#[derive(Debug)]
struct FsLock(#[allow(dead_code)] std::fs::File);

impl StorageLock for FsLock {}

impl StorageFile for FsFile {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.0, buf, position)
    }
    fn write_all_at(&self, buf: &[u8], position: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, buf, position)
    }
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.0.set_len(len_bytes)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn map(&self, len_bytes: u64) -> io::Result<Option<FileMap>> {
        let len =
            usize::try_from(len_bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the mapping is read-only and shared, so it never changes the file; a
        // mapped byte that changes under a reader, or a page past a file's end, is the
        // hazard of any map. The log holds its directory's lock while it reads, never
        // rewrites or truncates a byte below its visible end while it is open (it cuts
        // torn tails only in `Log::open` and `Log::repair`, before any reader exists),
        // and reads only bytes below a segment's end, which the file holds. Only another
        // process writing into the files behind the lock's back could break that
        // (docs/OPERATIONS.md says not to).
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(&self.0)? };
        Ok(Some(FileMap(map)))
    }
}

impl Storage for FsStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        if mode == OpenMode::CreateNew {
            options.create_new(true);
        }
        Ok(Arc::new(FsFile(options.open(path)?)))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }
    /// A lock found held is tried again for up to [`LOCK_RETRY_MS_MAX`] ms: a lock this
    /// process has just let go of stays held while a child process that another thread
    /// is starting still has its copy of the descriptor (until it runs its program).
    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn StorageLock>> {
        lock_retrying(path, LOCK_RETRY_MS_MAX)
    }
}

/// Locks `path` (created if missing), trying a held lock again for up to `retry_ms`.
fn lock_retrying(path: &Path, retry_ms: u64) -> io::Result<Box<dyn StorageLock>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let mut waited_ms = 0;
    let mut pause_ms = 1;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Box::new(FsLock(file))),
            Err(std::fs::TryLockError::WouldBlock) if waited_ms < retry_ms => {
                std::thread::sleep(std::time::Duration::from_millis(pause_ms));
                waited_ms += pause_ms;
                pause_ms = (pause_ms * 2).min(retry_ms - waited_ms).max(1);
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::from(io::ErrorKind::WouldBlock))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// A storage call, for counting and for fault injection in [`MemStorage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StorageOp {
    /// [`StorageFile::read_at`].
    Read,
    /// [`StorageFile::write_all_at`].
    Write,
    /// [`StorageFile::set_len`].
    SetLen,
    /// [`StorageFile::sync_data`].
    SyncData,
    /// [`Storage::sync_dir`].
    SyncDir,
    /// [`Storage::open_file`].
    Open,
    /// [`Storage::remove_file`].
    Remove,
    /// [`Storage::rename`].
    Rename,
    /// [`Storage::list_dir`].
    List,
    /// [`Storage::try_lock`].
    Lock,
}

const STORAGE_OP_COUNT: usize = 10;

impl StorageOp {
    fn index(self) -> usize {
        self as usize
    }
}

/// Which error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// `ENOSPC`: no space left on the device.
    NoSpace,
    /// `EIO`: the device reported an I/O error.
    Io,
}

impl FaultError {
    fn to_io(self) -> io::Error {
        match self {
            FaultError::NoSpace => io::Error::from_raw_os_error(28),
            FaultError::Io => io::Error::from_raw_os_error(5),
        }
    }
}

/// What happens to bytes that were written but not synced when [`MemStorage::crash`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Every unsynced byte survives (the OS flushed its cache before power went).
    KeepUnsynced,
    /// Every unsynced byte is lost.
    DropUnsynced,
    /// A pseudo-random prefix of each file's unsynced bytes survives, tearing writes.
    TearUnsynced {
        /// Seed for the cut points, so a failing run can be replayed.
        seed: u64,
    },
}

#[derive(Debug, Default)]
struct MemNode {
    data: Vec<u8>,
    /// Contents as of the last `sync_data`.
    durable: Vec<u8>,
    /// Whether `durable` is still a prefix of `data`, so a sync can append instead of copy.
    durable_is_prefix: bool,
    /// Whether the directory entry survives a crash (set by `sync_dir` of the parent).
    entry_durable: bool,
}

#[derive(Debug)]
struct Fault {
    op: StorageOp,
    calls_to_skip: u64,
    error: FaultError,
}

#[derive(Debug, Default)]
struct MemState {
    files: BTreeMap<PathBuf, Arc<Mutex<MemNode>>>,
    dirs: BTreeSet<PathBuf>,
    locks: BTreeSet<PathBuf>,
    faults: Vec<Fault>,
}

#[derive(Debug, Default)]
struct MemShared {
    state: Mutex<MemState>,
    /// Bumped by every crash; handles from an older epoch fail, like a dead process's fds.
    epoch: AtomicU64,
    counts: [AtomicU64; STORAGE_OP_COUNT],
    /// Simulated latency of `sync_data`, so group commit has something to amortize.
    sync_delay_us: AtomicU64,
}

impl MemShared {
    fn enter(&self, op: StorageOp) -> io::Result<()> {
        self.counts[op.index()].fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock();
        if let Some(i) = state.faults.iter().position(|f| f.op == op) {
            let fault = &mut state.faults[i];
            if fault.calls_to_skip == 0 {
                let error = fault.error;
                state.faults.remove(i);
                return Err(error.to_io());
            }
            fault.calls_to_skip -= 1;
        }
        Ok(())
    }
}

/// An in-memory file system that knows which bytes are durable.
///
/// Cloning shares the same files. Directory semantics are simplified: a created or renamed
/// file survives a crash only after `sync_dir` of its parent; removals are immediate and
/// durable.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    shared: Arc<MemShared>,
}

#[derive(Debug)]
struct MemFile {
    shared: Arc<MemShared>,
    node: Arc<Mutex<MemNode>>,
    epoch: u64,
}

#[derive(Debug)]
struct MemLock {
    shared: Arc<MemShared>,
    path: PathBuf,
    epoch: u64,
}

impl StorageLock for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        if self.shared.epoch.load(Ordering::Acquire) == self.epoch {
            self.shared.state.lock().locks.remove(&self.path);
        }
    }
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl MemFile {
    fn alive(&self) -> io::Result<()> {
        if self.shared.epoch.load(Ordering::Acquire) == self.epoch {
            Ok(())
        } else {
            // The process that held this handle "died" in a crash.
            Err(io::Error::from_raw_os_error(5))
        }
    }
}

impl StorageFile for MemFile {
    fn read_at(&self, buf: &mut [u8], position: u64) -> io::Result<usize> {
        self.shared.enter(StorageOp::Read)?;
        self.alive()?;
        let node = self.node.lock();
        let len = node.data.len() as u64;
        if position >= len {
            return Ok(0);
        }
        let start = position as usize;
        let n = buf.len().min(node.data.len() - start);
        buf[..n].copy_from_slice(&node.data[start..start + n]);
        Ok(n)
    }
    fn write_all_at(&self, buf: &[u8], position: u64) -> io::Result<()> {
        self.shared.enter(StorageOp::Write)?;
        self.alive()?;
        let mut node = self.node.lock();
        let start = position as usize;
        let end = start + buf.len();
        if node.data.len() < end {
            node.data.resize(end, 0);
        }
        node.data[start..end].copy_from_slice(buf);
        if start < node.durable.len() {
            node.durable_is_prefix = false;
        }
        Ok(())
    }
    fn len_bytes(&self) -> io::Result<u64> {
        self.alive()?;
        Ok(self.node.lock().data.len() as u64)
    }
    fn set_len(&self, len_bytes: u64) -> io::Result<()> {
        self.shared.enter(StorageOp::SetLen)?;
        self.alive()?;
        let mut node = self.node.lock();
        if (len_bytes as usize) < node.durable.len() {
            node.durable_is_prefix = false;
        }
        node.data.resize(len_bytes as usize, 0);
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        self.shared.enter(StorageOp::SyncData)?;
        self.alive()?;
        let delay_us = self.shared.sync_delay_us.load(Ordering::Relaxed);
        if delay_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay_us));
        }
        let mut node = self.node.lock();
        let node = &mut *node;
        if node.durable_is_prefix {
            let from = node.durable.len();
            node.durable.extend_from_slice(&node.data[from..]);
        } else {
            node.durable.clone_from(&node.data);
            node.durable_is_prefix = true;
        }
        Ok(())
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl MemStorage {
    /// A new, empty in-memory file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times `op` has been called (including calls that failed).
    pub fn op_count(&self, op: StorageOp) -> u64 {
        self.shared.counts[op.index()].load(Ordering::Relaxed)
    }

    /// Makes the call to `op` after `calls_to_skip` more successful calls fail with `error`,
    /// once.
    pub fn fail_after(&self, op: StorageOp, calls_to_skip: u64, error: FaultError) {
        self.shared.state.lock().faults.push(Fault {
            op,
            calls_to_skip,
            error,
        });
    }

    /// Makes every `sync_data` take this long, like a real device.
    pub fn set_sync_delay_us(&self, delay_us: u64) {
        self.shared.sync_delay_us.store(delay_us, Ordering::Relaxed);
    }

    /// Removes every pending injected fault.
    pub fn clear_faults(&self) {
        self.shared.state.lock().faults.clear();
    }

    /// Simulates power loss: unsynced bytes are kept, dropped or torn per `mode`, files
    /// whose directory entry was never synced vanish, locks are released, and every open
    /// handle starts failing with `EIO`.
    pub fn crash(&self, mode: CrashMode) {
        let mut state = self.shared.state.lock();
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        state.locks.clear();
        state.faults.clear();
        state.files.retain(|_, node| node.lock().entry_durable);
        let mut rng = match mode {
            CrashMode::TearUnsynced { seed } => seed,
            _ => 0,
        };
        for node in state.files.values() {
            let mut node = node.lock();
            let node = &mut *node;
            let kept = match mode {
                CrashMode::KeepUnsynced => node.data.clone(),
                CrashMode::DropUnsynced => node.durable.clone(),
                CrashMode::TearUnsynced { .. } => {
                    if node.durable_is_prefix && node.data.len() > node.durable.len() {
                        let extra = (node.data.len() - node.durable.len()) as u64;
                        let keep = (splitmix64(&mut rng) % (extra + 1)) as usize;
                        node.data[..node.durable.len() + keep].to_vec()
                    } else {
                        node.durable.clone()
                    }
                }
            };
            node.data = kept.clone();
            node.durable = kept;
            node.durable_is_prefix = true;
        }
    }

    /// Flips one bit of a file, in both its live and durable contents (media damage).
    pub fn flip_bit(&self, path: &Path, byte_position: u64, bit: u8) -> io::Result<()> {
        let state = self.shared.state.lock();
        let node = state.files.get(path).ok_or_else(not_found)?;
        let mut node = node.lock();
        let i = byte_position as usize;
        if i >= node.data.len() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        node.data[i] ^= 1 << (bit % 8);
        if i < node.durable.len() {
            node.durable[i] ^= 1 << (bit % 8);
        }
        Ok(())
    }

    /// A copy of a file's live contents, if it exists.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.shared.state.lock();
        state.files.get(path).map(|node| node.lock().data.clone())
    }

    /// Whether a file exists.
    pub fn exists(&self, path: &Path) -> bool {
        self.shared.state.lock().files.contains_key(path)
    }

    /// Replaces a file's contents (live and durable), for tests that craft damage.
    pub fn set_file_bytes(&self, path: &Path, bytes: Vec<u8>) -> io::Result<()> {
        let state = self.shared.state.lock();
        let node = state.files.get(path).ok_or_else(not_found)?;
        let mut node = node.lock();
        node.durable.clone_from(&bytes);
        node.data = bytes;
        node.durable_is_prefix = true;
        Ok(())
    }
}

impl Storage for MemStorage {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.shared.state.lock();
        for ancestor in path.ancestors() {
            state.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.shared.enter(StorageOp::List)?;
        let state = self.shared.state.lock();
        if !state.dirs.contains(path) {
            return Err(not_found());
        }
        Ok(state
            .files
            .keys()
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }
    fn open_file(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        self.shared.enter(StorageOp::Open)?;
        let mut state = self.shared.state.lock();
        let node = match mode {
            OpenMode::CreateNew => {
                let parent_exists = path.parent().is_some_and(|p| state.dirs.contains(p));
                if !parent_exists {
                    return Err(not_found());
                }
                if state.files.contains_key(path) {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                let node = Arc::new(Mutex::new(MemNode {
                    durable_is_prefix: true,
                    ..MemNode::default()
                }));
                state.files.insert(path.to_path_buf(), Arc::clone(&node));
                node
            }
            OpenMode::ReadWrite => Arc::clone(state.files.get(path).ok_or_else(not_found)?),
        };
        Ok(Arc::new(MemFile {
            shared: Arc::clone(&self.shared),
            node,
            epoch: self.shared.epoch.load(Ordering::Acquire),
        }))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.shared.enter(StorageOp::Remove)?;
        let mut state = self.shared.state.lock();
        state.files.remove(path).map(|_| ()).ok_or_else(not_found)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.shared.enter(StorageOp::Rename)?;
        let mut state = self.shared.state.lock();
        let node = state.files.remove(from).ok_or_else(not_found)?;
        node.lock().entry_durable = false;
        state.files.insert(to.to_path_buf(), node);
        Ok(())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.shared.enter(StorageOp::SyncDir)?;
        let state = self.shared.state.lock();
        for (p, node) in &state.files {
            if p.parent() == Some(path) {
                node.lock().entry_durable = true;
            }
        }
        Ok(())
    }
    fn try_lock(&self, path: &Path) -> io::Result<Box<dyn StorageLock>> {
        self.shared.enter(StorageOp::Lock)?;
        let mut state = self.shared.state.lock();
        if !state.locks.insert(path.to_path_buf()) {
            return Err(io::Error::from(io::ErrorKind::WouldBlock));
        }
        Ok(Box::new(MemLock {
            shared: Arc::clone(&self.shared),
            path: path.to_path_buf(),
            epoch: self.shared.epoch.load(Ordering::Acquire),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_let_go_of_within_the_retry_is_taken_and_a_held_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("LOCK");
        let held = FsStorage.try_lock(&path).unwrap();
        let started = std::time::Instant::now();
        let err = FsStorage.try_lock(&path).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(started.elapsed() >= std::time::Duration::from_millis(LOCK_RETRY_MS_MAX));
        // Let go of a moment after the second try begins, as a child process that
        // inherited the descriptor does once it runs its program. The retry here is
        // long, so that a loaded machine that leaves the releasing thread waiting does
        // not fail the test; the code path is the one `try_lock` takes.
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            drop(held);
        });
        lock_retrying(&path, 10_000).unwrap();
        releaser.join().unwrap();
    }

    #[test]
    fn crash_drops_unsynced_and_keeps_synced() {
        let mem = MemStorage::new();
        let dir = Path::new("/d");
        mem.create_dir_all(dir).unwrap();
        let path = dir.join("f");
        let file = mem.open_file(&path, OpenMode::CreateNew).unwrap();
        file.write_all_at(b"abc", 0).unwrap();
        file.sync_data().unwrap();
        mem.sync_dir(dir).unwrap();
        file.write_all_at(b"def", 3).unwrap();
        mem.crash(CrashMode::DropUnsynced);
        assert_eq!(mem.file_bytes(&path).unwrap(), b"abc");
        assert!(
            file.read_at(&mut [0; 3], 0).is_err(),
            "old handle must be dead"
        );
    }

    #[test]
    fn unsynced_directory_entry_vanishes_on_crash() {
        let mem = MemStorage::new();
        let dir = Path::new("/d");
        mem.create_dir_all(dir).unwrap();
        let file = mem.open_file(&dir.join("f"), OpenMode::CreateNew).unwrap();
        file.write_all_at(b"abc", 0).unwrap();
        file.sync_data().unwrap();
        mem.crash(CrashMode::KeepUnsynced);
        assert!(!mem.exists(&dir.join("f")));
    }

    #[test]
    fn injected_fault_fires_once_after_skips() {
        let mem = MemStorage::new();
        let dir = Path::new("/d");
        mem.create_dir_all(dir).unwrap();
        let file = mem.open_file(&dir.join("f"), OpenMode::CreateNew).unwrap();
        mem.fail_after(StorageOp::SyncData, 1, FaultError::NoSpace);
        file.sync_data().unwrap();
        let err = file.sync_data().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28));
        file.sync_data().unwrap();
        assert_eq!(mem.op_count(StorageOp::SyncData), 3);
    }

    #[test]
    fn lock_is_exclusive_until_dropped() {
        let mem = MemStorage::new();
        let lock = mem.try_lock(Path::new("/d/LOCK")).unwrap();
        let err = mem.try_lock(Path::new("/d/LOCK")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(lock);
        assert!(mem.try_lock(Path::new("/d/LOCK")).is_ok());
    }
}
