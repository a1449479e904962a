#!/usr/bin/env python3
"""Writes N Patient/$match request bodies (one Parameters JSON per line) for match_http.sh.

Half are records of the indexed population registered again at another member (new record
number, sometimes the name in pinyin, no id): they find their own person as a certain match.
The other half come from a population of another seed: mostly nobody, sometimes a namesake.
Usage: match_bodies.py INDEXED.ndjson OTHER.ndjson N OUT
"""
import json
import random
import sys


def sample(path, count, rng):
    # Reservoir sampling over the lines of a large file.
    chosen = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if len(chosen) < count:
                chosen.append(line)
            else:
                slot = rng.randrange(number + 1)
                if slot < count:
                    chosen[slot] = line
    return [json.loads(line) for line in chosen]


def main():
    indexed, other, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rng = random.Random(11)
    queries = []
    for patient in sample(indexed, count // 2, rng):
        patient.pop("id", None)
        for identifier in patient.get("identifier", []):
            if "/sid/mrn/" in identifier.get("system", ""):
                identifier["system"] = "https://fhir.medalliance.cn/sid/mrn/bench-member"
                identifier["value"] = "B-" + str(rng.randrange(10**8))
        queries.append(patient)
    for patient in sample(other, count - count // 2, rng):
        patient.pop("id", None)
        queries.append(patient)
    rng.shuffle(queries)
    with open(out, "w", encoding="utf-8") as target:
        for patient in queries:
            body = {"resourceType": "Parameters",
                    "parameter": [{"name": "resource", "resource": patient},
                                  {"name": "count", "valueInteger": 10}]}
            target.write(json.dumps(body, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
