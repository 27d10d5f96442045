#!/bin/sh
# Slow suite: render a report.html in headless Chromium, take a screenshot and check that the
# page's tables and images loaded (DOM dump: <table> rows, <img> with a decoded data URI,
# inline <svg>). Usage: tests/report-screenshot.sh REPORT.html [SCREENSHOT.png]
# Installs Debian's chromium when it is missing (needs apt); exits 77 (skip) when it cannot.
set -eu
report=${1:?usage: report-screenshot.sh REPORT.html [OUT.png]}
shot=${2:-${report%.html}.png}
[ -f "$report" ] || { echo "no such report: $report" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 || true
    fi
    browser=$(command -v chromium || true)
fi
[ -n "$browser" ] || { echo "chromium not available: skipped" >&2; exit 77; }
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
flags="--headless --no-sandbox --disable-gpu --allow-file-access-from-files"
# shellcheck disable=SC2086
timeout 120 "$browser" $flags --window-size=1280,4000 --screenshot="$shot" "$url" >/dev/null 2>&1
[ -s "$shot" ] || { echo "no screenshot written" >&2; exit 1; }
# The DOM after load: tables with rows, images whose data URIs decoded (naturalWidth > 0 is not
# visible in a dump, so check the PNG signature of the first data URI and that the DOM kept it).
dom=$(mktemp)
trap 'rm -f "$dom"' EXIT
# shellcheck disable=SC2086
timeout 120 "$browser" $flags --dump-dom "$url" > "$dom" 2>/dev/null
tables=$(grep -o '<table' "$dom" | wc -l)
rows=$(grep -o '<tr>' "$dom" | wc -l)
imgs=$(grep -o '<img[^>]*src="data:image/png;base64,' "$dom" | wc -l)
svgs=$(grep -o '<svg' "$dom" | wc -l)
echo "screenshot $shot: $tables tables, $rows rows, $imgs images, $svgs svg plots"
[ "$tables" -ge 3 ] && [ "$rows" -ge 10 ] && [ "$imgs" -ge 1 ] && [ "$svgs" -ge 2 ] || {
    echo "report did not render its tables/images" >&2; exit 1; }
first=$(grep -o 'data:image/png;base64,[A-Za-z0-9+/=]*' "$dom" | head -n 1 | cut -d, -f2)
printf '%s' "$first" | base64 -d 2>/dev/null | head -c 8 | od -An -tx1 | grep -q '89 50 4e 47' || {
    echo "first sample image is not a PNG" >&2; exit 1; }
echo ok
