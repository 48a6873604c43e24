//! The reader's pure parts, without a file: batches cut by size with their ids and hashes, a hung-up writer, the hash-keyed maps, hex.

use std::hash::{BuildHasher, Hasher};

use super::*;

/// A `customers` row with this id (the other columns NULL: the encoder does not
/// check them).
fn customer(id: i64) -> Vec<Value<'static>> {
    let mut values = vec![Value::Null; TABLES[0].columns.len()];
    values[0] = Value::Int(id);
    values
}

fn batches(rx: &mut mpsc::Receiver<Msg>) -> Vec<(usize, u64, (i64, i64), usize)> {
    let mut out = Vec::new();
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Batch {
                table,
                rows,
                ids,
                hashes,
                ..
            } => out.push((table, rows, ids, hashes.len())),
            _ => panic!("only batches are sent"),
        }
    }
    out
}

#[test]
fn a_batch_is_sent_when_it_holds_its_size_and_names_its_first_and_last_id() {
    let (tx, mut rx) = mpsc::channel(16);
    let mut batch = Batcher::new(3);
    for id in [2, 5, 9, 10, 11] {
        batch.push(&tx, 0, &customer(id), id as u128).unwrap();
    }
    // Three rows make a batch; the other two wait for more or the flush.
    assert_eq!(batches(&mut rx), vec![(0, 3, (2, 9), 3 * 24)]);
    batch.flush(&tx, 0).unwrap();
    assert_eq!(batches(&mut rx), vec![(0, 2, (10, 11), 2 * 24)]);
    // An empty batch sends nothing.
    batch.flush(&tx, 0).unwrap();
    assert!(batches(&mut rx).is_empty());
}

#[test]
fn a_batch_carries_each_rows_packed_hash_in_order() {
    let (tx, mut rx) = mpsc::channel(4);
    let mut batch = Batcher::new(10);
    batch.push(&tx, 0, &customer(7), 0xabc).unwrap();
    batch.push(&tx, 0, &customer(8), 0xdef).unwrap();
    batch.flush(&tx, 0).unwrap();
    let Ok(Msg::Batch { hashes, .. }) = rx.try_recv() else {
        panic!("a batch");
    };
    let mut expected = Vec::new();
    crate::state::pack(&mut expected, 7, 0xabc);
    crate::state::pack(&mut expected, 8, 0xdef);
    assert_eq!(&hashes[..], &expected[..]);
}

#[test]
fn a_writer_that_hung_up_stops_the_reader() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let mut batch = Batcher::new(1);
    assert!(matches!(
        batch.push(&tx, 0, &customer(1), 1),
        Err(ReaderError::Stopped)
    ));
}

#[test]
fn a_hash_key_is_its_own_low_bits() {
    let mut hasher = KeyIsHash.build_hasher();
    hasher.write_u128((7u128 << 64) | 42);
    assert_eq!(hasher.finish(), 42);
}

#[test]
fn a_reject_keeps_text_that_is_not_utf8_and_blobs_as_hex() {
    let customers = &ava_catalog::TABLES[0];
    let mut cells = vec![Cell::Null; customers.columns.len()];
    cells[0] = Cell::Integer(7);
    cells[1] = Cell::Text(&[0x41, 0xff, 0x00]);
    cells[2] = Cell::Blob(&[0x00, 0x0f, 0xff, 0x10]);
    let mut out = Vec::new();
    let problem = Problem::Duplicate { first: "3".into() };
    write_reject(&mut out, customers, &cells, &[("phone", problem)]).unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["table"], "customers");
    assert_eq!(line["id"], 7);
    assert_eq!(line["row"]["name"], serde_json::json!({"hex": "41ff00"}));
    assert_eq!(
        line["row"]["phone"],
        serde_json::json!({"blob_hex": "000fff10"})
    );
    assert_eq!(line["reasons"][0]["column"], "phone");
}
