#!/usr/bin/env python3
"""Splits the samples of a `perf record -g` profile of medalliance into stages.

Reads `perf script` output on stdin. Each sample goes to the innermost stage of its call stack
(leaf to root, first frame that names a stage), so the stages add up to 100%: a sample in
sqlite3BtreeInsert under SqliteWriteTx::PutVersion counts as "store: PutVersion", one in the
FHIRPath evaluator under the search-parameter extractor as "search: index extraction".
Also prints the top leaf functions (self time) of the whole profile.

  perf script -i perf.data | bench/perf_breakdown.py [--top 25]
"""

import argparse
import collections
import re
import sys

# (stage, regex on a frame's symbol); the first stage found walking from the leaf wins.
STAGES = [
    ("search: index extraction (Searcher::Index)", r"search::internal::Extractor|search::Searcher::Index"),
    ("search: query (Searcher::Search)", r"search::Searcher::Search|search::internal::RunPagedQuery"),
    ("store: ReadCurrent (existing-version lookup)", r"ReadCurrent"),
    ("store: PutVersion (INSERT resource + index rows)", r"PutVersion"),
    ("store: read (ReadTx)", r"SqliteReadTx|SqliteStore::Read\b"),
    ("store: BEGIN/COMMIT (WAL write, fsync, checkpoint)", r"SqliteConnection::Exec|sqlite3_exec"),
    ("json: serialise (WriteJson)", r"fhir::WriteJson"),
    ("json: parse (ParseJson)", r"fhir::ParseJson"),
    ("fhir: validation", r"fhir::validation|ValidateResource|CollectIssues"),
    ("api: Stamp id/meta", r"ResourceWriter::Stamp"),
    ("json: free/copy of Json trees", r"_M_reset|fhir::Json::~Json|fhir::Json::Json\(|fhir::Json::operator="),
    ("api: bundle processing (other)", r"BundleProcessor|ProcessBundle"),
    ("http: Beast read/write", r"boost::beast|boost::asio"),
    ("cli: file read / zstd", r"ReadFileContents|ZSTD_"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in STAGES]


def samples(stream):
    frames = []
    header = None
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if header is not None:
                yield header, frames
            header, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            header, frames = line, []
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            symbol = re.sub(r"\s+\([^()]*\)$", "", parts[1])  # drop " (/path/to/dso)"
            frames.append(symbol)
    if header is not None:
        yield header, frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=25, help="leaf functions to list")
    args = parser.parse_args()
    stages = collections.Counter()
    leaves = collections.Counter()
    kernel = 0
    total = 0
    for header, frames in samples(sys.stdin):
        total += 1
        stage = "other"
        for symbol in frames:
            match = next((name for name, regex in COMPILED if regex.search(symbol)), None)
            if match:
                stage = match
                break
        stages[stage] += 1
        leaf = frames[0] if frames else "?"
        leaf = re.sub(r"\+0x[0-9a-f]+$", "", leaf)
        leaves[leaf[:110]] += 1
        if frames and any(s.startswith(("entry_SYSCALL", "do_syscall")) for s in frames):
            kernel += 1
    if total == 0:
        print("no samples", file=sys.stderr)
        return 1
    print(f"{total} samples; {100.0 * kernel / total:.1f}% inside system calls")
    print()
    print("| stage (innermost) | samples | share |")
    print("| --- | ---: | ---: |")
    for name, count in stages.most_common():
        print(f"| {name} | {count} | {100.0 * count / total:.1f}% |")
    print()
    print("| leaf function (self) | share |")
    print("| --- | ---: |")
    for name, count in leaves.most_common(args.top):
        print(f"| `{name}` | {100.0 * count / total:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
