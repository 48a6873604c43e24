//! The verifier's pure logic: chunks, their comparison, and narrowing a chunk to rows.

use std::borrow::Cow;

use super::*;

fn chunks(rows: &[(i64, &[u8])]) -> Chunks {
    let mut chunks = Chunks::new();
    for (id, canonical) in rows {
        add(&mut chunks, *id, canonical);
    }
    chunks
}

#[test]
fn ids_fall_into_chunks_of_chunk_ids_negative_ones_below_zero() {
    assert_eq!(chunk_of(0), 0);
    assert_eq!(chunk_of(CHUNK_IDS - 1), 0);
    assert_eq!(chunk_of(CHUNK_IDS), 1);
    assert_eq!(chunk_of(-1), -1);
    assert_eq!(chunk_of(-CHUNK_IDS), -1);
    assert_eq!(chunk_of(-CHUNK_IDS - 1), -2);
}

#[test]
fn a_chunks_range_holds_exactly_its_ids() {
    for chunk in [-2, -1, 0, 1, 7] {
        let range = chunk_range(chunk);
        let (first, last) = (chunk * CHUNK_IDS, chunk * CHUNK_IDS + CHUNK_IDS - 1);
        assert_eq!(range, IdRange::inclusive(first, last));
        assert_eq!(chunk_of(first), chunk);
        assert_eq!(chunk_of(last), chunk);
        assert_eq!(chunk_of(first - 1), chunk - 1);
        assert_eq!(chunk_of(last + 1), chunk + 1);
    }
    // The last chunk ends at the largest id rather than overflowing.
    assert_eq!(chunk_range(chunk_of(i64::MAX)).through, Some(i64::MAX));
}

#[test]
fn a_chunks_checksum_counts_rows_and_ignores_their_order() {
    let a = chunks(&[(1, b"one"), (2, b"two"), (CHUNK_IDS, b"three")]);
    let b = chunks(&[(CHUNK_IDS, b"three"), (2, b"two"), (1, b"one")]);
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
    assert_eq!(a[&0].0, 2);
    assert_eq!(a[&1].0, 1);
    assert_ne!(
        a,
        chunks(&[(1, b"one"), (2, b"TWO"), (CHUNK_IDS, b"three")])
    );
}

#[test]
fn chunks_differ_by_count_by_sum_or_by_being_on_one_side_only() {
    let source = chunks(&[(1, b"a"), (CHUNK_IDS, b"b"), (3 * CHUNK_IDS, b"c")]);
    assert!(differing_chunks(&source, &source.clone()).is_empty());
    let target = chunks(&[
        (1, b"a"),
        (2, b"extra"),     // chunk 0: one row more
        (CHUNK_IDS, b"B"), // chunk 1: same count, another row
        (2 * CHUNK_IDS, b"only here"), // chunk 2: the target's only
                           // chunk 3: the source's only
    ]);
    assert_eq!(differing_chunks(&source, &target), vec![0, 1, 2, 3]);
    let same_but_one = chunks(&[(1, b"a"), (CHUNK_IDS, b"b")]);
    assert_eq!(differing_chunks(&source, &same_but_one), vec![3]);
}

fn customer(id: i64, name: &str, new: bool) -> Vec<Value<'static>> {
    let table = &TABLES[0];
    let mut row = vec![Value::Null; table.columns.len()];
    row[0] = Value::Int(id);
    row[1] = Value::Text(Cow::Owned(name.to_string()));
    let new_client = table
        .columns
        .iter()
        .position(|c| c.name == "is_new_client")
        .expect("customers.is_new_client");
    row[new_client] = Value::Bool(new);
    row
}

fn source(row: Vec<Value<'static>>) -> SourceRow {
    row.into_iter().map(Ok).collect()
}

#[test]
fn a_chunk_narrows_to_missing_extra_and_changed_rows_in_id_order() {
    let table = &TABLES[0];
    let source_rows: BTreeMap<i64, SourceRow> = [
        (1, source(customer(1, "Ann", true))),
        (2, source(customer(2, "Bo", true))),
        (4, source(customer(4, "Di", false))),
    ]
    .into();
    let target_rows: BTreeMap<i64, Vec<Value<'static>>> = [
        (1, customer(1, "Ann", true)),
        (2, customer(2, "Bo", false)),
        (3, customer(3, "Cy", true)),
    ]
    .into();
    let diffs = row_diffs(table, &source_rows, &target_rows);
    assert_eq!(
        diffs,
        vec![
            RowDiff {
                id: 2,
                diff: Diff::Changed(vec![ColumnDiff {
                    column: "is_new_client",
                    source: Value::Bool(true).to_string(),
                    target: Value::Bool(false).to_string(),
                }]),
            },
            RowDiff {
                id: 3,
                diff: Diff::Extra,
            },
            RowDiff {
                id: 4,
                diff: Diff::Missing,
            },
        ]
    );
    // Identical sides narrow to nothing.
    assert!(row_diffs(table, &source_rows, &{
        source_rows
            .iter()
            .map(|(id, row)| (*id, row.iter().map(|v| v.clone().unwrap()).collect()))
            .collect()
    })
    .is_empty());
}

#[test]
fn an_invalid_source_cell_differs_from_every_target_value() {
    let table = &TABLES[0];
    let mut row = source(customer(5, "Eve", true));
    row[1] = Err(CellError::NullInNotNull);
    let source_rows: BTreeMap<i64, SourceRow> = [(5, row)].into();
    for name in ["", "Eve", "NULL in a NOT NULL column"] {
        let target_rows = [(5, customer(5, name, true))].into();
        let diffs = row_diffs(table, &source_rows, &target_rows);
        let [RowDiff {
            diff: Diff::Changed(columns),
            ..
        }] = diffs.as_slice()
        else {
            panic!("one changed row: {diffs:?}");
        };
        assert_eq!(columns.len(), 1);
        assert_eq!(columns[0].column, "name");
        assert_eq!(columns[0].source, "invalid (NULL in a NOT NULL column)");
    }
    let mut marked = Vec::new();
    canonical_cell(&mut marked, &Err(CellError::NullInNotNull));
    assert_eq!(marked[0], 0xff);
}

#[test]
fn excluded_ids_are_sorted_without_repeats_for_every_table() {
    let excluded = Excluded::new(vec![vec![5, 1, 5, 3], vec![], vec![9]]);
    assert_eq!(excluded.ids(0), &[1, 3, 5]);
    assert_eq!(excluded.ids(2), &[9]);
    assert_eq!(excluded.ids(TABLES.len() - 1), &[] as &[i64]);
    assert_eq!(excluded.len(), 4);
    assert!(excluded.contains(0, 3) && !excluded.contains(0, 2) && !excluded.contains(1, 3));
    assert!(Excluded::default().is_empty());
}

fn rejects_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ava-verify-{}-{name}.jsonl", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_rejects_file_leaves_out_the_rows_it_names() {
    let path = rejects_file(
        "good",
        "{\"table\":\"call_events\",\"id\":7,\"reasons\":[]}\n\n\
         {\"table\":\"customers\",\"id\":2}\n\
         {\"table\":\"customers\",\"id\":\"x\"}\n",
    );
    let excluded = Excluded::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let events = TABLES.iter().position(|t| t.name == "call_events").unwrap();
    assert_eq!(excluded.ids(0), &[2]);
    assert_eq!(excluded.ids(events), &[7]);
    // An id that is not an integer was never copied: nothing to leave out.
    assert_eq!(excluded.len(), 2);
}

#[test]
fn a_rejects_file_with_an_unknown_table_names_the_line() {
    let path = rejects_file(
        "bad",
        "{\"table\":\"customers\",\"id\":2}\n{\"table\":\"nope\",\"id\":1}\n",
    );
    let error = Excluded::read(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    match error {
        VerifyError::Rejects { line, why, .. } => {
            assert_eq!(line, 2);
            assert_eq!(why, "unknown table nope");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_report_is_identical_only_without_differing_chunks() {
    let table = |differing_chunks| TableResult {
        table: "customers",
        source_rows: 1,
        target_rows: 1,
        chunks: 1,
        differing_chunks,
        diffs: Vec::new(),
        narrowed_chunks: 0,
    };
    assert!(Report {
        tables: vec![table(0), table(0)]
    }
    .identical());
    assert!(!Report {
        tables: vec![table(0), table(1)]
    }
    .identical());
}
