fn main() {
    let path = std::path::Path::new("/tmp/ava_peek.db");
    let _ = std::fs::remove_file(path);
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(300);
    let t = std::time::Instant::now();
    let r = ava_seed::seed(
        path,
        &ava_seed::SeedOptions {
            calls: n,
            seed: 1,
            end: chrono::NaiveDate::from_ymd_opt(2025, 8, 25).unwrap(),
        },
    )
    .unwrap();
    println!("{r:?} {:?}", t.elapsed());
}
