#!/usr/bin/env python3
"""Writes the Patients of a generated population (tools/mpi/gen_population.py) that the MPI
write hook accepts: resident IDs with a right check character (GB 11643 MOD 11-2) whose birth
date and sex agree with the record. The generator mistypes some IDs and swaps some dates on
purpose (for the matcher); an import with the hook on refuses those, which would make the two
import runs of bench/mpi/import_compare.sh import different data.

Usage: valid_subset.py IN.ndjson OUT.ndjson [MAX_RECORDS]
"""
import json
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RESIDENT_ID = "https://fhir.medalliance.cn/sid/resident-id"


def acceptable(patient):
    for identifier in patient.get("identifier", []):
        if identifier.get("system") != RESIDENT_ID:
            continue
        value = identifier.get("value", "").upper()
        if len(value) != 18 or not value[:17].isdigit():
            return False
        check = "10X98765432"[sum(int(c) * w for c, w in zip(value, WEIGHTS)) % 11]
        if value[17] != check:
            return False
        birth = patient.get("birthDate", "").replace("-", "")
        if birth and not value[6:14].startswith(birth):
            return False
        gender = patient.get("gender")
        odd = int(value[16]) % 2 == 1
        if (gender == "male" and not odd) or (gender == "female" and odd):
            return False
    return True


def main():
    source, target = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    kept = dropped = 0
    with open(source, encoding="utf-8") as lines, open(target, "w", encoding="utf-8") as out:
        for line in lines:
            if limit is not None and kept >= limit:
                break
            if acceptable(json.loads(line)):
                out.write(line)
                kept += 1
            else:
                dropped += 1
    print(f"kept {kept}, dropped {dropped}", file=sys.stderr)


if __name__ == "__main__":
    main()
