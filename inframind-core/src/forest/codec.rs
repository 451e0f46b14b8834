//! The compact serialized form of a forest.
//!
//! Layout (little-endian): magic `IMRF`, format version `u16`, reserved `u16`, `n_features u32`,
//! `n_trees u32`, `min_split u32`, out-of-bag R² `f64` (NaN when absent), `n_features`
//! importances `f64`, then per tree `n_nodes u32` and its nodes (threshold-or-value `f32`,
//! meta `u32`: 8 bytes a node), then an FNV-1a 64 checksum of everything before it.
//! Decoding checks every length, the checksum and every tree's structure, so a truncated or
//! corrupt file is an error, never a panic or an out-of-bounds walk.

use super::algorithm::RandomForestRegressor;
use super::tree::{Node, Tree, MAX_FEATURES, MAX_NODES};
use crate::error::{Error, Result};
use crate::hash::fnv1a64;

const MAGIC: &[u8; 4] = b"IMRF";
/// Version of the forest encoding written by this build.
pub const FOREST_FORMAT_VERSION: u16 = 1;

impl RandomForestRegressor {
    /// Serializes the forest (8 bytes a node plus a small header).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + 8 * self.n_features + 8 * self.n_nodes() + 4 * self.trees.len(),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FOREST_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(self.n_features as u32).to_le_bytes());
        out.extend_from_slice(&(self.trees.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.min_split.to_le_bytes());
        out.extend_from_slice(&self.oob_r2.unwrap_or(f64::NAN).to_le_bytes());
        for v in &self.importances {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for t in self.trees.iter() {
            out.extend_from_slice(&(t.n_nodes() as u32).to_le_bytes());
            for n in t.stored_nodes() {
                out.extend_from_slice(&n.value.to_le_bytes());
                out.extend_from_slice(&n.meta.to_le_bytes());
            }
        }
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Decodes a forest written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let what = "forest";
        if bytes.len() < 4 || &bytes[..4] != MAGIC {
            return Err(Error::format(
                what,
                "not an InfraMind forest (bad magic bytes)",
            ));
        }
        if bytes.len() < 8 + 28 {
            return Err(Error::format(what, "truncated header"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let mut sum = [0u8; 8];
        sum.copy_from_slice(tail);
        if fnv1a64(body) != u64::from_le_bytes(sum) {
            return Err(Error::format(
                what,
                "checksum mismatch: the file is truncated or corrupt",
            ));
        }
        let mut r = Reader { buf: body, pos: 4 };
        let version = r.u16()?;
        if version != FOREST_FORMAT_VERSION {
            return Err(Error::format(
                what,
                format!(
                    "format version {version} is not supported by this build (it reads version \
                     {FOREST_FORMAT_VERSION}); retrain or upgrade inframind"
                ),
            ));
        }
        let _reserved = r.u16()?;
        let n_features = r.u32()? as usize;
        let n_trees = r.u32()? as usize;
        let min_split = r.u32()?;
        let oob = r.f64()?;
        if n_features == 0 || n_features > MAX_FEATURES {
            return Err(Error::format(
                what,
                format!("bad feature count {n_features}"),
            ));
        }
        if n_trees == 0 {
            return Err(Error::format(what, "a forest needs at least one tree"));
        }
        let mut importances = Vec::with_capacity(n_features);
        for _ in 0..n_features {
            importances.push(r.f64()?);
        }
        let mut trees = Vec::with_capacity(n_trees.min(r.remaining() / 12));
        for t in 0..n_trees {
            let n_nodes = r.u32()? as usize;
            if n_nodes == 0 || n_nodes > MAX_NODES || n_nodes * 8 > r.remaining() {
                return Err(Error::format(
                    what,
                    format!("tree {t}: bad node count {n_nodes}"),
                ));
            }
            let mut nodes = Vec::with_capacity(n_nodes);
            for _ in 0..n_nodes {
                let value = f32::from_bits(r.u32()?);
                let meta = r.u32()?;
                nodes.push(Node { value, meta });
            }
            Tree::validate_stored(&nodes, n_features)
                .map_err(|e| Error::format(what, format!("tree {t}: {e}")))?;
            trees.push(Tree::from_stored(nodes, n_features));
        }
        if r.remaining() != 0 {
            return Err(Error::format(what, "trailing bytes after the last tree"));
        }
        Ok(RandomForestRegressor {
            trees: trees.into(),
            n_features,
            importances,
            oob_r2: oob.is_finite().then_some(oob),
            min_split,
        })
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.remaining() < n {
            return Err(Error::format("forest", "truncated data"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn f64(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }
}
