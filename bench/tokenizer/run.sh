#!/usr/bin/env bash
# Tokenizer benchmark: HF tokenizers 0.23.3 (one thread, encode) vs the Swift CLI, same file, same run.
#
#   bench/tokenizer/run.sh [SIZE_MB] [REPEAT]      (defaults 10 and 5)
#   TEXT=zh bench/tokenizer/run.sh                 Simplified Chinese only (zh_CN message catalogues)
#
# Builds `tollgate` in release, assembles a ~10 MB mixed multilingual file (make_corpus.py), then:
#  - whole process, repeated, median: `tollgate tokens count --file F` vs a python process doing
#    Tokenizer.from_file + encode (both include start-up and load);
#  - in-process: `tollgate tokens bench` and hf_bench.py (encode throughput, 1M-token prefix);
#  - load: a fresh process each time (the first load is the one a gateway pays), median of REPEAT;
#  - checks that both give the same token count on the file.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size="${1:-10}"
repeat="${2:-5}"
work="$root/.build-tokenizer-bench"
scratch="${TOLLGATE_BENCH_SCRATCH:-$root/.build-tok}"
mkdir -p "$work"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

# The reference venv (same as the parity tests).
"$root/scripts/tokenizer-reference/prepare.sh" --venv-only
py="${TOLLGATE_TOKENIZER_VENV:-$root/.venv-tokenizer-reference}/bin/python"
[ -x "$py" ] || { echo "no reference venv; run scripts/tokenizer-reference/prepare.sh" >&2; exit 1; }

if [ -n "${TOLLGATE_BENCH_BIN:-}" ]; then
    bin="$TOLLGATE_BENCH_BIN"  # an already built binary with the `tokens` command
else
    swift build -c release --scratch-path "$scratch" --product tollgate >/dev/null
    bin="$scratch/release/tollgate"
fi
if [ "${TEXT:-mixed}" = zh ]; then
    corpus="$work/corpus-zh-${size}mb.txt"
    [ -f "$corpus" ] || python3 "$root/bench/tokenizer/make_corpus.py" "$corpus" "$size" zh
else
    corpus="$work/corpus-${size}mb.txt"
    [ -f "$corpus" ] || python3 "$root/bench/tokenizer/make_corpus.py" "$corpus" "$size"
fi
tokjson="$root/Sources/TollgateTokenizer/Resources/tokenizer.json"

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

swift_count="$("$bin" tokens count --file "$corpus")"
hf_count="$("$py" -c 'import sys; from tokenizers import Tokenizer; print(len(Tokenizer.from_file(sys.argv[1]).encode(open(sys.argv[2], encoding="utf-8", newline="").read()).ids))' "$tokjson" "$corpus")"
if [ "$swift_count" != "$hf_count" ]; then echo "token counts differ: swift $swift_count, hf $hf_count" >&2; exit 1; fi

swift_times=(); hf_times=()
for _ in $(seq "$repeat"); do
    t0=$(now); "$bin" tokens count --file "$corpus" >/dev/null; t1=$(now)
    swift_times+=("$(echo "$t1 - $t0" | bc -l)")
    t0=$(now); "$py" -c 'import sys; from tokenizers import Tokenizer; Tokenizer.from_file(sys.argv[1]).encode(open(sys.argv[2], encoding="utf-8", newline="").read())' "$tokjson" "$corpus"; t1=$(now)
    hf_times+=("$(echo "$t1 - $t0" | bc -l)")
done
bytes=$(stat -c %s "$corpus")
sw=$(printf '%s\n' "${swift_times[@]}" | median)
hf=$(printf '%s\n' "${hf_times[@]}" | median)
swift_json="$("$bin" tokens bench --file "$corpus" --repeat "$repeat")"
hf_json="$("$py" "$root/bench/tokenizer/hf_bench.py" "$tokjson" "$corpus" "$repeat")"

tiny="$work/hello.txt"
echo "Say hello." >"$tiny"
load_ms() { python3 -c 'import json, sys; print(json.load(sys.stdin)["load_ms"])'; }
swift_loads=(); hf_loads=()
for _ in $(seq "$repeat"); do
    swift_loads+=("$("$bin" tokens bench --file "$tiny" --repeat 1 | load_ms)")
    hf_loads+=("$("$py" "$root/bench/tokenizer/hf_bench.py" "$tokjson" "$tiny" 1 | load_ms)")
done
swift_load=$(printf '%s\n' "${swift_loads[@]}" | median)
hf_load=$(printf '%s\n' "${hf_loads[@]}" | median)

python3 - "$bytes" "$swift_count" "$sw" "$hf" "$swift_json" "$hf_json" "$swift_load" "$hf_load" <<'PY'
import json, sys
b, n, sw, hf = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s, h = json.loads(sys.argv[5]), json.loads(sys.argv[6])
swift_load, hf_load = float(sys.argv[7]), float(sys.argv[8])
print(f"file: {b/1e6:.2f} MB, {n} tokens (Swift and HF agree)\n")
print("| measure | HF tokenizers 0.23.3 | Swift (tollgate) | ratio |")
print("|---|---|---|---|")
print(f"| whole process, MB/s (median) | {b/hf/1e6:.2f} | {b/sw/1e6:.2f} | {hf/sw:.1f}x |")
print(f"| encode only, MB/s (median) | {h['mb_per_s']:.2f} | {s['mb_per_s']:.2f} | {s['mb_per_s']/h['mb_per_s']:.1f}x |")
print(f"| ~1M-token prompt, s (median) | {h['million_median_s']:.3f} ({h['million_prefix_tokens']} tok) | {s['million_median_s']:.3f} ({s['million_prefix_tokens']} tok) | {h['million_median_s']/s['million_median_s']:.1f}x |")
print(f"| load, ms (median, fresh process) | {hf_load:.0f} | {swift_load:.0f} | {hf_load/swift_load:.1f}x |")
print(f"| RSS of loaded tokenizer, MB | | {s['rss_loaded_mb']:.1f} (process {s['rss_total_mb']:.1f}) | |")
PY
