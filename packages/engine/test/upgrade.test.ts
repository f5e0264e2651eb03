/**
 * Upgrades: an engine database made by the previous schema version is opened by this engine,
 * which migrates it and keeps every record. The fixture is a real database, not a hand-written
 * one: `scripts/upgrade-fixture.sh` ran `./vela up` at the commit whose latest migration was
 * 0004, made a VM from the tiny template with an extra disk, cloud-init data and a snapshot
 * through the API, stopped it and dumped the SQLite file. Add a fixture (and a case) for each
 * schema version that ships.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { type Engine, freePort, items, startEngine, tempDir } from "./support.js";

const FIXTURE = join(import.meta.dirname, "../../test/fixtures/engine-schema-0004.sql");
// What the fixture's ./vela up made (scripts/upgrade-fixture.sh printed these).
const OLD = { vm: "f027b5cc-f1d5-4801-ba09-5c6bba649246", disk: "4bd4a4ac-1872-4736-8f08-a56ba6f5ab42", domain: "cb1a290c-2626-4531-af42-903af10d920d" };

interface Named {
  id: string;
  name: string;
  description?: string;
  status?: string;
}

/** Loads the dump into a fresh home's engine.db; its host is pointed at a port nobody serves. */
async function oldHome(): Promise<string> {
  const home = tempDir("vela-upgrade-");
  const db = new Database(join(home, "engine.db"));
  db.exec(readFileSync(FIXTURE, "utf8"));
  // The dump's host listened on a port of the machine that made it; here another process may.
  db.prepare("UPDATE hosts SET port = ?").run(await freePort());
  db.close();
  return home;
}

describe("an engine database from schema 0004", () => {
  let home: string;
  let eng: Engine | undefined;
  before(async () => {
    home = await oldHome();
    eng = await startEngine({ home, db: "sqlite" });
  });
  after(async () => {
    await eng?.stop();
  });

  test("is migrated at start-up and keeps its VM, disks, template, domain, host and snapshot", async () => {
    const e = eng as Engine;
    const vm = await e.get<Named & { initialization?: { host_name?: string; custom_script?: string } }>(`/vms/${OLD.vm}`);
    assert.equal(vm.name, "old-vm");
    assert.equal(vm.description, "made by schema 0004");
    assert.equal(vm.initialization?.host_name, "oldhost", "cloud-init data (0004) kept");
    const atts = items<{ id: string }>(await e.get(`/vms/${OLD.vm}/diskattachments`), "disk_attachment").map((a) => a.id);
    assert.ok(atts.includes(OLD.disk), `the extra disk is still attached: ${JSON.stringify(atts)}`);
    assert.equal(atts.length, 2, "the template's disk copy and the extra disk");
    const snaps = items<{ description: string }>(await e.get(`/vms/${OLD.vm}/snapshots`), "snapshot").map((s) => s.description);
    assert.deepEqual(snaps.sort(), ["Active VM", "before upgrade"]);
    assert.ok(items<Named>(await e.get("/templates"), "template").some((t) => t.name === "tiny"));
    assert.equal((await e.get<Named>(`/storagedomains/${OLD.domain}`)).name, "local");
    assert.deepEqual(items<Named>(await e.get("/hosts"), "host").map((h) => h.name), ["host1"]);
    assert.equal((await e.get<Named>(`/disks/${OLD.disk}`)).name, "old-data");
  });

  test("gains what later schemas add: ovirtmgmt, its vNIC profile, NICs on the old VM", async () => {
    const e = eng as Engine;
    assert.ok(items<Named>(await e.get("/networks"), "network").some((n) => n.name === "ovirtmgmt"));
    const prof = items<Named>(await e.get("/vnicprofiles"), "vnic_profile").find((p) => p.name === "ovirtmgmt");
    assert.ok(prof, "an ovirtmgmt vNIC profile");
    assert.deepEqual(items(await e.get(`/vms/${OLD.vm}/nics`), "nic"), []);
    const nic = await e.post<{ mac: { address: string } }>(`/vms/${OLD.vm}/nics`, { name: "nic1", vnic_profile: { id: prof.id } });
    assert.match(nic.mac.address, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  });

  test("gains quotas (0020): its data center's default quota, which its VM and disks consume from", async () => {
    const e = eng as Engine;
    const dc = items<Named & { quota_mode: string }>(await e.get("/datacenters"), "data_center")[0] as Named & { quota_mode: string };
    assert.equal(dc.quota_mode, "disabled");
    const quotas = items<Named>(await e.get(`/datacenters/${dc.id}/quotas`), "quota");
    assert.deepEqual(quotas.map((q) => q.name), ["Default"]);
    const def = quotas[0]?.id;
    assert.equal((await e.get<{ quota?: { id: string } }>(`/vms/${OLD.vm}`)).quota?.id, def);
    assert.equal((await e.get<{ quota?: { id: string } }>(`/disks/${OLD.disk}`)).quota?.id, def);
    const st = items<{ usage: string }>(await e.get(`/datacenters/${dc.id}/quotas/${def}/quotastoragelimits`), "quota_storage_limit");
    assert.ok(Number(st[0]?.usage) > 0, `the old disks count in the default quota's usage: ${JSON.stringify(st)}`);
  });

  test("starts again on the migrated database with the same records", async () => {
    await eng?.stop();
    eng = await startEngine({ home, db: "sqlite" });
    assert.equal((await eng.get<Named>(`/vms/${OLD.vm}`)).name, "old-vm");
    assert.equal(items(await eng.get(`/vms/${OLD.vm}/nics`), "nic").length, 1);
  });
});
