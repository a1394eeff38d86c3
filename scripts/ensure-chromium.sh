#!/bin/sh
# Make sure Debian's chromium is at /usr/bin/chromium for the dashboard's browser tests
# (tests/test_web_browser.py drives it through Playwright; `playwright install` cannot
# download browsers here). Installs with apt-get only when it is missing and we are root.
# Never fails the build: without chromium the browser tests skip and say why.
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure-chromium: $CHROMIUM missing and not root; browser tests will be skipped (as root: apt-get install -y chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM missing and apt-get unavailable; browser tests will be skipped"
    exit 0
fi
echo "ensure-chromium: installing Debian chromium (apt-get update && apt-get install -y chromium)"
if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
else
    echo "ensure-chromium: apt-get failed; browser tests will be skipped"
fi
exit 0
