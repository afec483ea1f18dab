// Links libqnt.so.1: from $LIBQNT_LIB_DIR when set (a build tree's lib/),
// else where pkg-config's libqnt.pc says, else the linker's default path.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBQNT_LIB_DIR");
    if let Ok(dir) = env::var("LIBQNT_LIB_DIR") {
        println!("cargo:rustc-link-search=native={}", dir);
    } else if let Ok(out) = Command::new("pkg-config").args(["--libs-only-L", "libqnt"]).output() {
        if out.status.success() {
            for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={}", dir);
                }
            }
        }
    }
    println!("cargo:rustc-link-lib=dylib=qnt");
}
