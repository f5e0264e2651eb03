#!/usr/bin/env bash
# Makes an engine database fixture for packages/engine/test/upgrade.test.ts from an older commit:
# runs that commit's `./vela up` in a throw-away worktree, makes a VM from the tiny template with
# an extra disk, cloud-init data and a snapshot through the API, stops it and prints the SQLite
# dump on stdout (the ids it made on stderr; needs the sqlite3 CLI). Usage: scripts/upgrade-fixture.sh COMMIT > FILE
set -euo pipefail
commit=${1:?usage: scripts/upgrade-fixture.sh COMMIT > fixture.sql}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d -t vela-fixture.XXXXXX)
trap 'kill -TERM -- -$up 2>/dev/null || true; sleep 3; pkill -f "$work/" 2>/dev/null || true; git -C "$root" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add -q --detach "$work/src" "$commit"
cd "$work/src"
export VELA_HOME=$work/home VELA_ENGINE_PORT=${PORT:-18090} VELA_NODE_PORT=${NODE_PORT:-15450} VELA_ADMIN_PASSWORD=fixture-Secret-1
setsid ./vela up > "$work/up.log" 2>&1 < /dev/null &
up=$!
until grep -q "Vela is up" "$work/up.log"; do kill -0 $up || { tail "$work/up.log" >&2; exit 1; }; sleep 1; done
E=http://127.0.0.1:$VELA_ENGINE_PORT/ovirt-engine/api
api() { curl -sf -u "admin@internal:$VELA_ADMIN_PASSWORD" -H 'Accept: application/json' -H 'Content-Type: application/json' -X "$1" ${3:+--data "$3"} "$E$2"; }
id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
sd=$(api GET /storagedomains | python3 -c 'import json,sys; print(json.load(sys.stdin)["storage_domain"][0]["id"])')
vm=$(api POST /vms '{"name":"old-vm","description":"made by schema 0004","cluster":{"name":"Default"},"template":{"name":"tiny"},"memory":268435456}' | id)
disk=$(api POST /disks "{\"name\":\"old-data\",\"provisioned_size\":104857600,\"format\":\"cow\",\"sparse\":true,\"storage_domains\":{\"storage_domain\":[{\"id\":\"$sd\"}]}}" | id)
until api GET "/disks/$disk" | grep -q '"status":"ok"'; do sleep 1; done
api POST "/vms/$vm/diskattachments" "{\"disk\":{\"id\":\"$disk\"},\"interface\":\"virtio\",\"bootable\":false,\"active\":true}" > /dev/null
api PUT "/vms/$vm" '{"initialization":{"host_name":"oldhost","custom_script":"echo hi"}}' > /dev/null
api POST "/vms/$vm/snapshots" '{"description":"before upgrade"}' > /dev/null
until [ "$(api GET "/vms/$vm/snapshots" | grep -o '"snapshot_status":"ok"' | wc -l)" -ge 2 ]; do sleep 1; done
echo "vm=$vm disk=$disk domain=$sd" >&2
kill -TERM -- -$up; wait $up || true
sqlite3 "$VELA_HOME/engine.db" 'pragma wal_checkpoint(TRUNCATE);' > /dev/null
sqlite3 "$VELA_HOME/engine.db" .dump
