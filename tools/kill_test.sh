#!/usr/bin/env bash
# Kill safety: SIGKILL `qforge quantize` (a checkpoint directory and a GGUF file) and `qforge compare`
# at many points and check that nothing partial is ever visible under the output name (an output that
# exists is the clean run's bytes and verifies against its manifest when that is there, every finished
# compare row is whole JSON) and that compare, run again, resumes and gives the rows an uninterrupted
# run gives. A GGUF is one file with its manifest beside it, written after it: a kill between the two
# leaves a whole GGUF without a manifest, never a manifest of a file that is not there.
# Usage: kill_test.sh path/to/qforge path/to/qforge_synth path/to/shared
set -u
Q="$1"; SYNTH="$2"; SHARED="$3"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
pass() { passes=$((passes+1)); }
fail() { echo "FAIL: $1"; fails=$((fails+1)); }
"$SYNTH" -o "$T/model" --hidden 256 --intermediate 704 --layers 6 --heads 4 --kv-heads 2 --vocab 512 --dtype f32 \
  --tokenizer "$SHARED/models/stories260K/hf/tokenizer.model" > /dev/null || { echo "FAIL: synth"; exit 1; }
CAL="$SHARED/data/tinystories/tinystories_valid_fragment.txt"
qargs=(quantize "$T/model" --method gptq --bits 4 --group-size 64 --calib "$CAL" --calib-samples 16 --calib-seqlen 128 --threads 2)

# A clean run: how long it takes decides the kill points.
start=$(date +%s%N)
"$Q" "${qargs[@]}" -o "$T/clean" > /dev/null 2>&1 || { echo "FAIL: clean quantize"; exit 1; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
killed=0
for pct in 1 3 6 10 15 22 30 40 50 60 70 80 90 97; do
  out="$T/q$pct"
  "$Q" "${qargs[@]}" -o "$out" > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ms="$ms" -v p="$pct" 'BEGIN { printf "%.3f", ms * p / 100000 }')"
  kill -9 "$pid" 2> /dev/null && killed=$((killed+1))
  wait "$pid" 2> /dev/null
  if [ -e "$out" ]; then
    # Finished before the kill: it must be whole, and the same bytes as the clean run.
    "$Q" verify "$out" > /dev/null 2>&1 && pass || fail "quantize killed at $pct%: $out exists but does not verify"
    diff -r "$out" "$T/clean" > /dev/null && pass || fail "quantize killed at $pct%: $out differs from the clean run"
  else
    pass
  fi
  rm -rf "$T"/q"$pct".tmp-*
done
[ "$killed" -ge 5 ] && pass || fail "only $killed of 14 quantize runs were still running when killed (clean run ${ms} ms)"

# GGUF export (GPTQ inside the Q4_K_M grids): the same kills.
gargs=(quantize "$T/model" --format gguf --type Q4_K_M --method gptq --calib "$CAL" --calib-samples 16 --calib-seqlen 128 --threads 2)
start=$(date +%s%N)
"$Q" "${gargs[@]}" -o "$T/gclean.gguf" > /dev/null 2>&1 || { echo "FAIL: clean GGUF export"; exit 1; }
gms=$(( ($(date +%s%N) - start) / 1000000 ))
gkilled=0
for pct in 2 8 15 25 40 55 70 85 95; do
  out="$T/g$pct.gguf"
  "$Q" "${gargs[@]}" -o "$out" > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ms="$gms" -v p="$pct" 'BEGIN { printf "%.3f", ms * p / 100000 }')"
  kill -9 "$pid" 2> /dev/null && gkilled=$((gkilled+1))
  wait "$pid" 2> /dev/null
  if [ -e "$out" ]; then
    cmp -s "$out" "$T/gclean.gguf" && pass || fail "GGUF export killed at $pct%: $out differs from the clean run"
  else
    pass
  fi
  if [ -e "$out.qforge-manifest.json" ]; then
    [ -e "$out" ] && "$Q" verify "$out" > /dev/null 2>&1 && pass || fail "GGUF export killed at $pct%: a manifest without a file that verifies"
  fi
  rm -f "$T"/g"$pct".gguf.tmp-*
done
[ "$gkilled" -ge 4 ] && pass || fail "only $gkilled of 9 GGUF exports were still running when killed (clean run ${gms} ms)"

# compare: kill at several points, check what is visible, resume to the end.
cat > "$T/matrix.json" <<'J'
{"configs": [{"method": "rtn", "bits": 4, "group_size": 64}, {"method": "gptq", "bits": 4, "group_size": 64},
             {"method": "awq", "bits": 4, "group_size": 64}], "baseline": true, "metrics": ["ppl", "kld", "size"]}
J
cargs=(compare "$T/model" --matrix "$T/matrix.json" --calib "$CAL" --calib-samples 16 --calib-seqlen 128
       --text "$CAL" --ctx 64 --max-chunks 4 --threads 2)
start=$(date +%s%N)
"$Q" "${cargs[@]}" -o "$T/cclean" > /dev/null 2>&1 || { echo "FAIL: clean compare"; exit 1; }
cms=$(( ($(date +%s%N) - start) / 1000000 ))
C="$T/cmp"
ckilled=0
for pct in 5 15 25 35 45 55 65 75 85 95; do
  "$Q" "${cargs[@]}" -o "$C" > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ms="$cms" -v p="$pct" 'BEGIN { printf "%.3f", ms * p / 100000 }')"
  kill -9 "$pid" 2> /dev/null && ckilled=$((ckilled+1))
  wait "$pid" 2> /dev/null
  for m in "$C"/models/*; do
    case "$m" in *.tmp-*|*.cdx.json|*'*') continue ;; esac
    [ -d "$m" ] || continue
    "$Q" verify "$m" > /dev/null 2>&1 && pass || fail "compare killed at $pct%: $m does not verify"
  done
  for r in "$C"/rows/*.json; do
    [ -f "$r" ] || continue
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$r" && pass || fail "compare killed at $pct%: $r is not whole JSON"
  done
  rm -rf "$C"/models/*.tmp-*
done
[ "$ckilled" -ge 3 ] && pass || fail "only $ckilled of 10 compare runs were still running when killed"
"$Q" "${cargs[@]}" -o "$C" > "$T/resume.log" 2>&1 && pass || fail "compare does not finish after the kills: $(tail -2 "$T/resume.log")"
python3 - "$T/cclean/matrix.json" "$C/matrix.json" <<'PY' && pass || fail "the resumed compare's rows differ from an uninterrupted run's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
key = lambda m: {r["id"]: (r["eval"]["quality"]["ppl"][0]["ppl"], r["eval"]["quality"]["kld"]["mean"], r["eval"]["size"]["weight_bytes"]) for r in m["rows"]}
assert key(a) == key(b), (key(a), key(b))
PY
echo "$passes passed, $fails failed (quantize: $killed kills over a ${ms} ms run; GGUF: $gkilled over ${gms} ms; compare: $ckilled kills over ${cms} ms)"
[ "$fails" = 0 ]
