/**
 * Vela's own QMP client: one connection to one QEMU's monitor socket, one typed method per
 * command the node uses, and QMP events re-emitted by name. It speaks only the wire protocol
 * (line-delimited JSON, greeting, `qmp_capabilities`, `id`-tagged commands); it never decides
 * anything about the VM — callers read state through it, never guess it. Shared by the VMs'
 * QEMU (virt/) and the storage daemon (storage/volume/qsd.ts): QEMU's home in the node, apart from both.
 */
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";

export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

/** Events the node reacts to, with the members it reads. Others arrive as `unknown` data. */
export interface QmpEventMap {
  SHUTDOWN: { guest: boolean; reason: string };
  POWERDOWN: Record<string, never>;
  RESET: { guest: boolean; reason: string };
  STOP: Record<string, never>;
  RESUME: Record<string, never>;
  BLOCK_WRITE_THRESHOLD: { "node-name": string; "amount-exceeded": number; "write-threshold": number };
  BLOCK_IO_ERROR: { device: string; "node-name"?: string; operation: string; action: string; nospace?: boolean; reason: string };
  GUEST_PANICKED: { action: string };
  VNC_CONNECTED: { server: unknown; client: unknown };
  VNC_DISCONNECTED: { server: unknown; client: unknown };
  JOB_STATUS_CHANGE: { id: string; status: string };
  DEVICE_DELETED: { device?: string; path: string };
}

export interface QmpEvent {
  event: string;
  data: unknown;
  timestamp: QmpTimestamp;
}

/** `query-status`. */
export interface QmpStatusInfo {
  status: string;
  running: boolean;
  singlestep?: boolean;
}

/** `query-vnc` (the members Vela reads). */
export interface QmpVncInfo {
  enabled: boolean;
  host?: string;
  family?: string;
  service?: string;
  auth?: string;
}

/** `query-block` (the members Vela reads). */
export interface QmpBlockInfo {
  device: string;
  qdev?: string;
  removable: boolean;
  tray_open?: boolean;
  inserted?: { file: string; ro: boolean; drv: string };
}

export interface QmpNamedNode {
  "node-name": string;
  drv: string;
  image: { "virtual-size": number; filename: string };
}

export interface QmpBlockStats {
  rd_bytes: number;
  wr_bytes: number;
  rd_operations: number;
  wr_operations: number;
  wr_highest_offset: number;
  flush_operations?: number;
  /** Time spent in completed reads, writes and flushes (ns): with the counts, the average latency. */
  rd_total_time_ns?: number;
  wr_total_time_ns?: number;
  flush_total_time_ns?: number;
}

/** One entry of `query-blockstats` with `query-nodes: true`. */
export interface QmpBlockStatsEntry {
  "node-name"?: string;
  device?: string;
  qdev?: string;
  stats: QmpBlockStats;
  parent?: { "node-name"?: string; stats: QmpBlockStats };
}

/** One entry of `query-jobs` (the members Vela reads). */
export interface QmpJobInfo {
  id: string;
  type: string;
  status: string;
  "current-progress": number;
  "total-progress": number;
  /** Set when a concluded job failed. */
  error?: string;
}

/** An error answer from QEMU to a command. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = "QmpError";
  }
}

/** The connection closed (QEMU exited, or we closed it) before the answer came. */
export class QmpClosedError extends Error {
  constructor(readonly command: string) {
    super(`QMP ${command}: connection closed`);
    this.name = "QmpClosedError";
  }
}

export class QmpTimeoutError extends Error {
  constructor(readonly command: string, ms: number) {
    super(`QMP ${command}: no answer in ${ms} ms`);
    this.name = "QmpTimeoutError";
  }
}

interface Pending {
  command: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** Greeting + capabilities negotiation must finish within this. */
  timeoutMs?: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
}

export class QmpClient {
  private readonly emitter = new EventEmitter();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buf = "";
  private isClosed = false;
  /** Resolves when the connection is gone, for whatever reason. */
  readonly closed: Promise<void>;
  private greeted?: (v: unknown) => void;

  private constructor(
    private readonly sock: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    this.emitter.setMaxListeners(50);
    this.closed = new Promise((res) => {
      sock.once("close", () => {
        this.isClosed = true;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new QmpClosedError(p.command));
          this.pending.delete(id);
        }
        res();
      });
    });
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => this.onData(chunk));
    // Errors end in "close"; the handler only keeps them from being thrown.
    sock.on("error", () => {});
  }

  /** Connects to a QMP socket, reads the greeting and leaves negotiation mode. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const sock = connect({ path });
    const client = new QmpClient(sock, opts.commandTimeoutMs ?? 30_000);
    try {
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new QmpTimeoutError("greeting", timeoutMs)), timeoutMs);
        sock.once("error", (e) => {
          clearTimeout(timer);
          rej(e);
        });
        void client.closed.then(() => {
          clearTimeout(timer);
          rej(new QmpClosedError("greeting"));
        });
        client.greeted = () => {
          clearTimeout(timer);
          res();
        };
      });
      await client.qmpCapabilities();
      return client;
    } catch (e) {
      sock.destroy();
      throw e;
    }
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }

  on<K extends keyof QmpEventMap>(event: K, fn: (data: QmpEventMap[K], ev: QmpEvent) => void): this;
  on(event: "event", fn: (ev: QmpEvent) => void): this;
  on(event: string, fn: (...args: never[]) => void): this {
    this.emitter.on(event, fn as (...a: unknown[]) => void);
    return this;
  }

  off(event: string, fn: (...args: never[]) => void): this {
    this.emitter.off(event, fn as (...a: unknown[]) => void);
    return this;
  }

  /** Resolves with the next occurrence of an event (for tests and one-shot waits). */
  once<K extends keyof QmpEventMap>(event: K, timeoutMs = 30_000): Promise<QmpEventMap[K]> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.emitter.off(event, fn);
        rej(new QmpTimeoutError(`event ${event}`, timeoutMs));
      }, timeoutMs);
      const fn = (data: QmpEventMap[K]) => {
        clearTimeout(timer);
        res(data);
      };
      this.emitter.once(event, fn);
    });
  }

  // ---- commands: one typed method each -------------------------------------------------------

  qmpCapabilities(): Promise<void> {
    return this.execute("qmp_capabilities") as Promise<void>;
  }

  queryStatus(): Promise<QmpStatusInfo> {
    return this.execute("query-status") as Promise<QmpStatusInfo>;
  }

  /** Presses the ACPI power button; the guest decides what to do. */
  systemPowerdown(): Promise<void> {
    return this.execute("system_powerdown") as Promise<void>;
  }

  /** Ends QEMU at once. The answer may be lost when QEMU closes the socket first; that is success. */
  async quit(): Promise<void> {
    try {
      await this.execute("quit");
    } catch (e) {
      if (!(e instanceof QmpClosedError)) throw e;
    }
  }

  cont(): Promise<void> {
    return this.execute("cont") as Promise<void>;
  }

  stop(): Promise<void> {
    return this.execute("stop") as Promise<void>;
  }

  /** Arms a one-shot BLOCK_WRITE_THRESHOLD event on a node; 0 disarms. */
  blockSetWriteThreshold(nodeName: string, writeThreshold: number): Promise<void> {
    return this.execute("block-set-write-threshold", { "node-name": nodeName, "write-threshold": writeThreshold }) as Promise<void>;
  }

  queryBlockstats(queryNodes = true): Promise<QmpBlockStatsEntry[]> {
    return this.execute("query-blockstats", { "query-nodes": queryNodes }) as Promise<QmpBlockStatsEntry[]>;
  }

  queryVnc(): Promise<QmpVncInfo> {
    return this.execute("query-vnc") as Promise<QmpVncInfo>;
  }

  /** Sets the password of a display protocol (VNC). A VNC server started with password=on refuses everyone until this. */
  setPassword(protocol: "vnc", password: string): Promise<void> {
    return this.execute("set_password", { protocol, password }) as Promise<void>;
  }

  /** When the display password stops working: "+N" seconds from now, "now" or "never". */
  expirePassword(protocol: "vnc", time: string): Promise<void> {
    return this.execute("expire_password", { protocol, time }) as Promise<void>;
  }

  /** Hard reset, as the reset button: the guest gets no say. */
  systemReset(): Promise<void> {
    return this.execute("system_reset") as Promise<void>;
  }

  /** Presses keys together (a chord), by QKeyCode name, and releases them. */
  sendKey(keys: string[], holdTimeMs = 100): Promise<void> {
    return this.execute("send-key", { keys: keys.map((k) => ({ type: "qcode", data: k })), "hold-time": holdTimeMs }) as Promise<void>;
  }

  injectNmi(): Promise<void> {
    return this.execute("inject-nmi") as Promise<void>;
  }

  /** Writes the current display to a PNG file (QEMU 7.1+). */
  screendump(filename: string): Promise<void> {
    return this.execute("screendump", { filename, format: "png" }) as Promise<void>;
  }

  /** Starts a `blockdev-create` job (image creation in qemu-storage-daemon); ends as a JOB_STATUS_CHANGE. */
  blockdevCreate(jobId: string, options: Record<string, unknown>): Promise<void> {
    return this.execute("blockdev-create", { "job-id": jobId, options }) as Promise<void>;
  }

  queryJobs(): Promise<QmpJobInfo[]> {
    return this.execute("query-jobs") as Promise<QmpJobInfo[]>;
  }

  jobDismiss(id: string): Promise<void> {
    return this.execute("job-dismiss", { id }) as Promise<void>;
  }

  // ---- block graph: live snapshots -----------------------------------------------------------

  /** Adds a block node (a file node, or a format node over one) to the graph, unattached. */
  blockdevAdd(options: Record<string, unknown>): Promise<void> {
    return this.execute("blockdev-add", options) as Promise<void>;
  }

  /** Removes a node that blockdev-add made and nothing uses. */
  blockdevDel(nodeName: string): Promise<void> {
    return this.execute("blockdev-del", { "node-name": nodeName }) as Promise<void>;
  }

  /**
   * Runs actions all-or-nothing (QMP `transaction`); here `blockdev-snapshot`: `overlay` (a qcow2
   * node without a backing) becomes the device's top, with `node` as its backing.
   */
  transaction(actions: { type: "blockdev-snapshot"; data: { node: string; overlay: string } }[]): Promise<void> {
    return this.execute("transaction", { actions }) as Promise<void>;
  }

  /**
   * `block-commit` as a job (live merge): `top` is committed into `base` (node names) under the
   * device whose root is `device`. With top the active layer the job goes `ready` and waits for
   * `block-job-complete`; otherwise it ends by itself. `backingFile`: the string written into the
   * header of the overlay above top (not for an active commit). Not dismissed automatically, so
   * the outcome can be read in query-jobs.
   */
  blockCommit(a: { jobId: string; device: string; base: string; top: string; backingFile?: string; speed?: number }): Promise<void> {
    const args: Record<string, unknown> = { "job-id": a.jobId, device: a.device, "base-node": a.base, "top-node": a.top, "auto-dismiss": false };
    if (a.backingFile !== undefined) args["backing-file"] = a.backingFile;
    if (a.speed) args.speed = a.speed;
    return this.execute("block-commit", args) as Promise<void>;
  }

  /** Ends a `ready` mirror or active commit job: the device switches to the job's target (pivot). */
  blockJobComplete(jobId: string): Promise<void> {
    return this.execute("block-job-complete", { device: jobId }) as Promise<void>;
  }

  // ---- NICs: link state and hot-plug ----------------------------------------------------------

  /** Sets a NIC's link (by device id) up or down, as a cable plugged in or pulled. */
  setLink(name: string, up: boolean): Promise<void> {
    return this.execute("set_link", { name, up }) as Promise<void>;
  }

  netdevAdd(args: Record<string, unknown>): Promise<void> {
    return this.execute("netdev_add", args) as Promise<void>;
  }

  netdevDel(id: string): Promise<void> {
    return this.execute("netdev_del", { id }) as Promise<void>;
  }

  deviceAdd(args: Record<string, unknown>): Promise<void> {
    return this.execute("device_add", args) as Promise<void>;
  }

  /** Asks for removal; the device is gone only at its DEVICE_DELETED event (the guest must agree). */
  deviceDel(id: string): Promise<void> {
    return this.execute("device_del", { id }) as Promise<void>;
  }

  // ---- removable media (CD-ROM) and the memory balloon --------------------------------------

  /** Puts an image file into a removable drive (by device id), closing its tray. */
  blockdevChangeMedium(id: string, filename: string): Promise<void> {
    return this.execute("blockdev-change-medium", { id, filename, format: "raw", "read-only-mode": "read-only" }) as Promise<void>;
  }

  /** Opens a removable drive's tray, even if the guest locked it. */
  blockdevOpenTray(id: string): Promise<void> {
    return this.execute("blockdev-open-tray", { id, force: true }) as Promise<void>;
  }

  /** Takes the medium out of an open tray. */
  blockdevRemoveMedium(id: string): Promise<void> {
    return this.execute("blockdev-remove-medium", { id }) as Promise<void>;
  }

  /** `block_resize`: grows the image of a block node (a live disk extension; the guest sees it). */
  blockResize(nodeName: string, size: number): Promise<void> {
    return this.execute("block_resize", { "node-name": nodeName, size }) as Promise<void>;
  }

  /** `query-named-block-nodes` (flat): every node with its image's virtual size. */
  queryNamedBlockNodes(): Promise<QmpNamedNode[]> {
    return this.execute("query-named-block-nodes", { flat: true }) as Promise<QmpNamedNode[]>;
  }

  /** `query-block`: every block device with its medium. */
  queryBlock(): Promise<QmpBlockInfo[]> {
    return this.execute("query-block") as Promise<QmpBlockInfo[]>;
  }

  /** Asks the guest's balloon driver to leave the VM this many bytes. */
  balloon(bytes: number): Promise<void> {
    return this.execute("balloon", { value: bytes }) as Promise<void>;
  }

  /** The memory the guest has now (bytes), as its balloon driver reports it. */
  queryBalloon(): Promise<{ actual: number }> {
    return this.execute("query-balloon") as Promise<{ actual: number }>;
  }

  /** Reads a QOM property (the balloon's `guest-stats`, its polling interval). */
  qomGet(path: string, property: string): Promise<unknown> {
    return this.execute("qom-get", { path, property });
  }

  qomSet(path: string, property: string, value: unknown): Promise<void> {
    return this.execute("qom-set", { path, property, value }) as Promise<void>;
  }

  // ---- wire ---------------------------------------------------------------------------------

  private execute(command: string, args?: Record<string, unknown>, timeoutMs = this.commandTimeoutMs): Promise<unknown> {
    if (this.isClosed) return Promise.reject(new QmpClosedError(command));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args) msg.arguments = args;
      this.sock.write(`${JSON.stringify(msg)}\n`);
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf("\n");
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
      nl = this.buf.indexOf("\n");
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QEMU only sends JSON; a broken line can only be a truncated write at exit
    }
    if ("QMP" in msg) {
      this.greeted?.(msg.QMP);
      this.greeted = undefined;
      return;
    }
    if (typeof msg.event === "string") {
      const ev: QmpEvent = { event: msg.event, data: msg.data ?? {}, timestamp: msg.timestamp as QmpTimestamp };
      this.emitter.emit("event", ev);
      this.emitter.emit(ev.event, ev.data, ev);
      return;
    }
    const id = typeof msg.id === "number" ? msg.id : -1;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ("error" in msg) {
      const err = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, err.class ?? "GenericError", err.desc ?? ""));
    } else {
      p.resolve(msg.return);
    }
  }
}
