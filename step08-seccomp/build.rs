//! libseccomp is a C library: without its development files the link
//! fails with a screenful of linker output. Say what to install instead.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let dirs = [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib/riscv64-linux-gnu",
    ];
    let from_env = std::env::var_os("LIBSECCOMP_LIB_PATH").is_some();
    let found = dirs
        .iter()
        .any(|d| std::path::Path::new(d).join("libseccomp.so").exists())
        || from_env;
    if !found {
        panic!(
            "step08-seccomp needs libseccomp's development files (libseccomp.so): install libseccomp-dev (Debian, Ubuntu) or libseccomp-devel (Fedora), or set LIBSECCOMP_LIB_PATH"
        );
    }
}
