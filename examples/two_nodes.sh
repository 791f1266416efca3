#!/usr/bin/env bash
# Two node processes on 127.0.0.1: ask one from the other, send it a file, read its rows back.
set -euo pipefail
ANYNODE=${ANYNODE:-$(command -v anynode || echo "$(dirname "$0")/../.venv/bin/anynode")}
work=$(mktemp -d)
op=
cleanup() { [ -n "$op" ] && kill "$op" 2>/dev/null && wait "$op" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/op.al" <<'AL'
set node name op1
connect dbms demo where type = sqlite
run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true
run operator
AL
"$ANYNODE" --home "$work/op1" process "$work/op.al" > "$work/op1.log" 2>&1 &
op=$!
until grep -q "Operator running" "$work/op1.log"; do sleep 0.1; done
peer=$(grep -o 'Listening on: 127.0.0.1:[0-9]*' "$work/op1.log" | head -1 | cut -d' ' -f3)
echo "op1 listens on $peer"

printf '{"sensor": "s1", "value": 1}\n{"sensor": "s2", "value": 2}\n' > "$work/rows.json"
"$ANYNODE" --home "$work/q1" \
  -e "set node name q1" \
  -e "run client ($peer) get status" \
  -e "run client ($peer) file copy $work/rows.json !!watch_dir/demo.readings.0.json"
for _ in $(seq 100); do   # the file goes through op1's watch directory and operator
    "$ANYNODE" --home "$work/q1" -e "run client ($peer) sql demo format = json \"select count(*) as n from readings\"" \
        2>/dev/null | grep -q '"n": 2' && break
    sleep 0.2
done
"$ANYNODE" --home "$work/q1" -e "run client ($peer) sql demo format = json \"select sensor, value from readings\""
