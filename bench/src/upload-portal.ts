/**
 * Benchmark (issue 13): upload throughput of the portal's own client — the Upload page in Debian's
 * Chromium (headless, driven by playwright-core), `lib/transfer.ts`: 16 MiB `File.slice` PUTs to
 * the transfer's proxy_url, four in flight, then a flush — against `curl -T` of the same file to
 * a transfer's proxy_url, taking turns. The page's time is its data phase only, read from the
 * page's resource timings: the first range's start to the flush's answer (not the disk's creation
 * or the engine's qemu-img check). Real engine, node, storage domain.
 *   node bench/dist/src/upload-portal.js [MiB=256] [rounds=3]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { launch, newTab, open, see, signIn } from "@vela/engine/dist/test/browser.js";
import { addLocalDomain, type Engine, firstDcId, hostUp, startEngine, startNode, tempDir, until } from "@vela/engine/dist/test/support.js";
import { testPki } from "@vela/testkit/tls";

const MIB = Number(process.argv[2] ?? 256);
const ROUNDS = Number(process.argv[3] ?? 3);

/** A raw disk of `size` bytes in a transfer that takes data: its proxy_url and how to end it. */
async function transferFor(eng: Engine, sd: string, size: number, name: string): Promise<{ url: string; done: () => Promise<void> }> {
  const disk = await eng.post<{ id: string }>("/disks", { name, provisioned_size: size, format: "raw", sparse: true, storage_domains: { storage_domain: [{ id: sd }] } });
  await until("disk ok", async () => ((await eng.get<{ status: string }>(`/disks/${disk.id}`)).status === "ok" ? true : undefined), 120_000);
  const created = await eng.post<{ id: string }>("/imagetransfers", { disk: { id: disk.id }, inactivity_timeout: 600 });
  const t = await until("transferring", async () => {
    const g = await eng.get<{ phase: string; proxy_url?: string }>(`/imagetransfers/${created.id}`);
    return g.phase === "transferring" ? g : undefined;
  }, 60_000);
  return {
    url: t.proxy_url as string,
    done: async () => {
      await eng.post(`/imagetransfers/${created.id}/cancel`, {});
      await removeDisk(eng, disk.id);
    },
  };
}

/** Removes a disk once its transfer let it go (the box's space: each round writes the whole file). */
async function removeDisk(eng: Engine, id: string): Promise<void> {
  await until("disk released", async () => ((await eng.get<{ status: string }>(`/disks/${id}`)).status !== "locked" ? true : undefined), 60_000);
  await eng.api("DELETE", `/disks/${id}`);
}

async function main(): Promise<void> {
  const size = MIB * 2 ** 20;
  const work = tempDir("vela-bench-upload-portal-");
  const file = join(work, "bench-image.raw");
  const fd = openSync(file, "w");
  for (let off = 0; off < size; off += 8 << 20) writeSync(fd, randomBytes(Math.min(8 << 20, size - off)));
  closeSync(fd);
  const eng = await startEngine({ env: { VELA_REGISTRATION_TOKEN: "bench", VELA_LOG_LEVEL: "warn" } });
  const node = await startNode({ engineUrl: eng.url, token: "bench", name: "bench-upload-portal", env: { VELA_LOG_LEVEL: "warn" } });
  const browser = await launch();
  try {
    const h = await hostUp(eng);
    const sd = await addLocalDomain(eng, await firstDcId(eng), h.id, "bench-sd", tempDir("vela-bench-upload-portal-sd-"));
    const tab = await newTab(browser);
    const { page } = tab;
    await open(tab, `${eng.url}/`);
    await signIn(tab, eng.user, eng.password);
    const load0 = loadavg()[0] as number;
    const page_: number[] = [];
    const curl_: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // the portal: the Upload page, timed by the page's own record of its data requests
      await open(tab, `${eng.url}/ovirt-engine/web/#/upload`);
      await page.reload(); // a fresh page each round (the same hash would keep the last one's state)
      await see(tab, "the upload form", page.getByRole("heading", { name: "Upload a disk image" }));
      await page.evaluate(() => {
        const perf = performance as unknown as { clearResourceTimings: () => void; setResourceTimingBufferSize: (n: number) => void };
        perf.setResourceTimingBufferSize(10_000);
        perf.clearResourceTimings();
      });
      await page.getByLabel("Image file (qcow2, raw or ISO)").setInputFiles(file);
      await page.getByLabel("Disk name").fill(`bench-page-${r}`);
      await until("the storage domain offered", async () => ((await page.getByLabel("Storage domain").locator("option", { hasText: "bench-sd" }).count()) > 0 ? true : undefined));
      await page.getByRole("button", { name: "Upload" }).click();
      await see(tab, "the upload's end", page.getByRole("status").filter({ hasText: "is ready" }), 600_000);
      const span = await page.evaluate(() => {
        const all = (performance as unknown as { getEntriesByType: (t: string) => { name: string; startTime: number; responseEnd: number }[] }).getEntriesByType("resource");
        const data = all.filter((e) => e.name.includes("/imageio/images/"));
        return { n: data.length, ms: Math.max(...data.map((e) => e.responseEnd)) - Math.min(...data.map((e) => e.startTime)) };
      });
      if (span.n < Math.ceil(MIB / 16)) throw new Error(`the page's data requests: ${span.n}`);
      page_.push(MIB / (span.ms / 1000));
      const made = await eng.get<{ disk?: { id: string; alias?: string; name?: string }[] }>("/disks");
      const mine = (made.disk ?? []).find((d) => (d.alias ?? d.name) === `bench-page-${r}`);
      if (mine) await removeDisk(eng, mine.id);
      // curl: one PUT of the whole file to a transfer's proxy_url, flushed at its end
      const t = await transferFor(eng, sd, size, `bench-curl-${r}`);
      const t0 = performance.now();
      const code = execFileSync("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", join(testPki(), "ca.pem"), "-T", file, t.url], { encoding: "utf8" });
      if (code !== "200") throw new Error(`curl -T: HTTP ${code}`);
      curl_.push(MIB / ((performance.now() - t0) / 1000));
      await t.done();
    }
    const load1 = loadavg()[0] as number;
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const p = med(page_);
    const c = med(curl_);
    console.log(
      `upload ${MIB} MiB via proxy: portal (Chromium) ${p.toFixed(0)} MiB/s, curl -T ${c.toFixed(0)} MiB/s, ratio ${(p / c).toFixed(2)} (median of ${ROUNDS}: page ${page_.map((x) => x.toFixed(0)).join("/")}, curl ${curl_.map((x) => x.toFixed(0)).join("/")}; load ${load0.toFixed(1)}→${load1.toFixed(1)})`,
    );
    await tab.close();
  } finally {
    await browser.close();
    await node.stop();
    await eng.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
