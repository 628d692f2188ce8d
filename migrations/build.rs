//! Lists each backend's migration files as Rust, so the crate embeds them with
//! `include_str!` instead of sqlx's `migrate!` macro (whose proc-macro crate
//! would compile both database drivers a second time for the build host).
//! Reruns when a file is added or changed.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut code = String::new();
    for backend in ["postgres", "sqlite"] {
        println!("cargo:rerun-if-changed={backend}");
        let folder = Path::new(&manifest).join(backend);
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        let _ = writeln!(
            code,
            "/// The {backend} migrations: version, description, SQL.\n\
             pub(crate) const {}: &[(i64, &str, &str)] = &[",
            backend.to_uppercase()
        );
        for path in files {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_else(|| panic!("{} has no UTF-8 name", path.display()));
            let (version, description) = name
                .split_once('_')
                .unwrap_or_else(|| panic!("{name}: expected <version>_<description>.sql"));
            let version: i64 = version
                .parse()
                .unwrap_or_else(|_| panic!("{name}: the version is not a number"));
            let _ = writeln!(
                code,
                "    ({version}, {:?}, include_str!({:?})),",
                description.replace('_', " "),
                path.display().to_string()
            );
        }
        code.push_str("];\n");
    }
    std::fs::write(Path::new(&out).join("files.rs"), code).expect("cannot write files.rs");
}
