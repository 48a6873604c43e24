//! The read routes on both stores.

use crate::support::*;

#[tokio::test]
async fn both_stores_serve_the_same_json() {
    let stores = Stores::seeded(300, 11).await;
    let [pg, lite] = stores.both();
    let (pg, lite) = (
        Server::start(pg, Default::default()).await,
        Server::start(lite, Default::default()).await,
    );
    for path in [
        "/api/admin/metrics/overview?period=month",
        "/api/admin/calls?page_size=7&page=2",
        "/api/admin/calls/3",
        "/api/customers/4/history",
    ] {
        let (a, b) = (pg.get(path).await, lite.get(path).await);
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        assert_eq!(a.text, b.text, "{path}");
    }
}
