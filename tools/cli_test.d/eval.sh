# qforge eval: sourced by tools/cli_test.sh (uses expect, expect_err_one_line, LAST_OUT, $Q, $SHARED).
QF_EV_TMP=$(mktemp -d)
QF_EV_MODEL="$SHARED/models/stories260K/hf"
QF_EV_TXT="$SHARED/data/tinystories/tinystories_valid_fragment.txt"
if [ -d "$QF_EV_MODEL" ] && [ -f "$QF_EV_TXT" ]; then
  printf '%s\n' '{"context": "Once upon a", "choices": [" time", " banana"], "label": 0}' \
    '{"context": "Lily went to the", "choices": [" park", " seven"], "label": 0}' > "$QF_EV_TMP/task.jsonl"
  # The model against itself: KLD exactly 0, top-1 agreement 1, f32 weights = 32 bits/weight.
  expect 0 "eval self json" -- "$Q" eval "$QF_EV_MODEL" --baseline "$QF_EV_MODEL" --text "$QF_EV_TXT" --ctx 64 \
    --max-chunks 2 --task "$QF_EV_TMP/task.jsonl" --prompt-tokens 16 --gen-tokens 4 --reps 1 --threads 2 \
    --cache-dir "$QF_EV_TMP/cache" --json
  printf '%s' "$LAST_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
k = d["quality"]["kld"]
assert k["mean"] == 0 and k["max"] == 0 and k["top1_agreement"] == 1 and k["tokens"] == 62, k
assert k["cache"] == "computed", k
assert [p["protocol"] for p in d["quality"]["ppl"]] == ["llamacpp", "windows"], d["quality"]
assert d["size"]["linear_bits_per_weight"] == 32 and d["size"]["model_bits_per_weight"] == 32, d["size"]
assert d["speed"]["prompt_tokens"] == 16 and d["speed"]["reps"] == 1 and d["speed"]["ttft_ms"] > 0, d["speed"]
assert d["threads"] == 2 and d["tasks"][0]["n"] == 2, d
' && passes=$((passes+1)) || { echo "FAIL: eval self json: $LAST_OUT"; fails=$((fails+1)); }
  ls "$QF_EV_TMP"/cache/kld-base-*.bin >/dev/null 2>&1 && passes=$((passes+1)) || { echo "FAIL: eval wrote no baseline cache"; fails=$((fails+1)); }
  # A 4-bit RTN checkpoint against the f32 baseline (cached above): KLD > 0, about 4.6 bits per linear weight.
  expect 0 "eval quantize rtn" -- "$Q" quantize "$QF_EV_MODEL" -o "$QF_EV_TMP/r4" --method rtn --bits 4 --group-size 32
  expect 0 "eval rtn vs baseline" -- "$Q" eval "$QF_EV_TMP/r4" --baseline "$QF_EV_MODEL" --text "$QF_EV_TXT" --ctx 64 \
    --max-chunks 2 --protocol llamacpp --reps 1 --gen-tokens 4 --prompt-tokens 16 --cache-dir "$QF_EV_TMP/cache" --json
  printf '%s' "$LAST_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
k = d["quality"]["kld"]
assert k["cache"] == "hit", k
assert 0 < k["mean"] < 1 and k["max"] >= k["p99"] >= k["median"] >= 0 and 0 < k["top1_agreement"] <= 1, k
assert 4 < d["size"]["linear_bits_per_weight"] < 6, d["size"]
assert d["size"]["model_bits_per_weight"] < 32, d["size"]
' && passes=$((passes+1)) || { echo "FAIL: eval rtn json: $LAST_OUT"; fails=$((fails+1)); }
  expect 0 "eval table" -- "$Q" eval "$QF_EV_TMP/r4" --baseline "$QF_EV_MODEL" --text "$QF_EV_TXT" --ctx 64 \
    --max-chunks 2 --reps 1 --gen-tokens 4 --prompt-tokens 16 --cache-dir "$QF_EV_TMP/cache"
  case "$LAST_OUT" in *"Mean KLD"*"Same top p"*"TTFT"*"bits/weight"*) passes=$((passes+1));;
    *) echo "FAIL: eval table: $LAST_OUT"; fails=$((fails+1));; esac
  # Errors: one line, status 2.
  expect 2 "eval context too long for the text" -- "$Q" eval "$QF_EV_MODEL" --text "$QF_EV_TXT" --ctx 20000 --reps 0
  expect_err_one_line "eval context too long for the text"
  printf '%s\n' '{"context": "a", "choices": [" b", " c"], "label": 5}' > "$QF_EV_TMP/bad.jsonl"
  expect 2 "eval bad task label" -- "$Q" eval "$QF_EV_MODEL" --text "$QF_EV_TXT" --ctx 64 --task "$QF_EV_TMP/bad.jsonl"
  expect_err_one_line "eval bad task label"
  expect 2 "eval missing baseline" -- "$Q" eval "$QF_EV_MODEL" --text "$QF_EV_TXT" --ctx 64 --max-chunks 1 --reps 0 \
    --baseline "$QF_EV_TMP/nope" --cache-dir "$QF_EV_TMP/cache"
  expect_err_one_line "eval missing baseline"
  expect 2 "eval bad protocol" -- "$Q" eval "$QF_EV_MODEL" --text "$QF_EV_TXT" --protocol nope
  expect_err_one_line "eval bad protocol"
fi
expect 2 "eval missing text" -- "$Q" eval /nonexistent --text /nonexistent.txt
expect_err_one_line "eval missing text"
expect 2 "eval missing model" -- "$Q" eval /nonexistent --text "$QF_EV_TXT" --reps 0
expect_err_one_line "eval missing model"
rm -rf "$QF_EV_TMP"
