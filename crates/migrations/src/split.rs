//! The Supabase CLI's statement splitter, ported so that the `statements` we record in
//! `supabase_migrations.schema_migrations` are exactly what `supabase db push` records for
//! the same file.
//!
//! Written by hand only because no maintained crate splits Postgres scripts the way the CLI
//! does: crates that split SQL either parse it properly (and so cut elsewhere, and drop or
//! keep comments differently) or know nothing of dollar quotes. What must match is the
//! CLI's output, quirks included, not a correct lexer.
//!
//! Ported from `apps/cli-go/pkg/parser/state.go` and `token.go` of github.com/supabase/cli
//! (formerly `pkg/parser/`), as of its `BEGIN ATOMIC` boundary fixes of 2026 (identifier
//! checks around `ATOMIC`/`END`, an `END` closing the body only as the first token of an
//! inner statement, `$` after an identifier rune not opening a tag). The CLI's finite-state
//! machine, state by state:
//!
//! * a top-level `;` ends a statement, and is kept in it;
//! * `'…'` and `"…"` quote, a doubled delimiter (`''`, `""`) staying inside; a backslash
//!   inside quotes is an ordinary character, so `E'it\'s'` is *not* understood (the CLI
//!   splits where this does: write `''` instead of `\'` in migrations);
//! * outside quotes a backslash hides the next character (so `\;` does not split);
//! * `$tag$ … $tag$` (any identifier characters, or none) quotes, unless the `$` follows an
//!   identifier character;
//! * `-- …` runs to the end of the line, `/* … */` nests;
//! * `( … )` and `BEGIN ATOMIC … END` hide their `;`s (the first `)` closes all open
//!   parentheses, as in the CLI);
//!
//! and then, as `SplitAndTrim` does, each piece has its trailing `;` and then surrounding
//! whitespace trimmed, and empty pieces are dropped. Comments stay in the statement they
//! precede (a file's header comment is part of its first statement), and a trailing
//! comment after the last `;` is a statement of its own.
//!
//! The CLI steps through the input one byte at a time (a shadowed loop variable in
//! `ScanToken`), and every state decision it makes on a non-ASCII rune treats it as an
//! identifier character, so this port works on bytes and gives the same result.

/// One state of the CLI's tokenizer; `next` returns `None` where the Go code returns `nil`
/// (emit the statement).
#[derive(Debug, Clone)]
enum State {
    Ready,
    /// Saw one `-`.
    Comment,
    /// Saw `/`; `depth` is the number of open `/*`.
    Block {
        depth: usize,
    },
    /// Inside `'…'` or `"…"`; `escape` is set just after a delimiter (closing, unless
    /// doubled).
    Quote {
        delimiter: u8,
        escape: bool,
    },
    /// Inside a dollar quote (or a line comment, whose delimiter is `\n`).
    Dollar {
        delimiter: Vec<u8>,
    },
    /// Saw `$` at `offset`: maybe the start of a `$tag$`.
    Tag {
        offset: usize,
    },
    /// Saw `\` outside quotes.
    Escape,
    /// Inside `( … )` or a `BEGIN ATOMIC … END` body.
    Group(Box<Group>),
}

#[derive(Debug, Clone)]
struct Group {
    prev: State,
    closer: Closer,
    /// `END` just matched; confirmed once a non-identifier character follows.
    pending_end: bool,
    /// Where the current inner statement starts (after `ATOMIC` or a body-level `;`).
    statement_start: usize,
    /// The current inner statement already has content, so no `END` in it can close.
    statement_has_content: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closer {
    Paren,
    End,
}

impl State {
    fn group(closer: Closer, statement_start: usize) -> State {
        State::Group(Box::new(Group {
            prev: State::Ready,
            closer,
            pending_end: false,
            statement_start,
            statement_has_content: false,
        }))
    }

    /// `data` is the current statement so far, ending with `b`.
    fn next(self, b: u8, data: &[u8]) -> Option<State> {
        match self {
            State::Ready => ready(b, data),
            State::Comment if b == b'-' => Some(State::Dollar {
                delimiter: vec![b'\n'],
            }),
            State::Comment => ready(b, data),
            State::Block { depth } => {
                let window = &data[data.len() - 2..];
                if window == b"/*" {
                    Some(State::Block { depth: depth + 1 })
                } else if depth == 0 {
                    ready(b, data)
                } else if window == b"*/" {
                    if depth == 1 {
                        Some(State::Ready)
                    } else {
                        Some(State::Block { depth: depth - 1 })
                    }
                } else {
                    Some(State::Block { depth })
                }
            }
            State::Quote { delimiter, escape } => {
                if escape {
                    if b == delimiter {
                        Some(State::Quote {
                            delimiter,
                            escape: false,
                        })
                    } else {
                        ready(b, data)
                    }
                } else {
                    Some(State::Quote {
                        delimiter,
                        escape: b == delimiter,
                    })
                }
            }
            State::Dollar { delimiter } => {
                if data.ends_with(&delimiter) {
                    Some(State::Ready)
                } else {
                    Some(State::Dollar { delimiter })
                }
            }
            State::Tag { offset } => {
                if b == b'$' {
                    Some(State::Dollar {
                        delimiter: data[offset..].to_vec(),
                    })
                } else if is_identifier(b) {
                    Some(State::Tag { offset })
                } else {
                    ready(b, data)
                }
            }
            State::Escape => Some(State::Ready),
            State::Group(mut group) => {
                let pending_end = std::mem::replace(&mut group.pending_end, false);
                if pending_end && !is_identifier(b) {
                    return ready(b, data);
                }
                // A state returns `None` only without having changed, so on `None` the
                // previous state stays, as in the Go code.
                match group.prev.clone().next(b, data) {
                    None => {
                        // A `;` at body level: the next inner statement starts after it.
                        group.statement_start = data.len();
                        group.statement_has_content = false;
                        return Some(State::Group(group));
                    }
                    Some(current) => group.prev = current,
                }
                if !matches!(group.prev, State::Ready) {
                    return Some(State::Group(group));
                }
                match group.closer {
                    Closer::Paren if data.ends_with(b")") => Some(State::Ready),
                    Closer::Paren => Some(State::Group(group)),
                    Closer::End => {
                        if !group.statement_has_content && ends_with_keyword(data, b"END") {
                            let before_end = &data[group.statement_start..data.len() - 3];
                            if is_comments_and_whitespace(before_end) {
                                group.pending_end = true;
                            } else {
                                group.statement_has_content = true;
                            }
                        }
                        Some(State::Group(group))
                    }
                }
            }
        }
    }
}

fn ready(b: u8, data: &[u8]) -> Option<State> {
    Some(match b {
        b'$' => {
            let offset = data.len() - 1;
            if has_identifier_before(data, offset) {
                State::Ready
            } else {
                State::Tag { offset }
            }
        }
        b'\'' | b'"' => State::Quote {
            delimiter: b,
            escape: false,
        },
        b'-' => State::Comment,
        b'/' => State::Block { depth: 0 },
        b'\\' => State::Escape,
        b';' => return None,
        b'(' => State::group(Closer::Paren, data.len()),
        b'c' | b'C' if is_begin_atomic(data) => State::group(Closer::End, data.len()),
        _ => State::Ready,
    })
}

/// Letters, digits, `_`, `$` and (as in PostgreSQL's lexer) every non-ASCII byte.
fn is_identifier(b: u8) -> bool {
    b >= 0x80 || b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

fn has_identifier_before(data: &[u8], offset: usize) -> bool {
    offset > 0 && is_identifier(data[offset - 1])
}

/// `data` ends with `keyword` (ASCII, any case) not preceded by an identifier character.
fn ends_with_keyword(data: &[u8], keyword: &[u8]) -> bool {
    data.len() >= keyword.len() && {
        let offset = data.len() - keyword.len();
        data[offset..].eq_ignore_ascii_case(keyword) && !has_identifier_before(data, offset)
    }
}

/// `data` ends with `BEGIN <whitespace> ATOMIC` at identifier boundaries.
fn is_begin_atomic(data: &[u8]) -> bool {
    if !ends_with_keyword(data, b"ATOMIC") {
        return false;
    }
    let before = &data[..data.len() - b"ATOMIC".len()];
    // Go's bytes.TrimRightFunc(unicode.IsSpace): Unicode whitespace, as Rust's trim_end.
    // `before` starts at a statement start and ends before ASCII, so it is always UTF-8.
    let trimmed = match std::str::from_utf8(before) {
        Ok(text) => text.trim_end().as_bytes(),
        Err(_) => before.trim_ascii_end(),
    };
    ends_with_keyword(trimmed, b"BEGIN")
}

/// `text` holds only whitespace and complete line or block comments (an unterminated one
/// counts as comment).
fn is_comments_and_whitespace(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if matches!(rest[0], b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b) {
            i += 1;
        } else if rest.starts_with(b"--") {
            match rest[2..].iter().position(|&c| c == b'\n') {
                Some(newline) => i += 2 + newline + 1,
                None => return true,
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 1;
            i += 2;
            while i < text.len() && depth > 0 {
                if text[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if text[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            if depth > 0 {
                return true;
            }
        } else {
            return false;
        }
    }
    true
}

/// Splits a migration file into statements exactly as the Supabase CLI's
/// `parser.SplitAndTrim` does (see the module docs): at top-level `;`, each statement
/// without its `;` and trimmed, empty ones dropped, comments kept.
pub fn statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut keep = |piece: &str| {
        let piece = piece.trim_end_matches(';').trim();
        if !piece.is_empty() {
            out.push(piece.to_owned());
        }
    };
    let mut state = State::Ready;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match std::mem::replace(&mut state, State::Ready).next(b, &bytes[start..=i]) {
            Some(next) => state = next,
            None => {
                // `;` is ASCII, so this is a char boundary.
                keep(&sql[start..=i]);
                start = i + 1;
            }
        }
    }
    keep(&sql[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::statements;

    /// As the CLI's own tests check it: the pieces, joined, split back into the pieces
    /// (here after `SplitAndTrim`'s trimming).
    fn check(pieces: &[&str]) {
        let expected: Vec<String> = pieces
            .iter()
            .map(|p| p.trim_end_matches(';').trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(statements(&pieces.concat()), expected, "{pieces:?}");
    }

    #[test]
    fn splits_at_top_level_semicolons_and_trims() {
        assert_eq!(
            statements("  create table a (x int) ;\n\ncreate table b (y int);\n"),
            ["create table a (x int)", "create table b (y int)"]
        );
        check(&["BEGIN   ;", "  END"]);
    }

    #[test]
    fn empty_statements_are_skipped() {
        assert_eq!(statements(";;  ;\n"), Vec::<String>::new());
        assert_eq!(
            statements("select 1;;\n;select 2"),
            ["select 1", "select 2"]
        );
        assert_eq!(statements(""), Vec::<String>::new());
    }

    #[test]
    fn trailing_statement_without_semicolon() {
        assert_eq!(
            statements("select 1;\nselect 2\n"),
            ["select 1", "select 2"]
        );
    }

    #[test]
    fn single_quotes_and_doubled_quotes() {
        check(&["SELECT ';' 1"]);
        check(&["SELECT ';'';' 1"]);
        assert_eq!(
            statements("insert into t values ('it''s; fine');select 2"),
            ["insert into t values ('it''s; fine')", "select 2"]
        );
        // A backslash is an ordinary character inside quotes.
        check(&["SELECT '\\';", " 1'"]);
    }

    #[test]
    fn e_strings() {
        // Doubled quotes and escaped backslashes work as in any string.
        assert_eq!(
            statements("select E'a;b''c\\\\';select 2"),
            ["select E'a;b''c\\\\'", "select 2"]
        );
        // `\'` is not understood (the CLI's limitation, mirrored): the quote closes at it,
        // so later quotes pair up wrongly and `;`s are missed ...
        assert_eq!(
            statements("select E'it\\'s'; select 2; select 'x'"),
            ["select E'it\\'s'; select 2; select 'x'"]
        );
        // ... or found inside the string.
        assert_eq!(
            statements("select E'it\\'s; x'; select 2"),
            ["select E'it\\'s", "x'; select 2"]
        );
    }

    #[test]
    fn double_quoted_identifiers() {
        check(&["CREATE POLICY \"cats;dogs\" on cats_dogs;", " END"]);
        check(&["CREATE POLICY \"cat's and dog's\" on cats_dogs;", " END"]);
        check(&["CREATE POLICY \"pet\"\"name\" on pets;", " END"]);
        // Our own migration quotes a column named like a type.
        check(&[
            "create index ix on public.call_events (\"timestamp\");",
            "select 1",
        ]);
    }

    #[test]
    fn dollar_quotes() {
        check(&["$tag$ any ; string$tag$"]);
        check(&["$$\"Dane's horse\"$$"]);
        check(&["SELECT \"$\";", " $$"]);
        let function = "create function f() returns void language plpgsql as $body$\n\
                        begin\n  perform 1; perform $$;$$;\nend;\n$body$;";
        assert_eq!(
            statements(&format!("{function}\nselect f();")),
            [function.trim_end_matches(';'), "select f()"]
        );
        // A different tag does not close the quote.
        assert_eq!(
            statements("select $a$ ; $b$ ; $a$; select 2"),
            ["select $a$ ; $b$ ; $a$", "select 2"]
        );
        // `$` after an identifier character is part of it, not a quote.
        assert_eq!(
            statements("select a$$b; select 2"),
            ["select a$$b", "select 2"]
        );
        // Positional parameters are not tags.
        assert_eq!(
            statements("prepare p as select $1; select 2"),
            ["prepare p as select $1", "select 2"]
        );
    }

    #[test]
    fn line_comments() {
        check(&["END;", "-- comment"]);
        check(&["SELECT --; 1"]);
        check(&["- ;", "END"]);
        check(&["-- /* \n;", " */ END"]);
        // Comments stay with the statement they precede; a trailing one stands alone.
        assert_eq!(
            statements("-- header\ncreate table t (x int); -- after\n"),
            ["-- header\ncreate table t (x int)", "-- after"]
        );
    }

    #[test]
    fn block_comments_nest() {
        check(&["SELECT /* ; */ 1;"]);
        check(&["SELECT /*; /*;*/ ;*/ 1"]);
        check(&["/ * ;", " */ END"]);
        assert_eq!(
            statements("/* a /* b; */ c; */ select 1; select 2"),
            ["/* a /* b; */ c; */ select 1", "select 2"]
        );
    }

    #[test]
    fn backslash_outside_quotes_hides_the_next_character() {
        check(&["\\;;", "\\;"]);
    }

    #[test]
    fn parentheses_hide_semicolons() {
        check(&[
            "CREATE RULE notify_me AS ON UPDATE TO mytable DO (NOTIFY mytable; SELECT \"1\");",
            "SELECT 1",
        ]);
        check(&["CREATE RULE notify_me AS ON UPDATE TO mytable DO (-- )\nSELECT ')';\n-- )\n)\n"]);
    }

    #[test]
    fn begin_atomic_bodies() {
        check(&[
            "CREATE FUNCTION add(a integer, b integer) RETURNS integer\n\
                 LANGUAGE SQL\nIMMUTABLE STRICT PARALLEL SAFE\nRETURNS NULL ON NULL INPUT\n\
                 BEGIN ATOMIC\n\tSELECT 'add';\n\tSELECT a + b;\nEND;",
        ]);
        check(&["begin atomic; select 'end'; end"]);
        check(&["CREATE FUNCTION test() BEGIN\nATOMIC-- END;\n-- END;\nEND\n;"]);
        // `END` inside an identifier or after other content does not close the body.
        let body = "create function f() returns int language sql begin atomic \
                    select 1 as pending; select case when true then 1 end; end";
        assert_eq!(
            statements(&format!("{body}; select 2;")),
            [body, "select 2"]
        );
        // `atomic` inside identifiers is not BEGIN ATOMIC.
        for name in [
            "fn_atomic",
            "atomic_fn",
            "xatomicx",
            "public.atomic_example",
        ] {
            let function = format!(
                "create or replace function {name}() returns void language plpgsql as $$\n\
                 begin\n  null;\nend;\n$$"
            );
            assert_eq!(
                statements(&format!("{function};\nselect 1;")),
                [function.as_str(), "select 1"],
                "{name}"
            );
        }
    }

    #[test]
    fn non_ascii_text() {
        assert_eq!(
            statements("comment on table t is 'café; ☕';select 'ü'"),
            ["comment on table t is 'café; ☕'", "select 'ü'"]
        );
        // Non-ASCII characters are identifier characters, in tags too.
        assert_eq!(
            statements("select $é$ ; $é$; select 2"),
            ["select $é$ ; $é$", "select 2"]
        );
    }

    #[test]
    fn the_analytics_migration_splits_into_its_statements() {
        let sql = include_str!("../../../supabase/migrations/20251125152400_analytics_tables.sql");
        let statements = statements(sql);
        // 5 tables and 16 indexes; the header comment belongs to the first.
        assert_eq!(statements.len(), 21);
        assert!(statements[0].starts_with("-- The Med Spa Voice AI analytics tables"));
        assert!(statements[0].ends_with(')'));
        assert!(statements
            .iter()
            .all(|s| !s.ends_with(';') && s.trim() == s));
        let creates = statements
            .iter()
            .filter(|s| s.contains("create table"))
            .count();
        assert_eq!(creates, 5);
    }
}
