#!/usr/bin/env python3
"""Create a thin qcow2 volume on a Vela node, speaking VDSM's XML-RPC with nothing but the
standard library -- the seed's own example of driving a node directly.

usage: create_volume.py [URL] [--size BYTES] [--domain SD_UUID] [--ca CA.pem --cert CERT.pem --key KEY.pem]
  URL defaults to https://127.0.0.1:54321 (a node started by `./vela up`). A node answers only
  clients with a certificate its engine's CA signed: --cert/--key (the client certificate
  `./vela up` prints), --ca the engine CA.
Prints the new volume's UUIDs and path as KEY=VALUE lines.
"""
import argparse
import ssl
import sys
import time
import uuid
import xmlrpc.client

BLANK = "00000000-0000-0000-0000-000000000000"
COW, SPARSE = 4, 2  # VDSM's volume format and allocation enums


def check(resp, what):
    if resp["status"]["code"] != 0:
        sys.exit("%s failed: %s (code %d)" % (what, resp["status"]["message"], resp["status"]["code"]))
    return resp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url", nargs="?", default="https://127.0.0.1:54321")
    ap.add_argument("--size", default=str(1024 ** 3), help="virtual size in bytes (default 1 GiB)")
    ap.add_argument("--domain", help="storage domain UUID (default: the first data domain)")
    ap.add_argument("--ca", help="the engine CA (PEM) the node's certificate must chain to")
    ap.add_argument("--cert", help="client certificate (PEM) signed by the engine CA")
    ap.add_argument("--key", help="the client certificate's key (PEM)")
    args = ap.parse_args()

    ctx = None
    if args.url.startswith("https:"):
        ctx = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
    node = xmlrpc.client.ServerProxy(args.url.rstrip("/") + "/RPC2", context=ctx)
    sd = args.domain or check(node.getStorageDomainsList(BLANK), "getStorageDomainsList")["domlist"][0]
    info = check(node.getStorageDomainInfo(sd), "getStorageDomainInfo")["info"]
    sp = info["pool"][0]

    img, vol = str(uuid.uuid4()), str(uuid.uuid4())
    # Sizes travel as strings: XML-RPC integers are 32-bit.
    task = check(node.createVolume(sd, sp, img, str(args.size), COW, SPARSE, "DATA", vol,
                                   "created by create_volume.py", BLANK, BLANK), "createVolume")["uuid"]
    while True:
        st = check(node.getTaskStatus(task), "getTaskStatus")["taskStatus"]
        if st["taskState"] == "finished":
            break
        time.sleep(0.05)
    if st["taskResult"] != "success":
        sys.exit("createVolume task failed: %s" % st["message"])

    vinfo = check(node.getVolumeInfo(sd, sp, img, vol), "getVolumeInfo")["info"]
    path = check(node.prepareImage(sd, sp, img, vol), "prepareImage")["path"]
    print("domain=%s\npool=%s\nimage=%s\nvolume=%s\nformat=%s\ncapacity=%s\npath=%s" % (
        sd, sp, img, vol, vinfo["format"], vinfo["capacity"], path))


if __name__ == "__main__":
    main()
