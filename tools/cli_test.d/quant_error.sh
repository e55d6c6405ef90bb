# qforge quant-error: sourced by tools/cli_test.sh (uses expect, expect_err_one_line, LAST_OUT, $Q, $SHARED).
QF_QE_TMP=$(mktemp -d)
expect 0 "quant-error synthetic" -- "$Q" quant-error --synthetic outliers --rows 64 --cols 512 --seed 3 \
  --schemes int8:tensor,int8:channel,int8:g128 --threads 2
[ "$(printf '%s\n' "$LAST_OUT" | grep -c '^int8:')" = 3 ] && passes=$((passes+1)) || { echo "FAIL: quant-error rows: $LAST_OUT"; fails=$((fails+1)); }
# On outliers, finer scales win: SQNR tensor < channel < g128 (column 6).
printf '%s\n' "$LAST_OUT" | awk '/^int8:/ { s[n++] = $6 } END { exit !(n == 3 && s[0] < s[1] && s[1] < s[2]) }' \
  && passes=$((passes+1)) || { echo "FAIL: per-group does not win on outliers: $LAST_OUT"; fails=$((fails+1)); }
table="$LAST_OUT"
expect 0 "quant-error 1 thread" -- "$Q" quant-error --synthetic outliers --rows 64 --cols 512 --seed 3 \
  --schemes int8:tensor,int8:channel,int8:g128 --threads 1
[ "$LAST_OUT" = "$table" ] && passes=$((passes+1)) || { echo "FAIL: quant-error differs with 1 thread"; fails=$((fails+1)); }
expect 0 "quant-error default schemes --json" -- "$Q" quant-error --synthetic laplace --rows 16 --cols 256 --json
printf '%s' "$LAST_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["rows"] == 16 and d["cols"] == 256 and len(d["results"]) >= 40
r = {x["scheme"]: x for x in d["results"]}
assert r["int4:g128:sym"]["bytes"] == 16 * 128 + 16 * 2 * 2
assert r["f16"]["bits_per_weight"] == 16 and r["int8:g128:asym"]["sqnr_db"] > 30
' && passes=$((passes+1)) || { echo "FAIL: quant-error --json content"; fails=$((fails+1)); }
# Errors: one line, status 2.
expect 2 "quant-error no input" -- "$Q" quant-error
expect_err_one_line "quant-error no input"
expect 2 "quant-error two inputs" -- "$Q" quant-error --synthetic gaussian --tensor x.safetensors:w
expect_err_one_line "quant-error two inputs"
expect 2 "quant-error bad synthetic kind" -- "$Q" quant-error --synthetic cauchy
expect_err_one_line "quant-error bad synthetic kind"
expect 2 "quant-error bad scheme" -- "$Q" quant-error --synthetic gaussian --schemes int4:g128,int9
expect_err_one_line "quant-error bad scheme"
case "$LAST_ERR" in *"int9"*) passes=$((passes+1));; *) echo "FAIL: bad scheme not named: $LAST_ERR"; fails=$((fails+1));; esac
expect 2 "quant-error empty scheme" -- "$Q" quant-error --synthetic gaussian --schemes int4,,int8
expect_err_one_line "quant-error empty scheme"
expect 2 "quant-error bad rows" -- "$Q" quant-error --synthetic gaussian --rows 0
expect_err_one_line "quant-error bad rows"
expect 2 "quant-error too large" -- "$Q" quant-error --synthetic gaussian --rows 1048576 --cols 1048576
expect_err_one_line "quant-error too large"
expect 2 "quant-error bad flag" -- "$Q" quant-error --synthetic gaussian --no-such-flag
expect_err_one_line "quant-error bad flag"
expect 2 "quant-error missing file" -- "$Q" quant-error --tensor /nonexistent/m.safetensors:w
expect_err_one_line "quant-error missing file"
expect 2 "quant-error tensor without name" -- "$Q" quant-error --tensor /nonexistent/m.safetensors
expect_err_one_line "quant-error tensor without name"
# A tiny hand-made safetensors file: "i" is I32 [2] (8 bytes), "f" is F32 [2, 2] (16 bytes).
hdr='{"f":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"i":{"dtype":"I32","shape":[2],"data_offsets":[16,24]}}'
while [ $(( ${#hdr} % 8 )) != 0 ]; do hdr="$hdr "; done
{ printf "\\x$(printf %02x ${#hdr})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hdr"
  printf '\x00\x00\x80\x3f\x00\x00\x00\xc0\x00\x00\x40\x40\x00\x00\x80\xbe'   # 1, -2, 3, -0.25
  printf '\x01\x00\x00\x00\x02\x00\x00\x00'; } > "$QF_QE_TMP/t.safetensors"
expect 0 "quant-error --tensor f32" -- "$Q" quant-error --tensor "$QF_QE_TMP/t.safetensors:f" --schemes f16,int8:channel
printf '%s\n' "$LAST_OUT" | grep -q '^f16 .* 16\.0000 ' && passes=$((passes+1)) || { echo "FAIL: --tensor output: $LAST_OUT"; fails=$((fails+1)); }
expect 2 "quant-error missing tensor" -- "$Q" quant-error --tensor "$QF_QE_TMP/t.safetensors:nope"
expect_err_one_line "quant-error missing tensor"
case "$LAST_ERR" in *"no tensor 'nope'"*) passes=$((passes+1));; *) echo "FAIL: missing tensor message: $LAST_ERR"; fails=$((fails+1));; esac
expect 2 "quant-error non-float tensor" -- "$Q" quant-error --tensor "$QF_QE_TMP/t.safetensors:i"
expect_err_one_line "quant-error non-float tensor"
case "$LAST_ERR" in *"i32"*"float"*) passes=$((passes+1));; *) echo "FAIL: non-float message: $LAST_ERR"; fails=$((fails+1));; esac
if [ -f "$SHARED/models/stories260K/hf/model.safetensors" ]; then
  expect 0 "quant-error real tensor" -- "$Q" quant-error --tensor "$SHARED/models/stories260K/hf/model.safetensors:model.layers.0.mlp.down_proj.weight" --schemes int4:g64,nf4 --json
  printf '%s' "$LAST_OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["rows"]==64 and d["cols"]==172' \
    && passes=$((passes+1)) || { echo "FAIL: real tensor shape"; fails=$((fails+1)); }
fi
rm -rf "$QF_QE_TMP"
