#!/usr/bin/env bash
# Build each libFuzzer target with AddressSanitizer and UndefinedBehaviorSanitizer, run it for
# FUZZ_SECONDS (default 60) from the corpus in fuzz/corpus, and fail on any crash. New inputs go to a
# scratch folder, not into the repository; to keep the good ones: <target> -merge=1 fuzz/corpus/<name> <scratch>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds="${FUZZ_SECONDS:-60}"
cc="${FUZZ_CC:-clang}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for name in cfg normalize trust; do
    "$cc" -std=c99 -g -O1 -Wall -Wextra -Werror -Wno-unused-function \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -o "$scratch/fuzz_$name" "fuzz_$name.c"
    mkdir -p "$scratch/corpus_$name"
    echo "== fuzz_$name: ${seconds}s from $(find "corpus/$name" -type f | wc -l) corpus inputs"
    "$scratch/fuzz_$name" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$scratch/" \
        "$scratch/corpus_$name" "corpus/$name" 2>&1 |
        grep -E "(DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)" || true
    status="${PIPESTATUS[0]}"
    echo "== fuzz_$name: corpus now $(find "$scratch/corpus_$name" "corpus/$name" -type f | wc -l) inputs, exit $status"
    if [ "$status" -ne 0 ]; then
        echo "fuzz_$name found a crash; inputs left in $scratch" >&2
        trap - EXIT
        exit 1
    fi
done
