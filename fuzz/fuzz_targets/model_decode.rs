//! Model files (`DurationModel::from_bytes`). The first byte picks the mode: odd appends the
//! FNV-1a checksum to the rest (to reach the decoder's inner layers), even decodes the rest as
//! is (to reach the header and checksum checks). A model that decodes must encode to bytes that
//! decode to the same bytes again, and predicting a row must give a usable value or an error.
#![no_main]

use inframind_core::{BuildConfig, DurationModel, RunContext};
use inframind_fuzz::{assert_usable, with_checksum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 == 1 {
        with_checksum(rest)
    } else {
        rest.to_vec()
    };
    let Ok(model) = DurationModel::from_bytes(&bytes) else {
        return;
    };

    let encoded = model.to_bytes();
    let again = DurationModel::from_bytes(&encoded)
        .unwrap_or_else(|e| panic!("a decoded model's own encoding does not decode: {e}"));
    assert_eq!(
        again.to_bytes(),
        encoded,
        "encode(decode(encode(m))) != encode(m)"
    );

    let n = model.forest().n_features();
    for fill in [0.0, 1.0, -1.0, 1e9, f64::MAX] {
        if let Ok(p) = model.predict_features(&vec![fill; n]) {
            assert_usable(&p, "predict_features");
        }
    }
    // A row of the wrong width is an error, never a panic.
    let _ = model.predict_features(&vec![0.0; n + 1]);
    let config = BuildConfig {
        concurrency: 4,
        cpu_cores: 4.0,
        memory_bytes: 8 << 30,
    };
    if let Ok(p) = model.predict(&RunContext::for_tool("cmake"), &config, &[]) {
        assert_usable(&p, "predict");
    }
});
