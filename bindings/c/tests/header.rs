//! The committed header `include/inframind.h` must be exactly what cbindgen generates from the
//! sources. Regenerate it with `INFRAMIND_BLESS=1 cargo test -p inframind-c --test header`.

use std::path::Path;

/// The header cbindgen generates now, with the version macros of this crate's version.
fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("bindings/c/cbindgen.toml: {e}"));
    config.after_includes = Some(format!(
        "\n#define IM_VERSION_MAJOR {}\n#define IM_VERSION_MINOR {}\n#define IM_VERSION_PATCH {}\n\
         #define IM_VERSION_STRING \"{}\"\n",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen failed: {e}"));
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn committed_header_matches_the_sources() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/inframind.h");
    let fresh = generate();
    if std::env::var_os("INFRAMIND_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first_diff = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "{} is out of date with bindings/c/src (first difference at line {}).\n\
             Regenerate it with:\n    INFRAMIND_BLESS=1 cargo test -p inframind-c --test header\n\
             and commit the result.",
            path.display(),
            first_diff + 1
        );
    }
}

#[test]
fn header_has_the_fixed_abi() {
    let h = generate();
    for needle in [
        "typedef enum im_status {",
        "IM_STATUS_OK = 0,",
        "IM_STATUS_PANIC = 9,",
        "IM_STATUS_NOT_ENOUGH_DATA = 10,",
        "} im_status;",
        "typedef struct im_collector im_collector;",
        "typedef struct im_model im_model;",
        "typedef struct im_policy_set im_policy_set;",
        "const char *im_version(void);",
        "const char *im_status_name(im_status status);",
        "#define IM_VERSION_MAJOR ",
    ] {
        assert!(
            h.contains(needle),
            "generated header lacks `{needle}`:\n{h}"
        );
    }
}
