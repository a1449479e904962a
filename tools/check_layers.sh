#!/usr/bin/env bash
# Checks every project #include in src/ against the layer table of STYLE.md:
# a layer includes only layers below it. Exits 1 and lists offenders.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [core]="core"
  [fhir]="core fhir"
  [store]="core fhir store"
  [search]="core fhir store search"
  [registry]="core fhir store search registry"
  [mpi]="core fhir store search registry mpi"
  [recognition]="core fhir store search registry mpi recognition"
  [referral]="core fhir store search registry mpi referral"
  [consult]="core fhir store search registry mpi consult"
  [research]="core fhir store search registry mpi research"
  [access]="core fhir store search mpi access"
  [audit]="core fhir store search audit"
  [auth]="core fhir store search auth"
  [subscription]="core fhir store search mpi access audit subscription"
  [api]="core fhir store search registry mpi recognition referral consult research access audit auth subscription api"
  [cli]="core fhir store search registry mpi recognition referral consult research access audit auth subscription api cli"
)

status=0
while IFS= read -r file; do
  layer=$(echo "$file" | cut -d/ -f2)
  while IFS= read -r included; do
    target=$(echo "$included" | cut -d/ -f1)
    if [[ " ${allowed[$layer]:-} " != *" $target "* ]]; then
      echo "$file: includes \"$included\" but $layer may not depend on $target"
      status=1
    fi
  done < <(grep -oE '^#include "[^"]+"' "$file" | sed -E 's/#include "([^"]+)"/\1/')
done < <(git ls-files 'src/*.h' 'src/*.cc'; git ls-files --others --exclude-standard 'src/*.h' 'src/*.cc')

# Third-party headers stay in their one place.
if grep -rlE '#include <sqlite3.h>' src | grep -v '^src/store/sqlite/' ; then
  echo "sqlite3.h outside src/store/sqlite"; status=1
fi
if grep -rlE '#include <boost/(beast|asio)' src | grep -v '^src/api/' ; then
  echo "Beast/Asio outside src/api"; status=1
fi
[ $status -eq 0 ] && echo "layers: ok"
exit $status
