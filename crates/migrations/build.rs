// `include_dir!` cannot tell cargo which files it read (on stable Rust), so a migration
// added, removed or edited would not rebuild this crate without this: cargo scans the
// whole directory for changes.
fn main() {
    println!("cargo::rerun-if-changed=../../supabase/migrations");
}
