//! A versioned model store on the local file system.
//!
//! Layout: `<root>/<pipeline>/v<NNNNNN>.imdm`, the pipeline name percent-encoded so that any
//! name (`team/app`, `..`, unicode) is one safe folder. A name whose encoding would be longer
//! than a file system allows (255 bytes) gets a folder of a readable prefix, `~` and a hash of
//! the whole name, with the name itself kept in the folder's `.pipeline` file and checked on
//! every access. Writes go to a temporary file that is
//! flushed and then *linked* to its final name, which fails if the name exists: two writers
//! never overwrite each other's version, and a reader never sees half a file. A truncated or
//! corrupt version is reported with its path and skipped by [`ModelStore::load_latest`], so
//! the earlier versions keep serving.
//!
//! ```
//! use inframind_core::{demo, forest::RandomForestParams, model::DurationModel, store::ModelStore};
//!
//! let dir = tempfile::tempdir()?;
//! let store = ModelStore::open(dir.path())?;
//! let model = DurationModel::train(&demo::demo_history("npm", 60, 1), RandomForestParams::new().n_trees(10))?;
//! let v1 = store.save("web/app", &model)?;
//! let v2 = store.save("web/app", &model)?;
//! assert_eq!((v1, v2), (1, 2));
//! let latest = store.load_latest("web/app")?;
//! assert_eq!(latest.model.metadata().version, Some(2));
//! store.prune("web/app", 1)?;
//! assert_eq!(store.list("web/app")?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic_file::{sync_dir, write_temp};
use crate::error::{Error, Result};
use crate::model::{DurationModel, ModelMetadata};

const EXT: &str = "imdm";

/// Longest folder name written: below the 255 bytes most file systems allow.
const MAX_FOLDER_NAME: usize = 200;

/// Bytes of the encoded name kept readable in a hashed folder name.
const READABLE_PREFIX: usize = 160;

/// The file holding a long pipeline name inside its hashed folder.
const NAME_FILE: &str = ".pipeline";

/// A folder of versioned models, one sub-folder per pipeline.
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

/// One stored version, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct StoredVersion {
    /// Version number (1, 2, ...).
    pub version: u32,
    /// Path of the file.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Metadata, or why the file could not be decoded.
    pub metadata: std::result::Result<ModelMetadata, String>,
}

/// A model loaded by [`ModelStore::load_latest`], with the newer versions it had to skip.
#[derive(Debug)]
pub struct Loaded {
    /// The newest version that decodes.
    pub model: DurationModel,
    /// Newer versions that did not decode: (version, reason).
    pub skipped: Vec<(u32, String)>,
}

impl ModelStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::io("create folder", &root, e))?;
        Ok(ModelStore { root })
    }

    /// The folder of a pipeline.
    pub fn pipeline_dir(&self, pipeline: &str) -> Result<PathBuf> {
        if pipeline.is_empty() {
            return Err(Error::invalid_field(
                "pipeline",
                "\"\"",
                "a pipeline name is needed",
            ));
        }
        let encoded = encode_name(pipeline);
        if encoded.len() <= MAX_FOLDER_NAME {
            return Ok(self.root.join(encoded));
        }
        let dir = self.root.join(hashed_folder_name(&encoded, pipeline));
        match fs::read(dir.join(NAME_FILE)) {
            Ok(stored) if stored == pipeline.as_bytes() => {}
            Ok(_) => {
                return Err(Error::io(
                    "open",
                    &dir,
                    std::io::Error::other(
                        "this folder belongs to another pipeline whose long name has the same \
                         prefix and hash; rename one of the pipelines",
                    ),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read", dir.join(NAME_FILE), e)),
        }
        Ok(dir)
    }

    /// Creates the folder of a pipeline (and, for a long name, its `.pipeline` file).
    fn create_pipeline_dir(&self, pipeline: &str) -> Result<PathBuf> {
        let dir = self.pipeline_dir(pipeline)?;
        fs::create_dir_all(&dir).map_err(|e| Error::io("create folder", &dir, e))?;
        let name_file = dir.join(NAME_FILE);
        if encode_name(pipeline).len() > MAX_FOLDER_NAME && !name_file.exists() {
            crate::atomic_file::write_atomic(&name_file, pipeline.as_bytes())?;
        }
        Ok(dir)
    }

    /// Stores `model` as the next version of `pipeline` and returns that version.
    pub fn save(&self, pipeline: &str, model: &DurationModel) -> Result<u32> {
        let dir = self.create_pipeline_dir(pipeline)?;
        let mut next = self.versions(&dir)?.last().map_or(1, |v| v + 1);
        let mut model = model.clone();
        // Another writer may take `next` between our listing and our link: try the next one.
        for _ in 0..64 {
            model.set_version(next);
            let final_path = dir.join(file_name(next));
            let tmp = write_temp(&dir, &model.to_bytes())?;
            let linked = fs::hard_link(&tmp, &final_path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    sync_dir(&dir);
                    return Ok(next);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
                Err(e) => return Err(Error::io("link", &final_path, e)),
            }
        }
        Err(Error::io(
            "save",
            &dir,
            std::io::Error::other("too many concurrent writers"),
        ))
    }

    /// Loads one version.
    pub fn load(&self, pipeline: &str, version: u32) -> Result<DurationModel> {
        let path = self.pipeline_dir(pipeline)?.join(file_name(version));
        let mut m = DurationModel::load(&path)?;
        m.set_version(version);
        Ok(m)
    }

    /// Loads the newest version that decodes, skipping (and reporting) corrupt newer ones.
    pub fn load_latest(&self, pipeline: &str) -> Result<Loaded> {
        let dir = self.pipeline_dir(pipeline)?;
        let mut skipped = Vec::new();
        for v in self.versions(&dir)?.into_iter().rev() {
            match self.load(pipeline, v) {
                Ok(model) => return Ok(Loaded { model, skipped }),
                Err(e) => skipped.push((v, e.to_string())),
            }
        }
        let detail = if skipped.is_empty() {
            String::from("no model stored")
        } else {
            format!("no version decodes: {skipped:?}")
        };
        Err(Error::NotStored {
            pipeline: pipeline.to_string(),
            detail,
        })
    }

    /// Lists the versions of a pipeline, oldest first, with their metadata.
    pub fn list(&self, pipeline: &str) -> Result<Vec<StoredVersion>> {
        let dir = self.pipeline_dir(pipeline)?;
        self.versions(&dir)?
            .into_iter()
            .map(|version| {
                let path = dir.join(file_name(version));
                let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let metadata = DurationModel::load(&path)
                    .map(|m| {
                        let mut meta = m.metadata().clone();
                        meta.version = Some(version);
                        meta
                    })
                    .map_err(|e| e.to_string());
                Ok(StoredVersion {
                    version,
                    path,
                    bytes,
                    metadata,
                })
            })
            .collect()
    }

    /// Deletes all but the newest `keep` versions (at least one is always kept). Returns the
    /// versions deleted.
    pub fn prune(&self, pipeline: &str, keep: usize) -> Result<Vec<u32>> {
        let dir = self.pipeline_dir(pipeline)?;
        let versions = self.versions(&dir)?;
        let keep = keep.max(1);
        let n_delete = versions.len().saturating_sub(keep);
        let mut deleted = Vec::new();
        for &v in &versions[..n_delete] {
            let path = dir.join(file_name(v));
            fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
            deleted.push(v);
        }
        Ok(deleted)
    }

    /// Pipelines with a folder in the store (decoded names).
    pub fn pipelines(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| Error::io("list", &self.root, e))? {
            let entry = entry.map_err(|e| Error::io("list", &self.root, e))?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let folder = entry.file_name();
                let name = match folder.to_str() {
                    Some(f) if f.contains('~') => fs::read(entry.path().join(NAME_FILE))
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok()),
                    Some(f) => decode_name(f),
                    None => None,
                };
                out.extend(name);
            }
        }
        out.sort();
        Ok(out)
    }

    fn versions(&self, dir: &Path) -> Result<Vec<u32>> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", dir, e)),
        };
        let mut v: Vec<u32> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.to_str()?;
                name.strip_prefix('v')?
                    .strip_suffix(&format!(".{EXT}"))?
                    .parse()
                    .ok()
            })
            .collect();
        v.sort_unstable();
        Ok(v)
    }
}

fn file_name(version: u32) -> String {
    format!("v{version:06}.{EXT}")
}

/// Percent-encodes everything but `[A-Za-z0-9_-]` (so `.` and `..` cannot escape the root).
fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `<first 160 bytes of the encoding>~<128-bit hash of the name, hex>`: `~` never appears in an
/// encoding, so a hashed folder is never mistaken for an encoded name.
fn hashed_folder_name(encoded: &str, name: &str) -> String {
    let mut cut = READABLE_PREFIX.min(encoded.len());
    // Never cut a `%XX` escape in two.
    while cut > 0
        && encoded
            .as_bytes()
            .get(cut.saturating_sub(2)..cut)
            .is_some_and(|w| w.contains(&b'%'))
    {
        cut -= 1;
    }
    let high = crate::hash::fnv1a64(name.as_bytes());
    let low = crate::hash::fnv1a64(&[name.as_bytes(), b"\x00inframind-store"].concat());
    format!("{}~{high:016x}{low:016x}", &encoded[..cut])
}

fn decode_name(enc: &str) -> Option<String> {
    let bytes = enc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = enc.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_get_a_short_folder_and_keep_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path()).unwrap();
        let model = DurationModel::train(
            &crate::demo::demo_history("npm", 30, 1),
            crate::RandomForestParams::new().n_trees(3),
        )
        .unwrap();
        let long_ascii = format!("team/{}", "a".repeat(500));
        let long_text = "ü/".repeat(85);
        let just_below = "b".repeat(MAX_FOLDER_NAME);
        for name in [&long_ascii, &long_text, &just_below] {
            assert_eq!(store.save(name, &model).unwrap(), 1, "{name}");
            assert_eq!(store.save(name, &model).unwrap(), 2);
            assert_eq!(
                store.load_latest(name).unwrap().model.metadata().version,
                Some(2)
            );
            let folder = store.pipeline_dir(name).unwrap();
            let folder = folder.file_name().unwrap().to_str().unwrap();
            assert!(folder.len() <= MAX_FOLDER_NAME, "{}", folder.len());
        }
        // Same prefix, different tail: different folders.
        let other = format!("team/{}b", "a".repeat(499));
        assert_ne!(
            store.pipeline_dir(&other).unwrap(),
            store.pipeline_dir(&long_ascii).unwrap()
        );
        assert!(matches!(
            store.load_latest(&other),
            Err(Error::NotStored { .. })
        ));
        let mut names = store.pipelines().unwrap();
        names.sort();
        let mut expected = vec![long_ascii.clone(), long_text.clone(), just_below.clone()];
        expected.sort();
        assert_eq!(names, expected);
        // A folder whose name file says another pipeline is refused, not shared.
        let folder = store.pipeline_dir(&long_ascii).unwrap();
        fs::write(folder.join(NAME_FILE), "someone else").unwrap();
        let e = store.load_latest(&long_ascii).unwrap_err();
        assert!(e.to_string().contains("another pipeline"), "{e}");
    }

    #[test]
    fn hashed_folders_never_cut_an_escape() {
        for name in [
            "é".repeat(200),
            format!("a{}", "é".repeat(200)),
            format!("ab{}", "/".repeat(300)),
        ] {
            let encoded = encode_name(&name);
            let folder = hashed_folder_name(&encoded, &name);
            let prefix = folder.split('~').next().unwrap();
            assert!(encoded.starts_with(prefix));
            // Whole escapes only (a multi-byte character may still be cut between two).
            let tail = &prefix.as_bytes()[prefix.len().saturating_sub(2)..];
            assert!(!tail.contains(&b'%'), "{prefix}");
            assert!(prefix.len() >= READABLE_PREFIX - 2, "{}", prefix.len());
        }
    }

    #[test]
    fn names_round_trip_and_stay_inside_the_root() {
        for name in ["demo/example-app", "..", ".", "a b/c%d", "ünï"] {
            let enc = encode_name(name);
            assert!(!enc.contains('/') && !enc.contains('.'), "{enc}");
            assert_eq!(decode_name(&enc).as_deref(), Some(name));
        }
    }
}
