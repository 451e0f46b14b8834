//! The duration model: a random forest that predicts a build's `duration_s` from its features,
//! with the schema it was trained on and its metadata.

use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::{self, FeatureSchema, HistoryStats, N_FEATURES};
use crate::forest::{
    fnv1a64, Prediction, RandomForestParams, RandomForestRegressor, RandomForestValidParams, Reader,
};
use crate::telemetry::{validate_history, BuildConfig, BuildRun, RunContext};
use linfa::ParamGuard;

const MAGIC: &[u8; 4] = b"IMDM";
/// Version of the model file format written by this build.
pub const MODEL_FORMAT_VERSION: u16 = 1;

/// What a model records about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelMetadata {
    /// Pipeline the model was trained for, when trained from runs.
    pub pipeline: Option<String>,
    /// Seconds since the Unix epoch when training finished.
    pub trained_at: u64,
    /// Training rows.
    pub n_samples: usize,
    /// Out-of-bag R², when the forest was trained with bootstrap.
    pub oob_score: Option<f64>,
    /// The feature schema (names and fingerprint).
    pub schema: FeatureSchema,
    /// Hyperparameters used.
    pub params: RandomForestValidParams,
    /// Content id: a hash of the forest, stable across save and load.
    pub model_id: String,
    /// Version number in a [`ModelStore`](crate::store::ModelStore), once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// A trained duration model.
///
/// ```
/// use inframind_core::{demo, model::DurationModel, forest::RandomForestParams};
/// use inframind_core::telemetry::RunContext;
///
/// let history = demo::demo_history("cmake", 120, 7);
/// let model = DurationModel::train(&history, RandomForestParams::new().n_trees(30))?;
/// let last = history.last().unwrap();
/// let p = model.predict(&RunContext::for_tool("cmake"), &last.config, &history)?;
/// assert!(p.mean > 0.0 && p.spread >= 0.0);
/// let again = DurationModel::from_bytes(&model.to_bytes())?;
/// assert_eq!(again.metadata().model_id, model.metadata().model_id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DurationModel {
    forest: RandomForestRegressor,
    meta: ModelMetadata,
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl DurationModel {
    /// Trains on a pipeline's history (oldest first): every run is validated, and each
    /// successful run becomes a training row built from the runs before it. An invalid run is
    /// an error naming it (`history[3].duration_s ...`); see [`DurationModel::train_usable`] to
    /// skip such runs instead.
    pub fn train(history: &[BuildRun], params: RandomForestParams) -> Result<Self> {
        validate_history(history, 0)?;
        Self::train_valid(history, params)
    }

    /// Trains on the runs of `history` that pass validation, skipping the others: for stored
    /// histories, where one implausible value (written before the rules refused it) must not
    /// stop a pipeline from ever training again. Returns the model and the skipped runs, each
    /// with its index in `history` and why.
    ///
    /// ```
    /// use inframind_core::{demo, DurationModel, RandomForestParams};
    /// let mut history = demo::demo_history("npm", 40, 1);
    /// history[7].config.cpu_cores = 1e39; // cannot be a feature (f32)
    /// let (model, skipped) =
    ///     DurationModel::train_usable(&history, RandomForestParams::new().n_trees(5))?;
    /// assert_eq!(skipped.len(), 1);
    /// assert_eq!(skipped[0].0, 7);
    /// assert_eq!(skipped[0].1.field(), Some("history[7].config.cpu_cores"));
    /// assert!(model.metadata().n_samples < 40);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn train_usable(
        history: &[BuildRun],
        params: RandomForestParams,
    ) -> Result<(Self, Vec<(usize, Error)>)> {
        let mut skipped = Vec::new();
        let mut usable = Vec::with_capacity(history.len());
        for (i, run) in history.iter().enumerate() {
            match run.validate() {
                Ok(()) => usable.push(run.clone()),
                Err(e) => skipped.push((i, e.prefixed(&format!("history[{i}]")))),
            }
        }
        Ok((Self::train_valid(&usable, params)?, skipped))
    }

    /// [`DurationModel::train`] on a history already validated.
    fn train_valid(history: &[BuildRun], params: RandomForestParams) -> Result<Self> {
        let params = params.check()?;
        let (rows, y) = features::training_rows(history);
        if rows.len() < crate::retrain::MIN_TRAINING_RUNS as usize {
            return Err(Error::NotEnoughData(format!(
                "training needs at least {} successful runs, the history has {}",
                crate::retrain::MIN_TRAINING_RUNS,
                rows.len()
            )));
        }
        let x = Array2::from_shape_vec((rows.len(), N_FEATURES), rows.concat())
            .map_err(|e| Error::NotEnoughData(e.to_string()))?;
        let forest = RandomForestRegressor::fit_arrays(&params, x.view(), &y)?;
        let pipeline = history.last().map(|r| r.pipeline.clone());
        Ok(Self::assemble(
            forest,
            FeatureSchema::current(),
            params,
            y.len(),
            pipeline,
        ))
    }

    /// Fits on features you computed yourself (rows x features), like scikit-learn's
    /// `fit(X, y)`. `feature_names` default to `f0`, `f1`...
    pub fn fit(
        x: ArrayView2<'_, f64>,
        y: &[f64],
        feature_names: Option<Vec<String>>,
        params: RandomForestParams,
    ) -> Result<Self> {
        let params = params.check()?;
        let names = match feature_names {
            Some(n) if n.len() != x.ncols() => {
                return Err(Error::invalid_field(
                    "feature_names",
                    n.len(),
                    format!("needs one name per column ({} columns)", x.ncols()),
                ))
            }
            Some(n) => n,
            None => (0..x.ncols()).map(|i| format!("f{i}")).collect(),
        };
        let forest = RandomForestRegressor::fit_arrays(&params, x, y)?;
        Ok(Self::assemble(
            forest,
            FeatureSchema::custom(names),
            params,
            y.len(),
            None,
        ))
    }

    fn assemble(
        forest: RandomForestRegressor,
        schema: FeatureSchema,
        params: RandomForestValidParams,
        n_samples: usize,
        pipeline: Option<String>,
    ) -> Self {
        let model_id = format!("{:016x}", fnv1a64(&forest.to_bytes()));
        let meta = ModelMetadata {
            pipeline,
            trained_at: now_unix(),
            n_samples,
            oob_score: forest.oob_score(),
            schema,
            params,
            model_id,
            version: None,
        };
        DurationModel { forest, meta }
    }

    /// The model's metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.meta
    }

    /// Sets the store version (done by [`ModelStore`](crate::store::ModelStore)).
    pub(crate) fn set_version(&mut self, v: u32) {
        self.meta.version = Some(v);
    }

    /// The underlying forest.
    pub fn forest(&self) -> &RandomForestRegressor {
        &self.forest
    }

    /// Feature names in row order.
    pub fn feature_names(&self) -> &[String] {
        &self.meta.schema.names
    }

    /// Importance of each feature (sums to 1).
    pub fn feature_importances(&self) -> &[f64] {
        self.forest.feature_importances()
    }

    /// Out-of-bag R².
    pub fn oob_score(&self) -> Option<f64> {
        self.meta.oob_score
    }

    /// Fails unless the model was trained on `schema`.
    pub fn check_schema(&self, schema: &FeatureSchema) -> Result<()> {
        if self.meta.schema.fingerprint != schema.fingerprint {
            return Err(Error::SchemaMismatch {
                expected: self.meta.schema.fingerprint.clone(),
                found: schema.fingerprint.clone(),
            });
        }
        Ok(())
    }

    /// Predicts the duration of a build with `config`, from the caller's context and the
    /// pipeline's history. The model must use the current built-in feature schema.
    pub fn predict(
        &self,
        context: &RunContext,
        config: &BuildConfig,
        history: &[BuildRun],
    ) -> Result<Prediction> {
        self.predict_with_stats(context, config, &HistoryStats::from_history(history))
    }

    /// Like [`predict`](Self::predict) with history statistics computed once by the caller.
    pub fn predict_with_stats(
        &self,
        context: &RunContext,
        config: &BuildConfig,
        stats: &HistoryStats,
    ) -> Result<Prediction> {
        self.check_schema(FeatureSchema::current_cached())?;
        context.validate()?;
        config.validate("config")?;
        let row = features::features_with_stats(context, config, stats);
        self.forest.predict_row(&row)
    }

    /// Predicts one row of features computed by the caller.
    pub fn predict_features(&self, row: &[f64]) -> Result<Prediction> {
        self.forest.predict_row(row)
    }

    /// Predicts many rows (rows x features).
    pub fn predict_many(&self, x: ArrayView2<'_, f64>) -> Result<Vec<Prediction>> {
        self.forest.predict_batch(x)
    }

    /// Serializes the model: magic `IMDM`, format version, metadata (JSON), the forest
    /// ([`RandomForestRegressor::to_bytes`]) and an FNV-1a 64 checksum of all of it.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Metadata of plain data always serializes.
        let meta = serde_json::to_vec(&self.meta).unwrap_or_default();
        let forest = self.forest.to_bytes();
        let mut out = Vec::with_capacity(18 + meta.len() + forest.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&MODEL_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&forest);
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Decodes a model written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::decode(bytes, "model")
    }

    fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        if bytes.len() < 4 || &bytes[..4] != MAGIC {
            return Err(Error::format(
                what,
                "not an InfraMind model (bad magic bytes)",
            ));
        }
        if bytes.len() < 18 {
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
        if version != MODEL_FORMAT_VERSION {
            return Err(Error::format(
                what,
                format!(
                    "format version {version} is not supported (this build reads version \
                     {MODEL_FORMAT_VERSION}); retrain or upgrade inframind"
                ),
            ));
        }
        let meta_len = r.u32()? as usize;
        let meta_bytes = r
            .take(meta_len)
            .map_err(|_| Error::format(what, "truncated metadata"))?;
        let meta: ModelMetadata = serde_json::from_slice(meta_bytes)
            .map_err(|e| Error::format(what, format!("bad metadata: {e}")))?;
        let forest = RandomForestRegressor::from_bytes(&body[r.pos..])
            .map_err(|e| Error::format(what, e.to_string()))?;
        if forest.n_features() != meta.schema.names.len() {
            return Err(Error::format(
                what,
                format!(
                    "the forest has {} features but the schema names {}",
                    forest.n_features(),
                    meta.schema.names.len()
                ),
            ));
        }
        Ok(DurationModel { forest, meta })
    }

    /// Writes the model to `path` atomically (a temporary file in the same folder, then a
    /// rename), so a reader never sees half a model.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::atomic_file::write_atomic(path.as_ref(), &self.to_bytes())
    }

    /// Reads a model from `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        Self::decode(&bytes, &format!("model file {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_history;

    fn small() -> DurationModel {
        DurationModel::train(
            &demo_history("cargo", 60, 3),
            RandomForestParams::new().n_trees(10),
        )
        .unwrap()
    }

    #[test]
    fn refuses_features_of_another_schema() {
        let m = small();
        let other = FeatureSchema::custom(vec!["a".into()]);
        let msg = m.check_schema(&other).unwrap_err().to_string();
        assert!(msg.contains("schema mismatch"), "{msg}");
    }

    #[test]
    fn custom_model_cannot_predict_from_runs() {
        let x = Array2::from_shape_fn((20, 19), |(i, j)| (i * j) as f64);
        let y: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let m =
            DurationModel::fit(x.view(), &y, None, RandomForestParams::new().n_trees(5)).unwrap();
        let h = demo_history("cargo", 5, 1);
        let err = m
            .predict(&RunContext::for_tool("cargo"), &h[0].config, &h)
            .unwrap_err();
        assert!(matches!(err, Error::SchemaMismatch { .. }));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = small().to_bytes();
        for cut in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
            assert!(
                DurationModel::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_is_caught() {
        let mut bytes = small().to_bytes();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        let msg = DurationModel::from_bytes(&bytes).unwrap_err().to_string();
        assert!(msg.contains("checksum"), "{msg}");
    }

    #[test]
    fn invalid_history_names_the_run() {
        let mut h = demo_history("npm", 10, 2);
        h[4].duration_s = f64::NAN;
        let msg = DurationModel::train(&h, RandomForestParams::new())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("history[4].duration_s"), "{msg}");
    }
}
