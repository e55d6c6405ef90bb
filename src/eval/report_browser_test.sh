#!/usr/bin/env bash
# report.html in a real browser: renders the sample matrix with qforge_render_report, loads the page in
# headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) and checks the DOM after the
# page's script ran: <body data-ok="1"> (set at the end of the script's init), no #js-error (written by
# window.onerror), no console message at all, the matrix with one <tr> per row, the four SVG plots, and
# that clicking a header sorts the table (a probe script appended to a copy of the page clicks it).
# Also takes a screenshot (1400x2400) into the work dir and, when QFORGE_REPORT_SCREENSHOT is set, there.
#
# usage: report_browser_test.sh QFORGE_RENDER_REPORT MATRIX.json
# Missing chromium is a failure, not a skip: CI installs it with scripts/setup.sh.
set -euo pipefail

render="$1"
matrix="$2"
fail() { echo "FAIL: $*" >&2; exit 1; }

chrome="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$chrome" ] || fail "chromium not found: install Debian's chromium package (scripts/setup.sh --deps, or apt-get install -y --no-install-recommends chromium)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$render" "$matrix" "$work" || fail "qforge_render_report failed on $matrix"
[ -s "$work/report.html" ] || fail "no report.html written"

# A copy with a probe appended: sort by the first PPL column twice and check the order each time.
probe='<script>(function(){var r="pass";try{
var th=Array.prototype.filter.call(document.querySelectorAll("#matrix th.sortable"),function(h){return h.title.indexOf("PPL")===0;})[0];
if(!th)throw "no PPL header";var col=+th.getAttribute("data-col");
var vals=function(){return Array.prototype.map.call(document.querySelectorAll("#matrix tbody tr"),function(tr){var v=tr.cells[col].getAttribute("data-v");return v===""?null:parseFloat(v);});};
var check=function(dir){var v=vals(),seen=false;for(var i=0;i<v.length;i++){if(v[i]===null){seen=true;continue;}if(seen)throw "missing value before a number";if(i>0&&v[i-1]!==null&&(v[i]-v[i-1])*dir<0)throw "not sorted "+dir+": "+v.join(",");}};
th.click();if(th.getAttribute("aria-sort")!=="ascending")throw "no aria-sort ascending";check(1);
th.click();if(th.getAttribute("aria-sort")!=="descending")throw "no aria-sort descending";check(-1);
}catch(e){r="fail: "+e;}document.body.setAttribute("data-sorttest",r);})();</script>'
html="$(cat "$work/report.html")"
case "$html" in *'</body></html>') ;; *) fail "report.html does not end with </body></html>" ;; esac
printf '%s%s</body></html>\n' "${html%</body></html>}" "$probe" > "$work/probe.html"

flags=(--headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check --hide-scrollbars
       --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
start=$(date +%s)
timeout 60 "$chrome" "${flags[@]}" --dump-dom "file://$work/probe.html" > "$work/dom.html" 2> "$work/dom.err" ||
  { tail -20 "$work/dom.err" >&2; fail "chromium --dump-dom failed"; }
timeout 60 "$chrome" "${flags[@]}" --window-size=1400,2400 --screenshot="$work/report.png" "file://$work/report.html" \
  > /dev/null 2> "$work/shot.err" || { tail -20 "$work/shot.err" >&2; fail "chromium --screenshot failed"; }
echo "chromium: $(( $(date +%s) - start )) s for --dump-dom and --screenshot"

dom="$work/dom.html"
grep -q '<body[^>]*data-ok="1"' "$dom" || fail "the page's script did not finish (no data-ok=\"1\" on <body>)"
if grep -q 'id="js-error"' "$dom"; then
  grep -o '<pre id="js-error"[^<]*' "$dom" >&2
  fail "script error in the page"
fi
if grep -h 'CONSOLE' "$work/dom.err" "$work/shot.err" >&2; then fail "console messages (above)"; fi
grep -q 'data-sorttest="pass"' "$dom" || fail "sorting: $(grep -o 'data-sorttest="[^"]*"' "$dom" || echo 'probe did not run')"

expected_rows=$(grep -o '"status"' "$matrix" | wc -l)
dom_rows=$(grep -o '<tr data-i=' "$dom" | wc -l)
[ "$dom_rows" -eq "$expected_rows" ] || fail "matrix has $dom_rows rows in the DOM, expected $expected_rows"
grep -q '<table id="matrix"' "$dom" || fail "no #matrix table"
for id in plot-ppl-bpw plot-kld-bpw plot-speed-size plot-layer-error; do
  grep -q "<svg id=\"$id\"" "$dom" || fail "no <svg id=\"$id\">"
done
points=$(grep -o '<g class="pt"' "$dom" | wc -l)
[ "$points" -gt 0 ] || fail "no plotted points"
lines=$(grep -o '<g class="ln"' "$dom" | wc -l)
[ "$lines" -gt 0 ] || fail "no layer-error lines"

[ -s "$work/report.png" ] || fail "no screenshot"
[ "$(head -c 8 "$work/report.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "screenshot is not a PNG"
if [ -n "${QFORGE_REPORT_SCREENSHOT:-}" ]; then cp "$work/report.png" "$QFORGE_REPORT_SCREENSHOT"; fi
echo "PASS: $dom_rows rows, $points points, $lines layer lines, 4 plots, sorting works, no script or console error"
