# qforge formats: sourced by tools/cli_test.sh (uses expect, expect_err_one_line, LAST_OUT, $Q).
expect 0 "formats table" -- "$Q" formats
for f in f16 bf16 fp8_e4m3 int2 int4 int8 nf4 fp4_bnb mxfp4 nvfp4 e8m0; do
  printf '%s\n' "$LAST_OUT" | grep -q "^$f " && passes=$((passes+1)) || { echo "FAIL: formats lists no $f"; fails=$((fails+1)); }
done
# Known bits per weight: int4 g128 f16 sym 4.125 / asym 4.15625, nf4 4.5 (dq 4.127), mxfp4 4.25, nvfp4 4.5.
printf '%s\n' "$LAST_OUT" | grep -Eq '^int4 .* 4\.1250 +4\.1562 ' && passes=$((passes+1)) || { echo "FAIL: int4 g128 bpw"; fails=$((fails+1)); }
printf '%s\n' "$LAST_OUT" | grep -Eq '^nf4 .* 4\.5000 +- +4\.1270 ' && passes=$((passes+1)) || { echo "FAIL: nf4 bpw"; fails=$((fails+1)); }
printf '%s\n' "$LAST_OUT" | grep -Eq '^mxfp4 .* 4\.2500 ' && passes=$((passes+1)) || { echo "FAIL: mxfp4 bpw"; fails=$((fails+1)); }
expect 0 "formats --group-size 32" -- "$Q" formats --group-size 32
printf '%s\n' "$LAST_OUT" | grep -Eq '^int4 .* g32 .* 4\.5000 +4\.6250 ' && passes=$((passes+1)) || { echo "FAIL: int4 g32 bpw: $LAST_OUT"; fails=$((fails+1)); }
expect 0 "formats --json" -- "$Q" formats --json --group-size 64
printf '%s' "$LAST_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["group_size"] == 64
f = {x["name"]: x for x in d["formats"]}
assert f["int4"]["bits_per_weight"] == 4.25 and f["int4"]["bits_per_weight_asym"] == 4.3125
assert f["nf4"]["bits_per_weight"] == 4.5 and f["i8"]["quantizable"] is False
' && passes=$((passes+1)) || { echo "FAIL: formats --json content"; fails=$((fails+1)); }
expect 2 "formats --group-size 0" -- "$Q" formats --group-size 0
expect_err_one_line "formats --group-size 0"
expect 2 "formats --group-size x" -- "$Q" formats --group-size x
expect_err_one_line "formats --group-size x"
expect 2 "formats unknown flag" -- "$Q" formats --frobnicate
expect_err_one_line "formats unknown flag"
