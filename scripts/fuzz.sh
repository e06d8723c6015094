#!/usr/bin/env bash
# Fuzzes hookfeed-core's parsers of outside input with cargo-fuzz (libFuzzer), one target
# at a time (docs/SECURITY.md, "Fuzzing"):
#
#   bash scripts/fuzz.sh TARGET [SECONDS]   one target for SECONDS (default 60)
#   bash scripts/fuzz.sh all [SECONDS]      every target in turn, SECONDS each
#   bash scripts/fuzz.sh list               the targets
#
# Installs cargo-fuzz if missing. Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1
# lets it take cargo-fuzz's nightly-only flags (coverage instrumentation, AddressSanitizer).
# Each run starts from fuzz/seeds/TARGET (made fresh from the real test vectors and
# samples) and fuzz/corpus/TARGET (what earlier runs found), prints its executions and
# crashes, and keeps libFuzzer's output in fuzz/logs/TARGET.log. A crash leaves its input
# in fuzz/artifacts/TARGET/ (replay: cargo fuzz run --fuzz-dir fuzz TARGET FILE) and makes
# the script exit non-zero. Not part of `npm test`: `cargo test` runs every target briefly.
source "$(dirname "$0")/lib.sh"

export RUSTC_BOOTSTRAP=1
FUZZ=(--fuzz-dir fuzz)

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "Installing cargo-fuzz (once, about 2 minutes)"
  cargo_install cargo-fuzz
fi

what="${1:-}"
seconds="${2:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$seconds'"
mapfile -t all_targets < <(cargo fuzz list "${FUZZ[@]}")
case "$what" in
  list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
  all) targets=("${all_targets[@]}") ;;
  "") die "usage: bash scripts/fuzz.sh TARGET|all|list [SECONDS]; targets: ${all_targets[*]}" ;;
  *)
    printf '%s\n' "${all_targets[@]}" | grep -qx "$what" || die "no target '$what'; targets: ${all_targets[*]}"
    targets=("$what")
    ;;
esac

step "Building the fuzz targets (release, debug assertions and overflow checks on, AddressSanitizer)"
cargo fuzz build "${FUZZ[@]}" --debug-assertions
cargo run --quiet -p hookfeed-fuzz --example seeds >/dev/null

mkdir -p fuzz/logs
rows=()
failed=0
for target in "${targets[@]}"; do
  step "Fuzzing $target for $seconds s"
  log="fuzz/logs/$target.log"
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  status=0
  cargo fuzz run "${FUZZ[@]}" --debug-assertions "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  corpus="$(sed -n 's/^#[0-9]*[[:space:]]*DONE .*corp: \([0-9]*\).*/\1/p' "$log" | tail -1)"
  if [ "$status" = 0 ]; then
    crashes=0
  else
    crashes=1
    failed=1
    grep -E "panicked at|^==[0-9]+==ERROR|Test unit written to|SUMMARY" "$log" | head -5 | sed 's/^/    /' || true
    [ -n "$executions" ] || executions="$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -1)"
  fi
  note "$target: ${executions:-?} executions in $seconds s, ${corpus:-?} inputs in the corpus, $crashes crash(es)"
  rows+=("| \`$target\` | $seconds s | ${executions:-?} | $crashes |")
done

step "Summary"
echo "| target | budget | executions | crashes |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
exit "$failed"
