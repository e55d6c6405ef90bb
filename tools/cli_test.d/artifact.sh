# qforge keygen / sign / verify / reproduce / sbom: sourced by tools/cli_test.sh (uses expect,
# expect_err_one_line, LAST_OUT, $Q, $SHARED).
QF_AR=$(mktemp -d)
QF_AR_CAL="$SHARED/data/tinystories/tinystories_valid_fragment.txt"
pass() { passes=$((passes+1)); }
fail() { echo "FAIL: $1"; fails=$((fails+1)); }
expect 0 "artifact: quantize gptq" -- "$Q" quantize "$SHARED/models/stories260K/hf" -o "$QF_AR/gptq" --method gptq --bits 4 \
  --group-size 32 --calib "$QF_AR_CAL" --calib-samples 8 --calib-seqlen 64 --version 1.2.0 --threads 2
expect 0 "artifact: quantize awq" -- "$Q" quantize "$SHARED/models/stories260K/hf" -o "$QF_AR/awq" --method awq --bits 4 \
  --group-size 32 --calib "$QF_AR_CAL" --calib-samples 8 --calib-seqlen 64 --threads 2
for a in gptq awq; do
  [ -f "$QF_AR/$a/qforge-manifest.json" ] && [ -f "$QF_AR/$a/sbom.cdx.json" ] && pass || fail "$a: no manifest or SBOM"
  # The manifest lists every other file, with the run's command, inputs and build.
  python3 - "$QF_AR/$a" <<'PY' && pass || fail "$a: manifest content"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "qforge-manifest.json")))
files = {f["path"]: f for f in m["files"]}
on_disk = sorted(f for f in os.listdir(d) if f != "qforge-manifest.json")
assert sorted(files) == on_disk, (sorted(files), on_disk)
for p, f in files.items():
    b = open(os.path.join(d, p), "rb").read()
    assert f["bytes"] == len(b) and f["sha256"] == hashlib.sha256(b).hexdigest(), p
lines = "".join(f"{files[p]['sha256']}  {p}\n" for p in sorted(files))
assert m["artifact"]["content_digest"] == "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
assert m["provenance"]["command"].startswith("qforge quantize ")
assert m["provenance"]["calibration"]["files"][0]["sha256"]
assert len(m["producer"]["git_commit"]) in (7, 40) or m["producer"]["git_commit"] == "unknown"
assert {l["name"] for l in m["producer"]["libraries"]} >= {"openssl", "nlohmann-json3", "eigen3"}
PY
  # Reproduce with another thread count: every file byte-identical.
  expect 0 "$a: reproduce --threads 1" -- "$Q" reproduce "$QF_AR/$a" --threads 1 --work-dir "$QF_AR"
  printf '%s' "$LAST_OUT" | grep -q "manifest identical" && pass || fail "$a: reproduce: $LAST_OUT"
done
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["artifact"]["version"]=="1.2.0"' "$QF_AR/gptq/qforge-manifest.json" \
  && pass || fail "artifact version not recorded"
# Keys, signatures, and openssl agreeing with them.
expect 0 "keygen" -- "$Q" keygen --key "$QF_AR/k.pem" --pubkey "$QF_AR/k.pub"
[ "$(stat -c %a "$QF_AR/k.pem")" = 600 ] && pass || fail "private key mode $(stat -c %a "$QF_AR/k.pem")"
expect 2 "keygen never replaces a key" -- "$Q" keygen --key "$QF_AR/k.pem" --pubkey "$QF_AR/k2.pub"
expect_err_one_line "keygen never replaces a key"
expect 0 "keygen second pair" -- "$Q" keygen --key "$QF_AR/other.pem" --pubkey "$QF_AR/other.pub"
expect 0 "sign" -- "$Q" sign "$QF_AR/gptq" --key "$QF_AR/k.pem"
expect 0 "verify" -- "$Q" verify "$QF_AR/gptq" --pubkey "$QF_AR/k.pub"
expect 1 "verify under another key" -- "$Q" verify "$QF_AR/gptq" --pubkey "$QF_AR/other.pub"
if command -v openssl > /dev/null; then
  openssl pkeyutl -verify -pubin -inkey "$QF_AR/k.pub" -rawin -in "$QF_AR/gptq/qforge-manifest.json" \
    -sigfile "$QF_AR/gptq/qforge-manifest.sig" > /dev/null && pass || fail "openssl does not verify qforge's signature"
  # And the other way: a signature openssl makes with qforge's key verifies in qforge.
  openssl pkeyutl -sign -inkey "$QF_AR/k.pem" -rawin -in "$QF_AR/gptq/qforge-manifest.json" -out "$QF_AR/openssl.sig" \
    && "$Q" verify "$QF_AR/gptq" --pubkey "$QF_AR/k.pub" --sig "$QF_AR/openssl.sig" > /dev/null && pass \
    || fail "qforge does not verify openssl's signature"
else
  fail "openssl is not installed (scripts/setup.sh --deps installs it)"
fi
# One flipped byte in any file -> verify fails naming that file; so does a missing or an extra file.
for f in $(cd "$QF_AR/gptq" && ls); do
  rm -rf "$QF_AR/t" && cp -r "$QF_AR/gptq" "$QF_AR/t"
  size=$(stat -c %s "$QF_AR/t/$f"); off=$(( (size * 7) / 13 ))
  python3 -c 'import sys; p,o=sys.argv[1],int(sys.argv[2]); b=bytearray(open(p,"rb").read()); b[o]^=0x20; open(p,"wb").write(b)' "$QF_AR/t/$f" "$off"
  expect 1 "verify flipped byte in $f" -- "$Q" verify "$QF_AR/t" --pubkey "$QF_AR/k.pub"
  case "$f" in
    qforge-manifest.json|qforge-manifest.sig) printf '%s' "$LAST_ERR" | grep -q "FAILED: .*qforge-manifest.sig: the signature does not match" \
      && pass || fail "flip in $f: $LAST_ERR" ;;
    *) printf '%s' "$LAST_ERR" | grep -q "FAILED: $f: differs" && pass || fail "flip in $f not named: $LAST_ERR" ;;
  esac
done
rm -rf "$QF_AR/t" && cp -r "$QF_AR/gptq" "$QF_AR/t" && rm "$QF_AR/t/tokenizer.model"
expect 1 "verify missing file" -- "$Q" verify "$QF_AR/t" --pubkey "$QF_AR/k.pub"
printf '%s' "$LAST_ERR" | grep -q "tokenizer.model: missing" && pass || fail "missing file not named: $LAST_ERR"
rm -rf "$QF_AR/t" && cp -r "$QF_AR/gptq" "$QF_AR/t" && mkdir "$QF_AR/t/sub" && echo x > "$QF_AR/t/sub/extra.bin"
expect 1 "verify extra file" -- "$Q" verify "$QF_AR/t" --pubkey "$QF_AR/k.pub"
printf '%s' "$LAST_ERR" | grep -q "sub/extra.bin: extra file" && pass || fail "extra file not named: $LAST_ERR"
expect 2 "sign refuses a tampered artifact" -- "$Q" sign "$QF_AR/t" --key "$QF_AR/k.pem"
expect_err_one_line "sign refuses a tampered artifact"
"$Q" reproduce "$QF_AR/t" > /dev/null 2>&1; [ $? = 2 ] && pass || fail "reproduce ran on a tampered artifact"
expect 2 "verify no artifact" -- "$Q" verify "$QF_AR/none"
expect_err_one_line "verify no artifact"
expect 2 "verify missing signature" -- "$Q" verify "$QF_AR/awq" --pubkey "$QF_AR/k.pub"
expect_err_one_line "verify missing signature"
expect 2 "sign with a public key" -- "$Q" sign "$QF_AR/awq" --key "$QF_AR/k.pub"
expect_err_one_line "sign with a public key"
# An SBOM with measured figures from an eval report.
expect 0 "eval for the SBOM" -- "$Q" eval "$QF_AR/gptq" --baseline "$SHARED/models/stories260K/hf" \
  --text "$SHARED/data/tinystories/tinystories_valid_fragment.txt" --ctx 64 --max-chunks 2 --json --threads 2
printf '%s' "$LAST_OUT" > "$QF_AR/eval.json"
expect 0 "sbom --eval" -- "$Q" sbom "$QF_AR/gptq" --eval "$QF_AR/eval.json" -o "$QF_AR/gptq.cdx.json"
python3 - "$QF_AR/gptq.cdx.json" "$QF_AR/gptq/qforge-manifest.json" <<'PY' && pass || fail "SBOM content"
import hashlib, json, sys
s = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
assert s["bomFormat"] == "CycloneDX" and s["specVersion"] == "1.6"
c = s["metadata"]["component"]
assert c["type"] == "machine-learning-model" and c["version"] == "1.2.0"
files = {f["name"]: f["hashes"][0]["content"] for f in c["components"]}
listed = {f["path"]: f["sha256"] for f in m["files"] if f["path"] != "sbom.cdx.json"}
assert files == listed
lines = "".join(f"{listed[p]}  {p}\n" for p in sorted(listed))
assert c["hashes"][0]["content"] == hashlib.sha256(lines.encode()).hexdigest()
metrics = {p["type"] for p in c["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]}
assert {"perplexity", "kl-divergence-mean", "top1-agreement"} <= metrics, metrics
assert any(x["type"] == "data" for x in s["components"])
PY
rm -rf "$QF_AR"
