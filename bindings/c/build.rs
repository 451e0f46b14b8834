//! Gives libinframind.so an SONAME, so that programs linked against it by full path (as CMake
//! does) record `libinframind.so` and find it through their rpath or the loader's path.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libinframind.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
