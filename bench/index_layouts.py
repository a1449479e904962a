#!/usr/bin/env python3
"""Replays the search-index rows of an imported database into candidate table layouts.

Measures what SQLite alone spends on writing index rows in each layout, without the rest of
the import: the rows of index_token, index_string, index_reference, index_date and
index_quantity are read from DB (a database written by `medalliance import`), put back in
resource write order, and inserted with INSERT OR IGNORE, one transaction per 440 resources
(one generated Bundle file), synchronous=FULL, WAL, a 256 MiB page cache.

Layouts:
  current         migration 0001: WITHOUT ROWID, PRIMARY KEY (type, id, param, ...) plus an
                  index (type, param, value, ...): two B-trees with long text keys per row
  no_value_index  0001 without the value indexes: the cost of one B-tree per row (a lower
                  bound; searches by value would scan)
  int_keys        integer keys: a resource key rk (the resources' sequence) and a parameter key
                  p for (type, param); PRIMARY KEY (rk, p, ...) and index (p, value, ...)
  int_keys_map    int_keys plus a resource_keys (rk, type, id) row per resource
  id_first        0001 with PRIMARY KEY (id, type, param, ...): time-ordered ids append at the
                  end of one B-tree instead of at the end of each type's range
  deferred        0001 with the value indexes but index_reference's created after the load
                  (what `medalliance import` does into a small database, migration 0004)
  int_keys_map_deferred  int_keys_map, value indexes but the reference one created at the end

CPU seconds include the Python driver's per-row cost, the same in every layout (about 0.36 s
per 180,000 rows on the project machine; printed as `driver`).

Usage: bench/index_layouts.py DB [LAYOUT ...]   (default: every layout, current twice)
   e.g. medalliance import --db /tmp/x.db <data-p400>; bench/index_layouts.py /tmp/x.db
"""
import os
import resource
import sqlite3
import sys
import tempfile

COLUMNS = {
    'index_token': ['system', 'value'],
    'index_string': ['value', 'raw'],
    'index_reference': ['value'],
    'index_date': ['low', 'high'],
    'index_quantity': ['number', 'system', 'code', 'raw'],
}

CURRENT = """
CREATE TABLE index_token (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  system TEXT NOT NULL DEFAULT '', value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (type, id, param, value, system)) WITHOUT ROWID;
CREATE INDEX index_token_value ON index_token (type, param, value, system);
CREATE TABLE index_string (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '', raw TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (type, id, param, value, raw)) WITHOUT ROWID;
CREATE INDEX index_string_value ON index_string (type, param, value);
CREATE TABLE index_reference (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '', PRIMARY KEY (type, id, param, value)) WITHOUT ROWID;
CREATE INDEX index_reference_value ON index_reference (type, param, value);
CREATE TABLE index_date (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  low INTEGER NOT NULL, high INTEGER NOT NULL,
  PRIMARY KEY (type, id, param, low, high)) WITHOUT ROWID;
CREATE INDEX index_date_value ON index_date (type, param, low, high);
CREATE TABLE index_quantity (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
  number REAL NOT NULL, system TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT '',
  raw TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (type, id, param, code, system, number, raw)) WITHOUT ROWID;
CREATE INDEX index_quantity_value ON index_quantity (type, param, code, number);
"""

INT_KEYS = """
CREATE TABLE index_token (rk INTEGER NOT NULL, p INTEGER NOT NULL,
  system TEXT NOT NULL DEFAULT '', value TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rk, p, value, system)) WITHOUT ROWID;
CREATE INDEX index_token_value ON index_token (p, value, system);
CREATE TABLE index_string (rk INTEGER NOT NULL, p INTEGER NOT NULL,
  value TEXT NOT NULL DEFAULT '', raw TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rk, p, value, raw)) WITHOUT ROWID;
CREATE INDEX index_string_value ON index_string (p, value);
CREATE TABLE index_reference (rk INTEGER NOT NULL, p INTEGER NOT NULL,
  value TEXT NOT NULL DEFAULT '', PRIMARY KEY (rk, p, value)) WITHOUT ROWID;
CREATE INDEX index_reference_value ON index_reference (p, value);
CREATE TABLE index_date (rk INTEGER NOT NULL, p INTEGER NOT NULL,
  low INTEGER NOT NULL, high INTEGER NOT NULL, PRIMARY KEY (rk, p, low, high)) WITHOUT ROWID;
CREATE INDEX index_date_value ON index_date (p, low, high);
CREATE TABLE index_quantity (rk INTEGER NOT NULL, p INTEGER NOT NULL, number REAL NOT NULL,
  system TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT '', raw TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rk, p, code, system, number, raw)) WITHOUT ROWID;
CREATE INDEX index_quantity_value ON index_quantity (p, code, number);
"""

LAYOUTS = {
    'current': CURRENT,
    'no_value_index': '\n'.join(
        line for line in CURRENT.splitlines() if not line.startswith('CREATE INDEX')),
    'int_keys': INT_KEYS,
    'int_keys_map': INT_KEYS + 'CREATE TABLE resource_keys (rk INTEGER PRIMARY KEY, '
                               'type TEXT NOT NULL, id TEXT NOT NULL, UNIQUE (type, id));',
    'id_first': CURRENT.replace('PRIMARY KEY (type, id,', 'PRIMARY KEY (id, type,'),
}

# type and param as small integers, the id kept as text: t = the type's key, p = (type, param)'s
# key; PRIMARY KEY (t, id, p, ...) and index (p, value, ...), which still yields ids in order
# within one value (the planner's paging by id is unchanged).
TP_KEYS = (CURRENT.replace('type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL',
                           't INTEGER NOT NULL, id TEXT NOT NULL, p INTEGER NOT NULL')
           .replace('PRIMARY KEY (type, id, param,', 'PRIMARY KEY (t, id, p,')
           .replace('(type, param,', '(p,'))
LAYOUTS['tp_keys'] = TP_KEYS


def split_deferred(script):
    """The script without the value indexes except index_reference's, and those indexes."""
    kept, deferred = [], []
    for line in script.splitlines():
        is_deferred = line.startswith('CREATE INDEX') and 'index_reference_value' not in line
        (deferred if is_deferred else kept).append(line)
    return '\n'.join(kept), '\n'.join(deferred)


# Bulk load as `medalliance import` does it into a small database (migration 0004): the value
# indexes but index_reference's are created after the rows are in, inside the timing.
DEFERRED = {}
LAYOUTS['deferred'], DEFERRED['deferred'] = split_deferred(CURRENT)
LAYOUTS['int_keys_map_deferred'], DEFERRED['int_keys_map_deferred'] = split_deferred(
    LAYOUTS['int_keys_map'])
LAYOUTS['tp_keys_deferred'], DEFERRED['tp_keys_deferred'] = split_deferred(TP_KEYS)
RESOURCES_PER_TRANSACTION = 440


def load_rows(path):
    src = sqlite3.connect(path)
    order = {(t, i): s for s, t, i in src.execute('SELECT sequence, type, id FROM resources')}
    rows = []
    for table, columns in COLUMNS.items():
        for row in src.execute(f"SELECT type, id, param, {', '.join(columns)} FROM {table}"):
            rows.append((order[(row[0], row[1])], table, row))
    rows.sort(key=lambda r: r[0])
    return rows


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(name, rows, scratch):
    path = os.path.join(scratch, name + '.db')
    for suffix in ('', '-wal', '-shm'):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute('PRAGMA journal_mode = WAL')
    db.execute('PRAGMA synchronous = FULL')
    db.execute('PRAGMA cache_size = -262144')
    db.executescript(LAYOUTS[name])
    integer = name.startswith('int_keys')
    tp = name.startswith('tp_keys')
    key_map = name.startswith('int_keys_map')
    params = {}
    sql = {}
    prepared = []
    for table, columns in COLUMNS.items():
        keys = ['rk', 'p'] if integer else ['t', 'id', 'p'] if tp else ['type', 'id', 'param']
        names = keys + columns
        sql[table] = (f"INSERT OR IGNORE INTO {table} ({', '.join(names)}) "
                      f"VALUES ({', '.join('?' * len(names))})")
    for sequence, table, row in rows:
        if integer:
            p = params.setdefault((row[0], row[2]), len(params) + 1)
            prepared.append((sequence, table, (sequence, p) + tuple(row[3:]), row))
        elif tp:
            t = params.setdefault(row[0], len(params) + 1)
            p = params.setdefault((row[0], row[2]), len(params) + 1)
            prepared.append((sequence, table, (t, row[1], p) + tuple(row[3:]), row))
        else:
            prepared.append((sequence, table, row, row))
    start = cpu()
    last = None
    resources = 0
    db.execute('BEGIN')
    for sequence, table, values, row in prepared:
        if sequence != last:
            last = sequence
            resources += 1
            if resources % RESOURCES_PER_TRANSACTION == 0:
                db.execute('COMMIT')
                db.execute('BEGIN')
            if key_map:
                db.execute('INSERT INTO resource_keys (rk, type, id) VALUES (?, ?, ?)',
                           (sequence, row[0], row[1]))
        db.execute(sql[table], values)
    db.execute('COMMIT')
    if name in DEFERRED:
        db.executescript('BEGIN;' + DEFERRED[name] + 'COMMIT;')
    seconds = cpu() - start
    size = sum(os.path.getsize(path + s) for s in ('', '-wal') if os.path.exists(path + s))
    db.close()
    print(f'{name:16s} cpu {seconds:6.2f} s   database + WAL {size / 1e6:6.1f} MB')


def driver_cost(count):
    db = sqlite3.connect(':memory:', isolation_level=None)
    row = ('Observation', '0192abcd-1234-7000-8000-000000000000', 'code', 'http://loinc.org', 'x')
    start = cpu()
    for _ in range(count):
        db.execute('SELECT ?, ?, ?, ?, ?', row)
    print(f"{'driver':16s} cpu {cpu() - start:6.2f} s   (Python's per-row cost, in every line)")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ('-h', '--help'):
        print(__doc__)
        sys.exit(0 if len(sys.argv) >= 2 else 64)
    names = sys.argv[2:] or ['current', 'no_value_index', 'int_keys', 'int_keys_map',
                             'id_first', 'current']
    for name in names:
        if name not in LAYOUTS:
            sys.exit(f'index_layouts.py: unknown layout {name}')
    rows = load_rows(sys.argv[1])
    print(f'{len(rows)} index rows; load average {os.getloadavg()[0]:.2f}')
    driver_cost(len(rows))
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            run(name, rows, scratch)


if __name__ == '__main__':
    main()
