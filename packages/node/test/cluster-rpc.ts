/**
 * Small clients of a test cluster's node verbs: a retry over network errors (not RPC errors), an
 * RPC error check by code, and a createVolume request in JSON-RPC form.
 */
import { BLANK_UUID as BLANK } from "@vela/protocol";
import type { Cluster } from "./cluster-support.js";
import { RpcError } from "./harness.js";
import { sleep } from "./wait.js";

/**
 * Retries a call that failed at the HTTP level (not with an RPC error): after a SIGCONT the agent
 * closes keep-alive sockets that idled past their timeout while frozen, and a request may have
 * been written to one of them.
 */
export async function retryNet<T>(fn: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RpcError || i >= tries) throw err;
      await sleep(200);
    }
  }
}

export function isRpcError(err: unknown, code?: number): err is RpcError {
  return err instanceof RpcError && (code === undefined || err.code === code);
}

/** A volume-create request in JSON-RPC form. */
export function createParams(c: Cluster, img: string, vol: string, parent?: string): Record<string, unknown> {
  return {
    storagedomainID: c.sdUUID,
    storagepoolID: c.spUUID,
    imageID: img,
    volumeID: vol,
    size: 64 * 2 ** 20,
    volFormat: 4,
    preallocate: 2,
    diskType: "DATA",
    desc: "cluster test",
    srcImgUUID: parent ? img : BLANK,
    srcVolUUID: parent ?? BLANK,
  };
}

