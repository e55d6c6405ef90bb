# qforge inspect: sourced by tools/cli_test.sh ($Q = the binary, $SHARED = the shared dir or empty).
QF_INSPECT_TMP=$(mktemp -d)
expect 2 "inspect missing path" -- "$Q" inspect /nonexistent/model.gguf
expect_err_one_line "inspect missing path"
case "$LAST_ERR" in *"no such file or directory"*) passes=$((passes+1));; *) echo "FAIL: inspect missing path: $LAST_ERR"; fails=$((fails+1));; esac
printf 'GGUF\003\000\000\000garbage' > "$QF_INSPECT_TMP/corrupt.gguf"
expect 2 "inspect corrupt gguf" -- "$Q" inspect "$QF_INSPECT_TMP/corrupt.gguf"
expect_err_one_line "inspect corrupt gguf"
case "$LAST_ERR" in *"corrupt.gguf"*"truncated"*) passes=$((passes+1));; *) echo "FAIL: inspect corrupt gguf: $LAST_ERR"; fails=$((fails+1));; esac
printf 'not a checkpoint' > "$QF_INSPECT_TMP/corrupt.bin"
expect 2 "inspect corrupt bin" -- "$Q" inspect "$QF_INSPECT_TMP/corrupt.bin"
expect_err_one_line "inspect corrupt bin"
expect 2 "inspect without MODEL" -- "$Q" inspect
expect_err_one_line "inspect without MODEL"
S260="$SHARED/models/stories260K"
if [ -n "$SHARED" ] && [ -d "$S260" ]; then
  for m in "$S260/stories260K.bin" "$S260/stories260K.gguf" "$S260/hf"; do
    expect 0 "inspect $m" -- "$Q" inspect "$m"
    case "$LAST_OUT" in *"LlamaForCausalLM"*"hidden_size:       64"*"num_kv_heads:      4"*"model.layers.4.mlp.down_proj.weight"*) passes=$((passes+1));;
      *) echo "FAIL: inspect $m printed: $LAST_OUT"; fails=$((fails+1));; esac
  done
  expect 0 "inspect hf parameters" -- "$Q" inspect "$S260/hf"
  case "$LAST_OUT" in *"parameters:        260,032"*) passes=$((passes+1));; *) echo "FAIL: inspect hf parameter count: $LAST_OUT"; fails=$((fails+1));; esac
  expect 0 "inspect bin --json --tokenizer" -- "$Q" inspect "$S260/stories260K.bin" --json --tokenizer "$S260/tok512.bin"
  case "$LAST_OUT" in *'"format": "llama2c"'*'"parameters": 260032'*'"vocab_size": 512'*) passes=$((passes+1));;
    *) echo "FAIL: inspect --json: $LAST_OUT" | head -5; fails=$((fails+1));; esac
  expect 2 "inspect bad tokenizer" -- "$Q" inspect "$S260/stories260K.bin" --tokenizer /nonexistent/tok.bin
  expect_err_one_line "inspect bad tokenizer"
fi
rm -rf "$QF_INSPECT_TMP"
