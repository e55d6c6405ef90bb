# qforge ppl: sourced by tools/cli_test.sh.
S260="$SHARED/models/stories260K"
TXT="$SHARED/data/tinystories/tinystories_valid_fragment.txt"
if [ -f "$S260/stories260K.gguf" ] && [ -f "$TXT" ]; then
  # llama.cpp's llama-perplexity prints 6.2132 for this model, file and context.
  expect 0 "ppl llamacpp" -- "$Q" ppl "$S260/stories260K.gguf" --text "$TXT" --ctx 256 --protocol llamacpp --threads 2
  ppl=$(printf '%s\n' "$LAST_OUT" | sed -n 's/^PPL = \([0-9.]*\) +\/- [0-9.]*$/\1/p')
  if [ -n "$ppl" ] && awk -v p="$ppl" 'BEGIN { exit !(p >= 6.2122 && p <= 6.2142) }'; then passes=$((passes+1)); else
    echo "FAIL: ppl llamacpp printed: $LAST_OUT"; fails=$((fails+1)); fi
  expect 0 "ppl json" -- "$Q" ppl "$S260/stories260K.gguf" --text "$TXT" --ctx 256 --protocol windows --max-chunks 4 --json
  case "$LAST_OUT" in *'"chunks":4'*'"ppl":'*'"seconds":'*'"stderr":'*'"tokens":1020'*) passes=$((passes+1));;
    *) echo "FAIL: ppl json: $LAST_OUT"; fails=$((fails+1));; esac
  expect 2 "ppl text too short for the context" -- "$Q" ppl "$S260/stories260K.gguf" --text "$TXT" --ctx 20000
  expect_err_one_line "ppl text too short for the context"
  expect 2 "ppl bad protocol" -- "$Q" ppl "$S260/stories260K.gguf" --text "$TXT" --protocol nope
  expect_err_one_line "ppl bad protocol"
  # --matmul int8 changes the arithmetic of GGUF block-quantized linears only; on a model without any
  # the flag would do nothing, so it is refused.
  expect 2 "ppl --matmul int8 without block-quantized tensors" -- "$Q" ppl "$S260/stories260K.gguf" --text "$TXT" --ctx 256 --matmul int8
  expect_err_one_line "ppl --matmul int8 without block-quantized tensors"
  case "$LAST_ERR" in *"matmul mode 'int8' applies to GGUF block-quantized tensors"*) passes=$((passes+1));;
    *) echo "FAIL: ppl --matmul int8 message: $LAST_ERR"; fails=$((fails+1));; esac
  expect 2 "ppl bad matmul mode" -- "$Q" ppl "$S260/stories260K.gguf" --text "$TXT" --matmul fast
  expect_err_one_line "ppl bad matmul mode"
fi
expect 2 "ppl missing text" -- "$Q" ppl /nonexistent.gguf --text /nonexistent.txt
expect_err_one_line "ppl missing text"
