/**
 * An on-disk checker for file storage domains, for tests and operators: parses every metadata
 * file, verifies the domain seal, checks the layout, each volume's metadata and files, that every
 * image is a tree of volumes on one base (a single chain, or branches on INTERNAL volumes as a
 * snapshot preview makes them: each leaf ends one chain), and (optionally) that every leaf's
 * PUUID chain matches what `qemu-img info --backing-chain` sees in the data files; a data or
 * lease file without its .meta is an orphan. Read-only: it never repairs.
 */
import { BLANK_UUID as BLANK, UUID_RE } from "@vela/protocol";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { run } from "../../exec.js";
import { parseDomainMd, parseVolumeMd, type Md, type VolumeMd, VOLUME_MD_MAX } from "../metadata.js";

const REQUIRED_KEYS = ["VERSION", "SDUUID", "TYPE", "ROLE", "DESCRIPTION", "CLASS", "POOL_UUID", "LEASETIMESEC", "LOCKRENEWALINTERVALSEC", "IOOPTIMEOUTSEC", "LEASERETRIES"];

export interface CheckedVolume {
  image: string;
  volume: string;
  md: VolumeMd;
  /** PUUID chain, this volume first. */
  chain: string[];
}

export interface CheckReport {
  ok: boolean;
  problems: string[];
  metadata: Md;
  volumes: CheckedVolume[];
}

export interface CheckOptions {
  /** Also compare each leaf's chain with qemu-img (default true). */
  qemu?: boolean;
  /** Report ILLEGAL volumes as problems (default true). */
  illegalIsProblem?: boolean;
}

async function qemuChain(path: string): Promise<{ filename: string; format: string; "virtual-size": number }[]> {
  const r = await run(["qemu-img", "info", "-U", "--output=json", "--backing-chain", path], { timeoutMs: 60_000 });
  return JSON.parse(r.stdout);
}

export async function checkFileDomain(domainDir: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const problems: string[] = [];
  const sdUUID = basename(domainDir);
  let metadata: Md = {};
  try {
    metadata = parseDomainMd(await readFile(join(domainDir, "dom_md/metadata"), "utf8")).md;
    const text = await readFile(join(domainDir, "dom_md/metadata"), "utf8");
    if (!/\n_SHA_CKSUM=[0-9a-f]{40}\n$/.test(text)) problems.push("domain metadata: seal missing or not last");
    const keys = text.trimEnd().split("\n").slice(0, -1).map((l) => l.slice(0, l.indexOf("=")));
    if (keys.join("\n") !== [...keys].sort().join("\n")) problems.push("domain metadata: keys not sorted");
  } catch (err) {
    problems.push(`domain metadata: ${(err as Error).message}`);
  }
  for (const k of REQUIRED_KEYS) if (!(k in metadata)) problems.push(`domain metadata: missing ${k}`);
  if (metadata.SDUUID && metadata.SDUUID !== sdUUID) problems.push(`domain metadata: SDUUID ${metadata.SDUUID} in ${sdUUID}`);
  for (const [f, size] of [
    ["ids", -1],
    ["leases", -1],
    ["inbox", 16 * 2 ** 20],
    ["outbox", 16 * 2 ** 20],
  ] as const) {
    try {
      const st = await stat(join(domainDir, "dom_md", f));
      if (size >= 0 && st.size !== size) problems.push(`dom_md/${f}: ${st.size} bytes, expected ${size}`);
    } catch {
      problems.push(`dom_md/${f}: missing`);
    }
  }
  if (metadata.ROLE === "Master") {
    for (const k of ["POOL_DESCRIPTION", "POOL_DOMAINS", "POOL_SPM_ID", "POOL_SPM_LVER", "MASTER_VERSION"]) {
      if (!(k in metadata)) problems.push(`master domain metadata: missing ${k}`);
    }
  }

  const volumes: CheckedVolume[] = [];
  const imagesDir = join(domainDir, "images");
  let entries: string[] = [];
  try {
    entries = await readdir(imagesDir);
  } catch {
    problems.push("images/: missing");
  }
  for (const img of entries.sort()) {
    if (!UUID_RE.test(img)) {
      problems.push(`images/${img}: not an image (leftover of an interrupted operation?)`);
      continue;
    }
    const dir = join(imagesDir, img);
    const files = await readdir(dir);
    const mds = new Map<string, VolumeMd>();
    for (const f of files) {
      const base = f.replace(/\.(meta|lease)$/, "");
      if (!UUID_RE.test(base)) problems.push(`images/${img}/${f}: unexpected file`);
      else if (f !== `${base}.meta` && !files.includes(`${base}.meta`)) problems.push(`images/${img}/${f}: orphan (no ${base}.meta)`);
      if (!f.endsWith(".meta")) continue;
      const text = await readFile(join(dir, f), "utf8");
      try {
        if (Buffer.byteLength(text) > VOLUME_MD_MAX) throw new Error(`${Buffer.byteLength(text)} bytes`);
        if (!text.endsWith("EOF\n")) throw new Error("no EOF line");
        const keys = text.split("\n").slice(0, -2).map((l) => l.slice(0, l.indexOf("=")));
        if (keys.join("\n") !== [...keys].sort().join("\n")) throw new Error("keys not sorted");
        mds.set(base, parseVolumeMd(text));
      } catch (err) {
        problems.push(`images/${img}/${f}: ${(err as Error).message}`);
      }
    }
    for (const [v, md] of mds) {
      const where = `images/${img}/${v}`;
      for (const ext of ["", ".lease"]) if (!files.includes(v + ext)) problems.push(`${where}${ext}: missing`);
      if (md.DOMAIN !== sdUUID) problems.push(`${where}: DOMAIN=${md.DOMAIN}`);
      const shared = md.VOLTYPE === "SHARED";
      if (md.IMAGE !== img && !shared) problems.push(`${where}: IMAGE=${md.IMAGE}`);
      if (md.LEGALITY !== "LEGAL" && opts.illegalIsProblem !== false) problems.push(`${where}: ${md.LEGALITY}`);
      if (md.PUUID !== BLANK && !mds.has(md.PUUID)) problems.push(`${where}: parent ${md.PUUID} missing from the image`);
      const chain: string[] = [];
      for (let c: string | undefined = v; c && c !== BLANK; c = mds.get(c)?.PUUID) {
        if (chain.includes(c)) {
          problems.push(`${where}: loop in chain`);
          break;
        }
        chain.push(c);
      }
      volumes.push({ image: img, volume: v, md, chain });
    }
    const own = [...mds].filter(([, m]) => m.IMAGE === img || m.VOLTYPE !== "SHARED");
    const leaves = own.filter(([, m]) => m.VOLTYPE === "LEAF");
    const isTemplateImage = own.length > 0 && own.every(([, m]) => m.VOLTYPE === "SHARED");
    if (mds.size && !isTemplateImage) {
      if (!leaves.length) problems.push(`images/${img}: no leaf`);
      // One base: a volume whose parent is blank or a template's SHARED volume linked in.
      const bases = own.filter(([, m]) => m.VOLTYPE !== "SHARED" && (m.PUUID === BLANK || mds.get(m.PUUID)?.VOLTYPE === "SHARED"));
      if (bases.length !== 1) problems.push(`images/${img}: ${bases.length} base volumes (${bases.map(([v]) => v).join(",")})`);
    }
    for (const [v, m] of mds) {
      const kids = [...mds].filter(([, k]) => k.PUUID === v).length;
      if (m.VOLTYPE === "LEAF" && kids) problems.push(`images/${img}/${v}: LEAF with children`);
      if (m.VOLTYPE === "INTERNAL" && !kids) problems.push(`images/${img}/${v}: INTERNAL without children`);
    }
    if (opts.qemu === false) continue;
    for (const [leaf] of leaves) {
      const mine = volumes.find((x) => x.image === img && x.volume === leaf)!;
      try {
        const q = await qemuChain(join(dir, leaf));
        const names = q.map((e) => basename(e.filename));
        if (names.join(",") !== mine.chain.join(",")) problems.push(`images/${img}: metadata chain ${mine.chain.join("<-")} but qemu-img sees ${names.join("<-")}`);
        q.forEach((e, i) => {
          const md = mds.get(names[i]);
          if (!md) return;
          const want = md.FORMAT === "COW" ? "qcow2" : "raw";
          if (e.format !== want) problems.push(`images/${img}/${names[i]}: FORMAT=${md.FORMAT} but qemu-img sees ${e.format}`);
          if (e["virtual-size"] !== md.CAP) problems.push(`images/${img}/${names[i]}: CAP=${md.CAP} but virtual size ${e["virtual-size"]}`);
        });
      } catch (err) {
        problems.push(`images/${img}/${leaf}: qemu-img: ${(err as Error).message.slice(0, 300)}`);
      }
    }
  }
  return { ok: problems.length === 0, problems, metadata, volumes };
}
