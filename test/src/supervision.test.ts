/**
 * `vela up` supervision, as systemd's Restart=always would do on a real host: with a VM running,
 * the node agent is killed with SIGKILL — it is started again, recovers the VM (same QEMU), and the
 * engine shows the host and the VM `up` again with nothing left `unknown`; then the engine is
 * killed the same way and comes back with the same host and VM up.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { list, Rest } from "@vela/cli/rest";
import { type Started, up } from "@vela/cli/up";
import { freePort } from "@vela/node/test/harness";
import { findProcesses } from "./support/proc.js";
import { seedEnginePki } from "@vela/node/test/tls";
import { until } from "@vela/testkit";

let started: Started;
let rest: Rest;
let home: string;
let vmId: string;
let qemuPid: number;

interface Named {
  id: string;
  name: string;
  status: string;
}

const vmStatus = async () => (await rest.get<Named>(`/vms/${vmId}`)).status;
const hostStatuses = async () => list<Named>(await rest.get("/hosts"), "host").map((h) => h.status);
const logText = (f: string) => readFileSync(join(home, "logs", f), "utf8");
const logTail = (f: string) => logText(f).slice(-1500);

before(async () => {
  home = mkdtempSync(join(tmpdir(), "vela-sup-"));
  // Fast engine polls and a slow first restart: the engine must see the agent gone (host
  // non_responsive, VM unknown) before it comes back — the state a dead agent used to leave for good.
  process.env.VELA_ENGINE_HOST_POLL_MS = "500";
  process.env.VELA_ENGINE_VM_POLL_MS = "500";
  const backoff = { initialMs: 3000, maxMs: 30_000, stableMs: 60_000 };
  seedEnginePki(home); // the run's test CA: fetch() trusts it
  started = await up({ hosts: 1, home, enginePort: await freePort(), nodePort: await freePort(), backoff });
  rest = new Rest(started.info.url, started.info.user, started.info.password);
  const disk = await rest.post<{ id: string }>("/disks", {
    name: "sup-disk",
    provisioned_size: 2 ** 30,
    format: "cow",
    sparse: true,
    storage_domains: { storage_domain: [{ name: "local" }] },
  });
  await until("disk ok", async () => ((await rest.get<Named>(`/disks/${disk.id}`)).status === "ok" ? true : undefined), 60_000);
  // No kernel: the firmware finds nothing to boot and idles, which is all a running VM needs here.
  const vm = await rest.post<Named>("/vms", { name: "sup-vm", cluster: { name: "Default" }, template: { name: "Blank" }, memory: 128 * 2 ** 20 });
  vmId = vm.id;
  await rest.post(`/vms/${vm.id}/diskattachments`, { disk: { id: disk.id }, interface: "virtio", bootable: true, active: true });
  await rest.post(`/vms/${vm.id}/start`, {});
  await until("vm up", async () => ((await vmStatus()) === "up" ? true : undefined), 60_000);
  const qemu = findProcesses("qemu-system", vm.id);
  assert.equal(qemu.length, 1, "one QEMU for the VM");
  qemuPid = qemu[0]!.pid;
});

after(async () => {
  for (const p of findProcesses("qemu-system", home)) process.kill(p.pid, "SIGKILL");
  await started?.stop();
});

test("an agent killed -9 with a VM running is started again; the VM and host are up again, same QEMU", async () => {
  const node = started.nodes[0]!;
  const oldPid = node.pid!;
  const t0 = performance.now();
  process.kill(oldPid, "SIGKILL");
  const gone = await until("the engine sees the agent gone", async () => {
    const [v, hs] = [await vmStatus(), await hostStatuses()];
    return hs[0] !== "up" && v !== "up" ? `vm ${v}, host ${hs[0]}` : undefined;
  }, 60_000);
  assert.equal(gone, "vm unknown, host non_responsive");
  await until("agent restarted", () => (node.pid !== oldPid && node.restarts === 1 ? true : undefined), 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; node log:\n${logTail("node-1.log")}`);
  });
  let seen = "";
  await until(
    "VM and host up again",
    async () => {
      const [v, hs] = [await vmStatus(), await hostStatuses()];
      seen = `vm ${v}, hosts ${hs.join(",")}`;
      return v === "up" && hs.every((h) => h === "up") ? true : undefined;
    },
    30_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${seen}; node log:\n${logTail("node-1.log")}`);
  });
  const secs = (performance.now() - t0) / 1000;
  process.stderr.write(`agent killed -> VM shown up again: ${secs.toFixed(1)} s (3 s restart delay, 0.5 s polls)\n`);
  assert.doesNotThrow(() => process.kill(qemuPid, 0), "the VM's QEMU survived the agent");
  assert.deepEqual(
    findProcesses("qemu-system", vmId).map((p) => p.pid),
    [qemuPid],
    "the restarted agent adopted the same QEMU, no second one",
  );
  assert.match(logText("node-1.log"), /starting it again in/, "the restart is said in the agent's log");
});

test("the engine killed -9 is started again and shows the same host and VM up", async () => {
  const engine = started.engine;
  const oldPid = engine.pid!;
  process.kill(oldPid, "SIGKILL");
  await until("engine restarted", () => (engine.pid !== oldPid && engine.restarts === 1 ? true : undefined), 30_000);
  let seen = "";
  await until(
    "API answers with VM and host up",
    async () => {
      try {
        const [v, hs] = [await vmStatus(), await hostStatuses()];
        seen = `vm ${v}, hosts ${hs.join(",")}`;
        return v === "up" && hs.length === 1 && hs[0] === "up" ? true : undefined;
      } catch (e) {
        seen = String(e);
        return undefined;
      }
    },
    30_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${seen}; engine log:\n${logTail("engine.log")}`);
  });
  assert.doesNotThrow(() => process.kill(qemuPid, 0), "the VM's QEMU survived the engine restart");
  assert.match(logText("engine.log"), /starting it again in/);
});
