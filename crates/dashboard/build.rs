//! `include_dir!` does not tell cargo which files it read: rebuild when the assets change
//! (cargo scans a directory given here for any change inside it).
fn main() {
    println!("cargo:rerun-if-changed=assets");
}
