//! Rebuild when a migration file is added or changed: `sqlx::migrate!` embeds the
//! folders at compile time and would otherwise keep a stale list.

fn main() {
    println!("cargo:rerun-if-changed=postgres");
    println!("cargo:rerun-if-changed=sqlite");
}
