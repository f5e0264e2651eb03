#!/usr/bin/python3
"""
The journeys of libgovirt (the oVirt client library of remote-viewer/virt-viewer), driven through
GObject introspection, against a running Vela engine: sign-in with HTTP Basic and with an SSO
token, every collection libgovirt reads, the links from a VM to its cluster, data center, hosts
and storage domains, VM start/stop, and the console (display and ticket) as remote-viewer gets it.

Usage: govirt-journey.py URL USER PASSWORD VM_NAME [CA_FILE] [admin|user]
The last argument picks the view: `admin` (libgovirt's "admin" property set, `Filter: false`) runs
every step; `user` (libgovirt's default, `Filter: true`), as remote-viewer signs in a user who
holds a role on one VM: the collections it lists, the VM found by name, start, console, stop.
Prints one JSON object per step on stdout ({"step": …, …}); exits 1 on the first failure, with
the step and the error on stderr. Written for the Vela test suite (test/src/govirt.test.ts).
"""
import json
import ssl
import sys
import time
import urllib.parse
import urllib.request

import gi

gi.require_version("GoVirt", "1.0")
from gi.repository import GoVirt  # noqa: E402

URL, USER, PASSWORD, VM_NAME = sys.argv[1:5]
# The engine CA (PEM file) for an https URL: libgovirt checks the engine's certificate against it.
CA_FILE = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
ADMIN = (sys.argv[6] if len(sys.argv) > 6 else "admin") == "admin"


def out(step, **kw):
    print(json.dumps({"step": step, **kw}), flush=True)


def fail(step, err):
    print(f"govirt step {step} failed: {err}", file=sys.stderr, flush=True)
    sys.exit(1)


def names(collection, proxy):
    collection.fetch(proxy)
    return sorted(r.get_property("name") or "" for r in collection.get_resources().values())


def until(step, fn, timeout=90):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last is True:
            return
        time.sleep(0.5)
    fail(step, f"timed out, last {last}")


def new_proxy():
    # A full URL keeps the test's port; the engine's CA makes its certificate acceptable.
    p = GoVirt.Proxy.new(URL)
    if CA_FILE:
        p.set_property("ssl-ca-file", CA_FILE)
    return p


def basic_proxy():
    p = new_proxy()
    p.set_property("username", USER)
    p.set_property("password", PASSWORD)
    p.set_property("admin", ADMIN)
    return p


def collections(proxy, api):
    got = {}
    for c in ["clusters", "data_centers", "hosts", "storage_domains", "vm_pools", "vms"]:
        coll = getattr(api, "get_" + c)()
        if coll is None:
            fail(c, "the API root advertises no link for it")
        try:
            got[c] = names(coll, proxy)
        except Exception as e:
            # libgovirt 0.3.9 wants <vmpools>, oVirt v4 (and Vela) send <vm_pools>: it fails the same
            # against a real oVirt engine. Reported, not hidden: the test checks for exactly this.
            if c == "vm_pools" and "expected 'vmpools'" in str(e):
                got[c] = "libgovirt expects <vmpools>"
            else:
                raise
    return got


def find_vm(proxy, api):
    vms = api.get_vms()
    vms.fetch(proxy)
    vm = vms.lookup_resource(VM_NAME)
    if vm is None:
        fail("lookup", f"no VM named {VM_NAME}")
    found = api.search_vms(f"name={VM_NAME}")
    out("search", vms=names(found, proxy))
    return vm


def links(proxy, api):
    vm = find_vm(proxy, api)
    cluster = vm.get_cluster()
    cluster.refresh(proxy)
    dc = cluster.get_data_center()
    dc.refresh(proxy)
    hosts = names(cluster.get_hosts(), proxy)
    sds_coll = dc.get_storage_domains()
    sds = names(sds_coll, proxy)
    disks = {}
    for name, sd in sds_coll.get_resources().items():
        disks[name] = names(sd.get_disks(), proxy)
    dc_clusters = names(dc.get_clusters(), proxy)
    out("links", cluster=cluster.get_property("name"), data_center=dc.get_property("name"), hosts=hosts,
        storage_domains=sds, disks=disks, dc_clusters=dc_clusters)
    return vm


def start_and_console(proxy, vm):
    if not vm.start(proxy):
        fail("start", "start returned false")

    def up():
        vm.refresh(proxy)
        s = vm.get_property("state")
        return True if s.value_nick == "up" else s.value_nick

    until("up", up)
    if ADMIN:
        host = vm.get_host()
        host.refresh(proxy)
        host_name, host_vms = host.get_property("name"), names(host.get_vms(), proxy)
    else:
        host_name, host_vms = None, None  # hosts are not the user's to read
    display = vm.get_property("display")
    if display is None:
        fail("display", "the VM has no display")
    if not vm.get_ticket(proxy):
        fail("ticket", "get_ticket returned false")
    out("console", host=host_name, host_vms=host_vms,
        type=display.get_property("type").value_nick, address=display.get_property("address"),
        port=display.get_property("port"), ticket_len=len(display.get_property("ticket") or ""),
        expiry=display.get_property("expiry"))
    if not vm.stop(proxy):
        fail("stop", "stop returned false")

    def down():
        vm.refresh(proxy)
        s = vm.get_property("state")
        return True if s.value_nick == "down" else s.value_nick

    until("down", down)
    out("stopped", state="down")


def sso():
    form = urllib.parse.urlencode({"grant_type": "password", "scope": "ovirt-app-api", "username": USER, "password": PASSWORD}).encode()
    req = urllib.request.Request(URL + "/ovirt-engine/sso/oauth/token", data=form, headers={"Accept": "application/json"})
    ctx = ssl.create_default_context(cafile=CA_FILE) if CA_FILE else None
    token = json.load(urllib.request.urlopen(req, context=ctx))["access_token"]
    p = new_proxy()
    p.set_property("sso-token", token)
    p.set_property("admin", ADMIN)
    api = p.fetch_api()
    out("sso", vms=names(api.get_vms(), p))


def main():
    step = "basic"
    try:
        proxy = basic_proxy()
        api = proxy.fetch_api()
        out("basic", collections=collections(proxy, api))
        step = "links"
        vm = links(proxy, api) if ADMIN else find_vm(proxy, api)
        step = "console"
        start_and_console(proxy, vm)
        step = "sso"
        sso()
    except Exception as e:  # a GLib.GError carries the HTTP status text
        fail(step, e)


main()
