#!/bin/sh
# Slow suite: render a report.html in headless Chromium, take a screenshot and check that the
# page's tables and images loaded.
#
#   tests/report-screenshot.sh REPORT.html [SCREENSHOT.png]
#   tests/report-screenshot.sh --run EXAMPLE DIR   (run examples/07-experiment into DIR first,
#                                                   then check DIR/report.html; DIR/report.png)
#
# Checks, in the browser after the load event (a copy of the report with a small inline script
# appended; the report itself has no script): every <img> decoded (complete, naturalWidth > 0),
# every inline <svg> laid out with a non-zero size, the tables have rows; and from the report
# text, that the counts the browser saw are the counts in the file (nothing dropped by the
# parser). Installs Debian's chromium when missing (needs root and apt); exits 77 (skip) when
# it cannot.
set -eu
if [ "${1:-}" = "--run" ]; then
    exe=${2:?usage: report-screenshot.sh --run EXAMPLE DIR}
    out=${3:?usage: report-screenshot.sh --run EXAMPLE DIR}
    rm -rf "$out"
    mkdir -p "$out"
    "$exe" "$out/run" >"$out/run.log" 2>&1 || { cat "$out/run.log" >&2; exit 1; }
    report=$out/run/report.html
    shot=$out/report.png
else
    report=${1:?usage: report-screenshot.sh REPORT.html [OUT.png]}
    shot=${2:-${report%.html}.png}
fi
[ -f "$report" ] || { echo "no such report: $report" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 || true
    fi
    browser=$(command -v chromium || true)
fi
[ -n "$browser" ] || { echo "chromium not available: skipped" >&2; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=$tmp/profile"
flags="$flags --virtual-time-budget=10000"

# 1. The page with a checker appended: it writes what the browser saw into an attribute of
#    <body> once everything loaded; --dump-dom prints the DOM after that.
grep -qi '<script' "$report" && { echo "report.html must be script-free" >&2; exit 1; }
check=$tmp/check.html
sed 's#</body>##' "$report" >"$check"
cat >>"$check" <<'EOF'
<script>
window.addEventListener('load', function () {
  var imgs = document.images, dec = 0;
  for (var i = 0; i < imgs.length; i++)
    if (imgs[i].complete && imgs[i].naturalWidth > 0 && imgs[i].naturalHeight > 0) dec++;
  var svgs = document.querySelectorAll('svg'), laid = 0;
  for (var j = 0; j < svgs.length; j++) {
    var r = svgs[j].getBoundingClientRect();
    if (r.width > 0 && r.height > 0) laid++;
  }
  var tables = document.querySelectorAll('table'), empty = 0;
  for (var k = 0; k < tables.length; k++) if (tables[k].rows.length < 2) empty++;
  document.body.setAttribute('data-check', 'imgs=' + imgs.length + ' decoded=' + dec +
    ' svgs=' + svgs.length + ' laid_out=' + laid + ' tables=' + tables.length +
    ' rows=' + document.querySelectorAll('tr').length + ' empty_tables=' + empty +
    ' height=' + document.documentElement.scrollHeight);
});
</script>
</body>
EOF
# shellcheck disable=SC2086
timeout 180 "$browser" $flags --window-size=1280,800 --dump-dom "file://$check" >"$tmp/dom.html" 2>"$tmp/dom.log" || true
seen=$(grep -o 'data-check="[^"]*"' "$tmp/dom.html" | head -n 1 | sed 's/data-check="//; s/"$//')
[ -n "$seen" ] || { cat "$tmp/dom.log" >&2; echo "the page did not finish loading" >&2; exit 1; }
val() { echo "$seen" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
imgs=$(val imgs); dec=$(val decoded); svgs=$(val svgs); laid=$(val laid_out)
tables=$(val tables); rows=$(val rows); empty=$(val empty_tables)
h=$(val height); [ "$h" -gt 16000 ] && h=16000; [ "$h" -lt 600 ] && h=600
# 2. The screenshot of the report as it is, as tall as the page (at most 16000 px).
# shellcheck disable=SC2086
timeout 180 "$browser" $flags --window-size=1280,$h --screenshot="$(abs "$shot")" \
    "file://$(abs "$report")" >"$tmp/shot.log" 2>&1 || true
[ -s "$shot" ] || { cat "$tmp/shot.log" >&2; echo "no screenshot written" >&2; exit 1; }
od -An -tx1 -N8 "$shot" | grep -q '89 50 4e 47' || { echo "$shot is not a PNG" >&2; exit 1; }

# What the file holds (the oracle for "nothing was dropped").
f_imgs=$(grep -o '<img ' "$report" | wc -l)
f_svgs=$(grep -o '<svg' "$report" | wc -l)
f_tables=$(grep -o '<table' "$report" | wc -l)
echo "screenshot $shot; browser saw: $seen"
echo "report file has: $f_imgs <img>, $f_svgs <svg>, $f_tables <table>"
fail=0
[ "$imgs" -eq "$f_imgs" ] && [ "$imgs" -ge 1 ] && [ "$dec" -eq "$imgs" ] ||
    { echo "images: $dec of $imgs decoded (file has $f_imgs)" >&2; fail=1; }
[ "$svgs" -eq "$f_svgs" ] && [ "$svgs" -ge 2 ] && [ "$laid" -eq "$svgs" ] ||
    { echo "svg plots: $laid of $svgs laid out (file has $f_svgs)" >&2; fail=1; }
[ "$tables" -eq "$f_tables" ] && [ "$tables" -ge 3 ] && [ "$empty" -eq 0 ] && [ "$rows" -ge 10 ] ||
    { echo "tables: $tables ($empty without data rows, $rows rows; file has $f_tables)" >&2; fail=1; }
[ "$fail" = 0 ] || exit 1
echo ok
