# qforge generate: sourced by tools/cli_test.sh (uses expect, LAST_OUT, LAST_ERR, SHARED).
S260="$SHARED/models/stories260K"
if [ -d "$S260" ]; then
  # Greedy from BOS reproduces the reference story (reference_outputs.json) in every form.
  want="Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
  expect 0 "generate greedy gguf" -- "$Q" generate "$S260/stories260K.gguf" -p "" -n 64 --temp 0 --threads 2
  case "$LAST_OUT" in "$want"*) passes=$((passes+1));; *) echo "FAIL: generate gguf text: $LAST_OUT"; fails=$((fails+1));; esac
  case "$LAST_ERR" in *"prefill:"*"tokens/s"*"decode:"*"tokens/s"*) passes=$((passes+1));; *) echo "FAIL: generate speed line: $LAST_ERR"; fails=$((fails+1));; esac
  gguf_out="$LAST_OUT"
  expect 0 "generate greedy hf dir" -- "$Q" generate "$S260/hf" -p "" -n 64 --temp 0
  [ "$LAST_OUT" = "$gguf_out" ] && passes=$((passes+1)) || { echo "FAIL: hf text differs: $LAST_OUT"; fails=$((fails+1)); }
  expect 0 "generate greedy .bin" -- "$Q" generate "$S260/stories260K.bin" --tokenizer "$S260/tok512.bin" -p "" -n 64 --temp 0
  [ "$LAST_OUT" = "$gguf_out" ] && passes=$((passes+1)) || { echo "FAIL: .bin text differs: $LAST_OUT"; fails=$((fails+1)); }
  # Seeded sampling is reproducible.
  expect 0 "generate sampled" -- "$Q" generate "$S260/stories260K.gguf" -p "Once upon" -n 20 --temp 0.9 --top-k 40 --top-p 0.9 --seed 7
  first="$LAST_OUT"
  expect 0 "generate sampled again" -- "$Q" generate "$S260/stories260K.gguf" -p "Once upon" -n 20 --temp 0.9 --top-k 40 --top-p 0.9 --seed 7 --threads 1
  [ "$LAST_OUT" = "$first" ] && passes=$((passes+1)) || { echo "FAIL: seeded sampling not reproducible"; fails=$((fails+1)); }
  case "$first" in "Once upon"*) passes=$((passes+1));; *) echo "FAIL: prompt not echoed: $first"; fails=$((fails+1));; esac
  # Errors: one line, status 2.
  expect 2 ".bin without tokenizer" -- "$Q" generate "$S260/stories260K.bin" -p "" -n 4
  expect_err_one_line ".bin without tokenizer"
fi
expect 2 "generate missing model" -- "$Q" generate /nonexistent/model.gguf -p "hi"
expect_err_one_line "generate missing model"
expect 2 "generate bad temp" -- "$Q" generate /nonexistent/model.gguf -p "hi" --temp -1
expect_err_one_line "generate bad temp"
