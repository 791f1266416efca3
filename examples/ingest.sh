#!/usr/bin/env bash
# A JSON file becomes rows; a bad file is explained. Uses a throwaway node home.
set -euo pipefail
ANYNODE=${ANYNODE:-$(command -v anynode || echo "$(dirname "$0")/../.venv/bin/anynode")}
home=$(mktemp -d)
node=
cleanup() { [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null; rm -rf "$home"; }
trap cleanup EXIT

printf 'connect dbms demo where type = sqlite\nrun operator\n' > "$home/node.al"
: > "$home/node.log"   # there before the node writes to it: the wait below reads it at once
"$ANYNODE" --home "$home" process "$home/node.al" > "$home/node.log" 2>&1 &
node=$!
until grep -q "Operator running" "$home/node.log"; do
    kill -0 "$node" 2>/dev/null || { echo "the node did not start:" >&2; cat "$home/node.log" >&2; exit 1; }
    sleep 0.1
done

# Publish by moving complete files in (a half-written file is never read either way).
printf '[{"sensor": "s1", "value": 21.5}, {"sensor": "s2", "value": 19}]\n' > "$home/demo.readings.json"
printf '{"sensor": "s3", "value": ' > "$home/demo.broken.json"   # cut short on purpose
# One file per mv: given several, GNU mv stats each one after moving it, and the operator may
# already have taken it ("cannot stat").
mv "$home/demo.readings.json" "$home/data/watch/"
mv "$home/demo.broken.json" "$home/data/watch/"
until [ -n "$(ls "$home/data/error" 2>/dev/null)" ] && [ -n "$(find "$home/data/archive" -name '*.gz')" ]; do
    sleep 0.1
done

kill -TERM "$node"; wait "$node"; node=
echo "== rows"
"$ANYNODE" --home "$home" -e "connect dbms demo where type = sqlite" -e 'sql demo "select sensor, value from readings"'
echo "== archived"; find "$home/data/archive" -type f -printf '%P\n'
echo "== refused"; ls "$home/data/error"; cat "$home/data/error/"*.err.txt
