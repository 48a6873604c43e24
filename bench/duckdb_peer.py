#!/usr/bin/env python3
"""bench/duckdb_peer.py — step (h) of bench/run.sh: DuckDB copies the SQLite file into Postgres.

    duckdb_peer.py --check
    duckdb_peer.py --sqlite FILE --pg CONNINFO --tables t1,t2,… [--marks FILE]

DuckDB ATTACHes the SQLite file (sqlite extension, read-only) and the Postgres database
(postgres extension; CONNINFO is a libpq string, 'host=… port=… dbname=… user=…'), then
runs one `INSERT INTO pg.public.t SELECT … FROM s.t` per table, in the order given (the
foreign-key order: parents first). The tables must already exist in Postgres: bench/run.sh
makes them, untimed, exactly as for the reference pipeline (bare tables with the target's
column types), and after this script it runs the same keys, indexes, foreign keys and
setval SQL through psql. So no table is defined here.

Columns are matched by name. Where DuckDB sees a different type on the two sides (SQLite's
BOOLEAN columns hold 0/1 and read as BIGINT; DATETIME text reads as TIMESTAMP while the
target is timestamptz), the SELECT casts to the target's type explicitly, with DuckDB's
TimeZone set to UTC (the app writes naive UTC), the same reading the reference pipeline
gets from COPY with PGTZ=UTC. The casts are printed.

The extensions come from the PyPI packages duckdb-extension-sqlite and
duckdb-extension-postgres (`pip install duckdb duckdb-extension-sqlite
duckdb-extension-postgres`), which ship the extension files without installing them:
DuckDB names an extension's entry point after its file (`<name>_duckdb_cpp_init`), and
the packages' files are called sqlite.duckdb_extension and postgres.duckdb_extension
while their entry points are sqlite_scanner_… and postgres_scanner_…, so they are loaded
through links named sqlite_scanner.duckdb_extension and postgres_scanner.duckdb_extension
in a temporary directory. Without the packages, DuckDB's own installed extensions are
tried (`LOAD sqlite_scanner`), never a download. `--check` loads both and prints the
versions (exit 0), or says what is missing (exit 1).
"""

import argparse
import glob
import importlib
import os
import sys
import tempfile
import time

# Extension name DuckDB knows it by → the PyPI package that ships its file.
EXTENSIONS = {
    "sqlite_scanner": "duckdb_extension_sqlite",
    "postgres_scanner": "duckdb_extension_postgres",
}


def packaged_extension(package):
    """The .duckdb_extension file inside an installed package, or None."""
    try:
        module = importlib.import_module(package)
    except ImportError:
        return None
    files = sorted(
        glob.glob(
            os.path.join(os.path.dirname(module.__file__), "**", "*.duckdb_extension"),
            recursive=True,
        )
    )
    return files[-1] if files else None


def connect(link_dir):
    """A DuckDB connection with both extensions loaded; raises with what is missing."""
    import duckdb  # imported here so that --check can say it is missing

    con = duckdb.connect()
    # Never reach for the network: this machine cannot, and a benchmark must not.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    for name, package in EXTENSIONS.items():
        path = packaged_extension(package)
        if path is None:
            try:
                con.execute(f"LOAD {name}")
            except duckdb.Error as e:
                raise RuntimeError(
                    f"the DuckDB extension {name} is not available: the Python package "
                    f"{package.replace('_', '-')} is not installed and DuckDB has no "
                    f"installed copy ({str(e).splitlines()[0]})"
                ) from e
            continue
        link = os.path.join(link_dir, f"{name}.duckdb_extension")
        os.symlink(path, link)
        con.execute(f"LOAD '{link}'")
    # The app writes UTC without a zone: read naive datetimes as UTC, as PGTZ=UTC does
    # for the reference pipeline's COPY.
    con.execute("SET TimeZone = 'UTC'")
    return con, duckdb.__version__


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def copy(con, sqlite_file, conninfo, tables, marks):
    con.execute(f"ATTACH '{sqlite_file.replace(chr(39), chr(39) * 2)}' AS s (TYPE sqlite, READ_ONLY)")
    con.execute(f"ATTACH '{conninfo.replace(chr(39), chr(39) * 2)}' AS pg (TYPE postgres)")
    if marks:
        # For bench/run.sh's phases: Python started, DuckDB and its extensions loaded,
        # both databases attached.
        with open(marks, "a") as f:
            f.write(f"load {time.time():.6f}\n")
    total = 0
    all_casts = {}  # "FROM→TO" → ["table.column", …]
    for t in tables:
        src = {c: ty for c, ty, *_ in con.execute(f"DESCRIBE s.main.{quote(t)}").fetchall()}
        dst = [(c, ty) for c, ty, *_ in con.execute(f"DESCRIBE pg.public.{quote(t)}").fetchall()]
        missing = [c for c, _ in dst if c not in src]
        extra = [c for c in src if c not in dict(dst)]
        if missing or extra:
            raise RuntimeError(
                f"{t}: columns differ: only in Postgres {missing}, only in SQLite {extra}"
            )
        select, casts = [], []
        for c, ty in dst:
            if src[c] == ty:
                select.append(quote(c))
            else:
                select.append(f"CAST({quote(c)} AS {ty})")
                casts.append(f"{c} {src[c]}→{ty}")
                all_casts.setdefault(f"{src[c]}→{ty}", []).append(f"{t}.{c}")
        columns = ", ".join(quote(c) for c, _ in dst)
        start = time.monotonic()
        con.execute(
            f"INSERT INTO pg.public.{quote(t)} ({columns}) SELECT {', '.join(select)} FROM s.main.{quote(t)}"
        )
        rows = con.fetchone()[0]
        total += rows
        print(
            f"{t}: {rows} rows in {time.monotonic() - start:.2f} s"
            + (f"; casts: {', '.join(casts)}" if casts else "; no casts"),
            flush=True,
        )
    print(f"{total} rows", flush=True)
    # One line for the report: every cast, grouped by conversion.
    print(
        "cast summary: "
        + "; ".join(f"{k} ({len(v)}): {', '.join(v)}" for k, v in sorted(all_casts.items())),
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="load the extensions, print versions, exit")
    parser.add_argument("--sqlite", help="the SQLite file")
    parser.add_argument("--pg", help="libpq connection string of the target database")
    parser.add_argument("--tables", help="comma-separated, parents first")
    parser.add_argument("--marks", help="append 'load <epoch seconds>' here once both are attached")
    args = parser.parse_args()
    if not args.check and not (args.sqlite and args.pg and args.tables):
        parser.error("--sqlite, --pg and --tables are required (or --check)")
    with tempfile.TemporaryDirectory(prefix="duckdb-ext-") as link_dir:
        try:
            con, version = connect(link_dir)
        except ImportError:
            print("duckdb is not installed for this Python (pip install duckdb "
                  "duckdb-extension-sqlite duckdb-extension-postgres)", file=sys.stderr)
            return 1
        except Exception as e:  # noqa: BLE001 — any failure to load is reported as such
            print(str(e), file=sys.stderr)
            return 1
        if args.check:
            loaded = con.execute(
                "select extension_name || ' ' || coalesce(extension_version, '?') from duckdb_extensions()"
                " where loaded and extension_name in ('sqlite_scanner', 'postgres_scanner') order by 1"
            ).fetchall()
            print(f"DuckDB {version} ({', '.join(r[0] for r in loaded)})")
            return 0
        copy(con, args.sqlite, args.pg, args.tables.split(","), args.marks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
