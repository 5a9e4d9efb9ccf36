#!/usr/bin/env bash
# The large run of the differential test (tests/test_differential.py), in shards by hypothesis seed, one
# shard at a time at the lowest priority, each under a memory and a time limit.
#   usage: benchmarks/differential_shards.sh FIRST_SEED LAST_SEED [PROGRAMS_PER_SHARD (100)] [LOG_DIR]
# One line per shard: seed, exit status (0 passed, 1 a failure: see LOG_DIR/seed_N.log), seconds, and
# hypothesis' count of programs that passed.
set -u
cd "$(dirname "$0")/.."
per=${3:-100}
logs=${4:-/tmp/differential_shards}
mkdir -p "$logs"
for seed in $(seq "$1" "$2"); do
    start=$(date +%s)
    (ulimit -v 6000000
     DSL_DIFFERENTIAL_EXAMPLES=$per nice -n 19 timeout 3000 .venv/bin/python -m pytest --slow -q -s -p no:randomly \
         -p no:cacheprovider tests/test_differential.py::test_two_thousand_random_programs \
         --hypothesis-seed="$seed") >"$logs/seed_$seed.log" 2>&1
    rc=$?
    passing=$(grep -o "differential: [0-9]* of [0-9]*" "$logs/seed_$seed.log" | tail -1)
    echo "seed $seed rc $rc $(($(date +%s) - start)) s ${passing:-?}"
done
