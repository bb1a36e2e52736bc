#!/usr/bin/env bash
# Run the test suite while capturing every non-loopback interface; report what left.
# Needs root and tcpdump. Sets up first, so package downloads are not in the capture.
set -euo pipefail
cd "$(dirname "$0")/.."
make setup >/dev/null
capture=$(mktemp /tmp/nano_vision_net.XXXXXX.pcap)
interfaces=$(ip -o link show up | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$')
pids=()
for interface in $interfaces; do
  tcpdump -i "$interface" -n -w "$capture.$interface" >/dev/null 2>&1 &
  pids+=($!)
done
sleep 1
status=0
make test || status=$?
sleep 1
kill "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
total=0
for interface in $interfaces; do
  count=$(tcpdump -r "$capture.$interface" -n 2>/dev/null | wc -l)
  echo "packets on $interface during make test: $count"
  total=$((total + count))
  rm -f "$capture.$interface"
done
rm -f "$capture"
[ "$status" = 0 ] || exit "$status"
[ "$total" = 0 ]
