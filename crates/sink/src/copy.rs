//! Binary `COPY` both ways.
//!
//! In: rows are encoded straight into one buffer with the driver's own value encoders
//! (`postgres-protocol`), framed as `COPY … (FORMAT binary)` expects. The framing is
//! written here by hand because tokio-postgres' `BinaryCopyInWriter` takes `&dyn ToSql`
//! per value and flushes row by row; a batch encoded once into one buffer can be built
//! on the reader's thread and sent in one piece.
//!
//! Out: `COPY (SELECT …) TO STDOUT (FORMAT binary)` decoded by tokio-postgres'
//! `BinaryCopyOutStream`, each value turned back into an [`ava_convert::Value`].

use ava_catalog::{IdRange, Kind, Table, MAX_COLUMNS};
use ava_convert::Value;
use ava_pg::{PgValue, PG_EPOCH_MICROS};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{pin_mut, SinkExt, TryStreamExt};
use postgres_protocol::types as pg;
use postgres_types::Type;
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::{Client, CopyInSink, ToStatement, Transaction};

/// The binary COPY header: signature, flags, header-extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One batch of rows encoded for `COPY … FROM STDIN (FORMAT binary)`.
pub struct CopyBuffer {
    buf: BytesMut,
    rows: u64,
}

impl CopyBuffer {
    /// An empty batch with room for about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> CopyBuffer {
        let mut buf = BytesMut::with_capacity(capacity);
        buf.put_slice(HEADER);
        CopyBuffer { buf, rows: 0 }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes encoded so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no row has been encoded.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Closes the batch (the trailer) and hands out its bytes.
    pub fn finish(mut self) -> Bytes {
        self.buf.put_i16(-1);
        self.buf.freeze()
    }
}

/// Encodes one row of `table` (values in catalog column order) into `out`.
pub fn encode_row(out: &mut CopyBuffer, table: &Table, values: &[Value<'_>]) {
    let buf = &mut out.buf;
    buf.put_i16(values.len() as i16);
    for (value, column) in values.iter().zip(table.columns) {
        if let Value::Null = value {
            buf.put_i32(-1);
            continue;
        }
        let at = buf.len();
        buf.put_i32(0);
        match (value, column.kind) {
            (Value::Int(i), Kind::Int) => pg::int4_to_sql(*i as i32, buf),
            (Value::Int(i), _) => pg::int8_to_sql(*i, buf),
            (Value::Float(f), _) => pg::float8_to_sql(*f, buf),
            (Value::Bool(b), _) => pg::bool_to_sql(*b, buf),
            (Value::Timestamp(t), _) => pg::timestamp_to_sql(t - PG_EPOCH_MICROS, buf),
            (Value::Text(s), _) => pg::text_to_sql(s, buf),
            (Value::Json(s), _) => {
                // jsonb's binary format: a version byte, then the JSON text.
                buf.put_u8(1);
                buf.put_slice(s.as_bytes());
            }
            (Value::Null, _) => unreachable!("handled above"),
        }
        let len = (buf.len() - at - 4) as i32;
        buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    out.rows += 1;
}

/// What a `COPY … FROM STDIN` can run on: a connection or a transaction (the driver
/// has the method on both, but no trait for it).
pub trait CopyTarget: Sync {
    /// Starts the COPY: `statement` is its SQL (prepared first: a round trip) or a
    /// statement prepared earlier.
    fn copy_in_sink<T: ?Sized + ToStatement + Sync>(
        &self,
        statement: &T,
    ) -> impl std::future::Future<Output = Result<CopyInSink<Bytes>, tokio_postgres::Error>> + Send;
}

impl CopyTarget for Client {
    async fn copy_in_sink<T: ?Sized + ToStatement + Sync>(
        &self,
        statement: &T,
    ) -> Result<CopyInSink<Bytes>, tokio_postgres::Error> {
        self.copy_in(statement).await
    }
}

impl CopyTarget for Transaction<'_> {
    async fn copy_in_sink<T: ?Sized + ToStatement + Sync>(
        &self,
        statement: &T,
    ) -> Result<CopyInSink<Bytes>, tokio_postgres::Error> {
        self.copy_in(statement).await
    }
}

/// Runs one `COPY table FROM STDIN (FORMAT binary)` with an encoded batch; returns the
/// rows Postgres took.
pub async fn copy_in(
    client: &impl CopyTarget,
    table: &Table,
    batch: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sql = copy_sql(&format!("public.\"{}\"", table.name), table);
    copy_statement(client, sql.as_str(), batch).await
}

/// [`copy_in`] on a plain connection, with `before` (such as `BEGIN`) sent in the same
/// round trip as the COPY's preparation: over a network each round trip costs the
/// distance to the server, so the two are pipelined (tokio-postgres sends requests
/// issued together without waiting for the answers).
pub async fn copy_in_after(
    client: &Client,
    before: &str,
    table: &Table,
    batch: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sql = copy_sql(&format!("public.\"{}\"", table.name), table);
    let (before, sink) = futures_util::join!(client.batch_execute(before), client.copy_in(&sql));
    before?;
    let sink = sink?;
    pin_mut!(sink);
    sink.send(batch).await?;
    sink.finish().await
}

/// The `COPY … FROM STDIN (FORMAT binary)` of the table's columns into `into` (the
/// table, or e.g. a temporary staging table with its columns), named as SQL: `into` is
/// quoted by the caller. Prepared ahead of time, several COPYs cost one round trip
/// each (the driver sends the next request right after a COPY's data).
pub fn copy_sql(into: &str, table: &Table) -> String {
    format!(
        "COPY {into} ({}) FROM STDIN (FORMAT binary)",
        table.column_list()
    )
}

/// Runs one COPY (see [`copy_sql`]) with an encoded batch; returns the rows Postgres
/// took.
pub async fn copy_statement<T: ?Sized + ToStatement + Sync>(
    client: &impl CopyTarget,
    statement: &T,
    batch: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in_sink(statement).await?;
    pin_mut!(sink);
    sink.send(batch).await?;
    sink.finish().await
}

/// The Postgres type of a catalog column, as `COPY … TO` sends it.
fn pg_type(kind: Kind) -> Type {
    match kind {
        Kind::Id | Kind::Ref(_) => Type::INT8,
        Kind::Int => Type::INT4,
        Kind::Float => Type::FLOAT8,
        Kind::Bool => Type::BOOL,
        Kind::Timestamp => Type::TIMESTAMPTZ,
        Kind::Varchar(_) => Type::VARCHAR,
        Kind::Text => Type::TEXT,
        Kind::Json => Type::JSONB,
    }
}

/// Why reading target rows failed.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The query or the stream failed.
    Db(tokio_postgres::Error),
    /// A value could not be decoded (the message names the row's id when known).
    Decode { id: String, reason: String },
    /// The caller's callback failed.
    Callback(E),
}

/// Streams the rows of `table` in `range`, in id order, decoded to values in catalog column order.
pub async fn read_rows<E>(
    client: &Transaction<'_>,
    table: &Table,
    range: IdRange,
    f: impl FnMut(&[Value<'_>]) -> Result<(), E>,
) -> Result<(), ReadError<E>> {
    let stream = open_rows(client, table, range)
        .await
        .map_err(ReadError::Db)?;
    decode_rows(stream, table, f).await
}

/// Streams every row of each of `tables`, table after table, each in id order, calling
/// `f` with the table's position in `tables` and the row's values. A table is read in
/// windows of at most `window` ids, each a `COPY … TO` starting at the next id that
/// exists (so sparse ids cost nothing): the driver buffers a running COPY's output
/// without bound when `f` is slower than the network, and a window bounds it.
///
/// Far from the server each round trip costs the distance, so the windows of every
/// table are found at once (one round trip), and each window's COPY is asked for while
/// the one before is read: at most one window is buffered ahead of `f`. A failure names
/// the table by its position.
pub async fn read_tables<E>(
    client: &Transaction<'_>,
    tables: &[&Table],
    window: i64,
    mut f: impl FnMut(usize, &[Value<'_>]) -> Result<(), E>,
) -> Result<(), (usize, ReadError<E>)> {
    // Typed (no preparing round trip), all at once.
    let sqls: Vec<String> = tables
        .iter()
        .map(|table| {
            format!(
                "WITH RECURSIVE w(first) AS ( \
                   SELECT min(id) FROM public.\"{0}\" \
                   UNION ALL \
                   SELECT (SELECT min(id) FROM public.\"{0}\" WHERE id >= w.first + $1) \
                   FROM w WHERE w.first <= 9223372036854775807 - $1) \
                 SELECT first FROM w WHERE first IS NOT NULL",
                table.name
            )
        })
        .collect();
    let param: [(&(dyn postgres_types::ToSql + Sync), Type); 1] = [(&window, Type::INT8)];
    let starts =
        futures_util::future::join_all(sqls.iter().map(|sql| client.query_typed(sql, &param)))
            .await;
    let mut windows = Vec::new();
    for (t, rows) in starts.into_iter().enumerate() {
        let rows = rows.map_err(|e| (t, ReadError::Db(e)))?;
        windows.extend(rows.iter().map(|row| {
            let first: i64 = row.get(0);
            (
                t,
                IdRange::inclusive(first, first.saturating_add(window - 1)),
            )
        }));
    }
    let open = |(t, range): (usize, IdRange)| async move {
        (t, open_rows(client, tables[t], range).await)
    };
    let mut windows = windows.into_iter();
    let mut current = match windows.next() {
        Some(first) => Some(open(first).await),
        None => None,
    };
    while let Some((t, stream)) = current {
        let stream = stream.map_err(|e| (t, ReadError::Db(e)))?;
        let next = windows.next();
        let (read, next) = futures_util::join!(
            decode_rows(stream, tables[t], |values| f(t, values)),
            async {
                match next {
                    Some(window) => Some(open(window).await),
                    None => None,
                }
            }
        );
        read.map_err(|e| (t, e))?;
        current = next;
    }
    Ok(())
}

/// Starts the `COPY … TO` of `table`'s rows in `range`.
async fn open_rows(
    client: &Transaction<'_>,
    table: &Table,
    range: IdRange,
) -> Result<tokio_postgres::CopyOutStream, tokio_postgres::Error> {
    let sql = format!(
        "COPY (SELECT {} FROM public.\"{}\" WHERE {} ORDER BY id) TO STDOUT (FORMAT binary)",
        table.column_list(),
        table.name,
        range.condition()
    );
    client.copy_out(&sql).await
}

/// Decodes a [`open_rows`] stream, calling `f` with each row's values.
async fn decode_rows<E>(
    stream: tokio_postgres::CopyOutStream,
    table: &Table,
    mut f: impl FnMut(&[Value<'_>]) -> Result<(), E>,
) -> Result<(), ReadError<E>> {
    let types: Vec<Type> = table.columns.iter().map(|c| pg_type(c.kind)).collect();
    let rows = BinaryCopyOutStream::new(stream, &types);
    pin_mut!(rows);
    let n = types.len();
    while let Some(row) = rows.try_next().await.map_err(ReadError::Db)? {
        // On the stack: no allocation per row.
        let mut values: [Value; MAX_COLUMNS] = std::array::from_fn(|_| Value::Null);
        for (i, slot) in values[..n].iter_mut().enumerate() {
            match row.try_get::<PgValue>(i) {
                Ok(v) => *slot = v.0,
                Err(e) => {
                    let id = row
                        .try_get::<PgValue>(0)
                        .map(|v| v.0.to_string())
                        .unwrap_or_else(|_| "?".into());
                    return Err(ReadError::Decode {
                        id,
                        reason: format!("column {}: {e}", table.columns[i].name),
                    });
                }
            }
        }
        f(&values[..n]).map_err(ReadError::Callback)?;
    }
    Ok(())
}
