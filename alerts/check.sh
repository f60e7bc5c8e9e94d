#!/bin/sh
# Check the alerting files without cargo: promtool check + unit tests of the rules, and
# amtool check-config of the example Alertmanager config when amtool is installed.
# The same checks, and more (dashboards, metric contract), run in `cargo test --test rules`.
set -eu
cd "$(dirname "$0")"
command -v promtool >/dev/null 2>&1 || {
    echo "promtool not found: install the Debian package 'prometheus' (apt-get install --no-install-recommends prometheus)" >&2
    exit 1
}
promtool check rules ./*.rules.yml ./*.alerts.yml
promtool test rules tests/*.test.yml
if command -v amtool >/dev/null 2>&1; then
    amtool check-config alertmanager.yml
else
    echo "amtool not found (Debian package 'prometheus-alertmanager'): alertmanager.yml not checked" >&2
fi
