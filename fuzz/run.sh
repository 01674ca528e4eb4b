#!/usr/bin/env bash
# Fuzzes every target for SECONDS each (default 60) with cargo fuzz (nightly), adding
# new interesting inputs to fuzz/corpus/<target>/ (commit them: tests/fuzz_corpus.rs
# replays them on stable). A crash stops the run with the input under fuzz/artifacts/.
#   fuzz/run.sh [SECONDS] [TARGET...]
# SANITIZER=none builds without AddressSanitizer (minutes instead of 10-17 on 2 cores:
# CI's short pass; panics and failed properties still stop it, memory errors in unsafe
# dependencies would not be seen).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(canonical php_params set_cookie_jar esia_answers esia_token config)
fi
if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 3
fi
sanitizer="${SANITIZER:-address}"
echo "== building ${#targets[@]} fuzz targets (nightly, sanitizer: $sanitizer)"
cargo +nightly fuzz build -O -s "$sanitizer"
mkdir -p logs
for t in "${targets[@]}"; do
  before=$(ls "corpus/$t" | wc -l)
  echo "== $t: ${seconds}s from $before saved inputs"
  # -max_len: the longest input a real request part could be (a 64 KiB target/body).
  set +e
  cargo +nightly fuzz run -O -s "$sanitizer" "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"logs/$t.log" 2>&1
  status=$?
  set -e
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)|panicked" "logs/$t.log" || true
  after=$(ls "corpus/$t" | wc -l)
  echo "   $t: corpus $before -> $after inputs"
  if [ "$status" -ne 0 ]; then
    echo "!! $t found a failing input; see fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
echo "== no failures"
