#!/usr/bin/env bash
# Builds Vela's "tiny" bootable disk image: an MBR disk with one FAT partition holding a Debian
# cloud kernel, a busybox initramfs and SYSLINUX, booted by the BIOS from the disk itself (no
# -kernel). Made without mounting anything (mkfs.vfat + mtools, `syslinux --install` on the
# partition file). Cached OUTSIDE the repository in ${VELA_CACHE:-$HOME/.cache/vela}/tiny/:
# tiny.qcow2, stamp. Prints that directory on stdout (and nothing else), like
# build-test-guest.sh. Idempotent: returns at once when the stamp holds this script's hash.
# It may apt-get install syslinux-common when its MBR code is missing.
#
# The guest (see /etc/init.d/rcS below) reads cloud-init NoCloud data from a disk labelled
# cidata (ISO9660 or vfat: meta-data, user-data, network-config), applies the host name, users,
# passwords, SSH keys and network config (v1: static/dhcp per interface), runs user-data shell
# scripts with their output on the console, then offers busybox getty logins on ttyS0 and tty1.
# Console markers: TINY-UP <kver>, TINY-CIDATA <dev> | TINY-NO-CIDATA, TINY-HOSTNAME <name>,
# TINY-NET-UP <if> <addr/prefix>, TINY-NET-FAILED <if> <why>, TINY-USER <name>,
# TINY-SCRIPT-START <n>, TINY-SCRIPT-DONE <n> rc=<rc>, TINY-CLOUD-INIT-DONE (after the scripts,
# which run in the background), TINY-LOGIN-READY <hostname> (before them), TINY-POWEROFF (power
# button, e.g. QMP system_powerdown).
set -euo pipefail

log() { printf 'build-tiny-image: %s\n' "$*" >&2; }

CACHE_ROOT="${VELA_CACHE:-$HOME/.cache/vela}"
OUT="$CACHE_ROOT/tiny"
SELF="${BASH_SOURCE[0]}"
RECIPE="$(sha256sum "$SELF" | cut -d' ' -f1)"
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
DISK_MIB=64
PART_START=2048 # sectors: the partition starts at 1 MiB

cached() {
  [[ -f "$OUT/stamp" && -f "$OUT/tiny.qcow2" ]] && grep -qx "recipe=$RECIPE" "$OUT/stamp"
}
if cached; then
  printf '%s\n' "$OUT"
  exit 0
fi
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/tiny.lock"
flock 9
if cached; then
  printf '%s\n' "$OUT"
  exit 0
fi

for tool in syslinux mcopy mkfs.vfat sfdisk qemu-img cpio dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || [[ -x "/sbin/$tool" || -x "/usr/sbin/$tool" ]] ||
    { log "missing $tool (./vela installs DEB_NEEDS: syslinux mtools dosfstools fdisk qemu-utils cpio)"; exit 1; }
done
# mbr.bin is in syslinux-common, only a Recommends of syslinux (./vela installs without those).
if [[ ! -f "$MBR_BIN" ]]; then
  log "installing syslinux-common (for $MBR_BIN)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends syslinux-common >&2
fi
[[ -f "$MBR_BIN" ]] || { log "missing $MBR_BIN (Debian package syslinux-common)"; exit 1; }
export PATH="$PATH:/sbin:/usr/sbin"

if ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  log "apt lists missing: apt-get update"
  apt-get update -qq >&2
fi
KPKG="$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n1)"
[[ -n "$KPKG" ]] || { log "cannot find the kernel package behind linux-image-cloud-amd64"; exit 1; }

DEBS="$CACHE_ROOT/debs"
mkdir -p "$DEBS"
fetch_deb() { # $1 = package name; prints the .deb path (shared cache with build-test-guest.sh)
  local pkg="$1" deb
  deb="$(ls "$DEBS"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)"
  if [[ -z "$deb" ]]; then
    log "downloading $pkg"
    (cd "$DEBS" && apt-get download -qq "$pkg" >&2) ||
      { apt-get update -qq >&2 && (cd "$DEBS" && apt-get download -qq "$pkg" >&2); }
    deb="$(ls "$DEBS"/"${pkg}"_*.deb | head -n1)"
  fi
  printf '%s\n' "$deb"
}
KDEB="$(fetch_deb "$KPKG")"
BDEB="$(fetch_deb busybox-static)"

WORK="$(mktemp -d "$CACHE_ROOT/tiny-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"
BB="$WORK/busybox/bin/busybox"
VMLINUZ="$(ls "$WORK"/kernel/boot/vmlinuz-* | head -n1)"
KVER="${VMLINUZ##*/vmlinuz-}"
KMOD="$WORK/kernel/lib/modules/$KVER"
"$BB" depmod -b "$WORK/kernel" "$KVER"

# Disks (virtio, IDE/SATA CD-ROMs for the seed), NICs, seed file systems, power button.
REQUIRED="virtio_pci virtio_blk virtio_net virtio_console button evdev isofs vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859_1"
OPTIONAL="virtio_scsi sd_mod sr_mod ata_piix ahci e1000 8139cp"
declare -A DEPS=() SEEN=()
while IFS= read -r line; do DEPS["${line%%:*}"]="${line#*:}"; done <"$KMOD/modules.dep"
path_of() {
  local name="$1" p base
  for p in "${!DEPS[@]}"; do
    base="${p##*/}"; base="${base%%.ko*}"
    [[ "${base//-/_}" == "${name//-/_}" ]] && { printf '%s\n' "$p"; return 0; }
  done
  return 0
}
builtin_mod() { grep -q "/${1}.ko\$" "$KMOD/modules.builtin" 2>/dev/null; }
ORDER=()
visit() {
  local p="$1" d
  [[ -n "${SEEN[$p]:-}" ]] && return 0
  SEEN["$p"]=1
  for d in ${DEPS[$p]}; do visit "$d"; done
  ORDER+=("$p")
}
for m in $REQUIRED; do
  p="$(path_of "$m")"
  if [[ -n "$p" ]]; then visit "$p"
  elif builtin_mod "$m"; then :
  else log "required module $m not found in $KVER"; exit 1
  fi
done
for m in $OPTIONAL; do p="$(path_of "$m")"; [[ -n "$p" ]] && visit "$p"; done

ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,run,root,home,var/log,var/run,etc/init.d,etc/acpi/PWRF,etc/udhcpc,lib/modules/"$KVER"}
chmod 700 "$ROOT/root"
chmod 1777 "$ROOT/tmp"
cp "$BB" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
: >"$ROOT/etc/modules.order"
for p in "${ORDER[@]}"; do
  mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$p")"
  cp "$KMOD/$p" "$ROOT/lib/modules/$KVER/$p"
  printf '/lib/modules/%s/%s\n' "$KVER" "$p" >>"$ROOT/etc/modules.order"
done

# Accounts: root is locked until cloud-init sets a password.
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:!:19000:0:99999:7:::\n' >"$ROOT/etc/shadow"
chmod 600 "$ROOT/etc/shadow"
printf 'root:x:0:\nusers:x:100:\n' >"$ROOT/etc/group"
printf '/bin/sh\n' >"$ROOT/etc/shells"
printf 'tiny\n' >"$ROOT/etc/hostname"
printf 'Vela tiny \\n (\\l)\n\n' >"$ROOT/etc/issue"
printf '127.0.0.1 localhost\n' >"$ROOT/etc/hosts"

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# PID 1 of the tiny image: the bare mounts, then busybox init (inittab below) for the rest.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
exec /bin/init
EOF
chmod 755 "$ROOT/init"

cat >"$ROOT/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100
tty1::respawn:/bin/getty 38400 tty1
::ctrlaltdel:/bin/reboot
::shutdown:/bin/sync
EOF

cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# acpid runs this on the power button (QMP system_powerdown).
exec >/dev/console 2>&1
echo TINY-POWEROFF
sync
poweroff -f
EOF
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

cat >"$ROOT/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: apply the lease.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    [ -n "$dns" ] && for d in $dns; do echo "nameserver $d"; done >/etc/resolv.conf
    echo "TINY-NET-UP $interface $ip/${mask:-24}" >/dev/console
    ;;
esac
exit 0
EOF
chmod 755 "$ROOT/etc/udhcpc/default.script"

# The NoCloud reader. Values in the seed are YAML scalars: plain, or double-quoted with JSON-style
# escapes (what Vela's engine writes); unq() decodes both. Only the shapes cloud-init documents
# for these keys are understood; anything else is ignored and said on the console.
cat >"$ROOT/etc/cloud.awk" <<'EOF'
# Reads cloud-config or network-config (v1) YAML; prints tab-separated records for rcS:
#   host NAME | user NAME | pass NAME PASSWORD | key NAME KEY | net IF dhcp | net IF static ADDR PREFIX GW
#   dns ADDR | search DOMAIN
function unq(s,   out, i, c, n) {
  sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
  if (s ~ /^"/) {
    out = ""; n = length(s)
    for (i = 2; i < n; i++) {
      c = substr(s, i, 1)
      if (c == "\\") { i++; c = substr(s, i, 1); if (c == "n") c = "\n"; else if (c == "t") c = "\t" }
      out = out c
    }
    return out
  }
  if (s ~ /^'/) { s = substr(s, 2, length(s) - 2); gsub(/''/, "'", s); return s }
  sub(/[ \t]+#.*$/, "", s)
  return s
}
function prefix(m,   n, i, p, o) {
  if (m ~ /^[0-9]+$/) return m
  n = split(m, o, "."); p = 0
  for (i = 1; i <= n; i++) { v = o[i] + 0; while (v > 0) { p += v % 2; v = int(v / 2) } }
  return p
}
function flushnet() {
  if (ifname != "" && stype != "") {
    if (stype ~ /^dhcp/) print "net\t" ifname "\tdhcp"
    else if (stype == "static") print "net\t" ifname "\tstatic\t" addr "\t" pfx "\t" gw
  }
  stype = ""; addr = ""; pfx = ""; gw = ""
}
function keyval(line,   k) { k = line; sub(/:.*/, "", k); sub(/^[ \t-]+/, "", k); return k }
function val(line) { sub(/^[^:]*:[ \t]*/, "", line); return unq(line) }
{ sub(/\r$/, "") }
/^[ \t]*#/ || /^[ \t]*$/ { next }
{
  ind = match($0, /[^ ]/) - 1
  line = $0
  if (ind == 0) {
    flushnet()
    top = keyval(line); sub2 = ""; uname = ""
    if (top == "hostname" || top == "local-hostname") { host = val(line); if (top == "hostname" || fqdn == "") print "host\t" host }
    if (top == "fqdn") { fqdn = val(line) }
    if (top == "password") print "pass\troot\t" val(line)
    next
  }
  if (top == "users" || (top == "chpasswd" && sub2 == "users")) {
    if (line ~ /^[ \t]*- *name:/) { uname = val(line); if (top == "users") print "user\t" uname; next }
    if (line ~ /^[ \t]*-[ \t]*[^ \t]/ && uname == "" ) next
    k = keyval(line)
    if (k == "plain_text_passwd" || (k == "password" && top == "chpasswd")) { print "pass\t" uname "\t" val(line); next }
    if (k == "ssh_authorized_keys") { inkeys = 1; keyuser = uname; next }
    if (inkeys && line ~ /^[ \t]*- /) { l = line; sub(/^[ \t]*- /, "", l); print "key\t" keyuser "\t" unq(l); next }
    inkeys = 0
    next
  }
  if (top == "chpasswd") { k = keyval(line); if (k == "users") sub2 = "users"; next }
  if (top == "ssh_authorized_keys" && line ~ /^[ \t]*- /) { l = line; sub(/^[ \t]*- /, "", l); print "key\troot\t" unq(l); next }
  if (top == "config") {
    k = keyval(line)
    if (line ~ /^[ \t]*- *type:/ && ind <= 4 && k == "type") { flushnet(); ifname = ""; nskey = ""; kind = val(line); next }
    if (k == "name" && kind == "physical" && ind <= 4) { ifname = val(line); next }
    if (line ~ /^[ \t]*- *type:/) { flushnet(); stype = val(line); next }
    if (k == "address" && kind == "physical") { addr = val(line); if (addr ~ /\//) { pfx = addr; sub(/.*\//, "", pfx); sub(/\/.*/, "", addr) }; next }
    if (k == "netmask") { pfx = prefix(val(line)); next }
    if (k == "gateway") { gw = val(line); next }
    if (kind == "nameserver" && line ~ /^[ \t]*[a-z_]+:/) nskey = k
    if (kind == "nameserver" && nskey == "address" && line ~ /^[ \t]*- /) { l = line; sub(/^[ \t]*- /, "", l); print "dns\t" unq(l); next }
    if (kind == "nameserver" && nskey == "search" && line ~ /^[ \t]*- /) { l = line; sub(/^[ \t]*- /, "", l); print "search\t" unq(l); next }
    if (kind == "nameserver" && k == "address" && line ~ /\[/) { l = val(line); gsub(/[\[\]" ]/, "", l); n = split(l, a, ","); for (i = 1; i <= n; i++) print "dns\t" a[i]; next }
    if (k == "dns_nameservers" && line ~ /\[/) { l = val(line); gsub(/[\[\]" ]/, "", l); n = split(l, a, ","); for (i = 1; i <= n; i++) print "dns\t" a[i]; next }
  }
}
END { flushnet() }
EOF

cat >"$ROOT/etc/mime.awk" <<'EOF'
# Splits MIME multipart user-data into DIR/part-N.<type> files (cloud-config or shellscript).
# Headers: Content-Type with boundary on the first lines; parts separated by --BOUNDARY.
BEGIN { n = 0; state = "head"; b = "" }
{ sub(/\r$/, "") }
state == "head" && /boundary=/ { b = $0; sub(/.*boundary="?/, "", b); sub(/".*/, "", b); next }
b != "" && $0 == "--" b "--" { state = "done"; next }
b != "" && $0 == "--" b { n++; state = "phead"; type = "other"; next }
state == "phead" && /^[Cc]ontent-[Tt]ype:/ {
  if ($0 ~ /text\/cloud-config/) type = "cloud-config"; else if ($0 ~ /text\/x-shellscript/) type = "shellscript"
  next
}
state == "phead" && /^$/ { state = "body"; f = dir "/part-" n "." type; next }
state == "body" { print > f }
EOF

cat >"$ROOT/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# Tiny image start-up: modules, then the NoCloud seed (cidata), then logins.
export PATH=/bin:/sbin
exec </dev/console >/dev/console 2>&1
while read -r m; do insmod "$m" 2>/dev/null; done </etc/modules.order
mdev -s 2>/dev/null
acpid -c /etc/acpi -l /tmp/acpid.log 2>/dev/null
ip link set lo up
hostname -F /etc/hostname
echo "TINY-UP $(uname -r)"

seed=""
for i in 1 2 3 4 5 6 7 8 9 10; do
  seed=$(findfs LABEL=cidata 2>/dev/null || findfs LABEL=CIDATA 2>/dev/null) && break
  seed=""; sleep 0.2; mdev -s 2>/dev/null
done
if [ -z "$seed" ]; then
  echo TINY-NO-CIDATA
else
  mkdir -p /run/cidata /run/cloud
  mount -o ro -t iso9660 "$seed" /run/cidata 2>/dev/null || mount -o ro -t vfat "$seed" /run/cidata
  echo "TINY-CIDATA $seed"
  : >/run/cloud/records
  [ -f /run/cidata/meta-data ] && awk -f /etc/cloud.awk /run/cidata/meta-data >>/run/cloud/records
  ud=/run/cidata/user-data
  if [ -f "$ud" ]; then
    case "$(head -n1 "$ud")" in
      "#cloud-config"*) cp "$ud" /run/cloud/part-0.cloud-config ;;
      "#!"*) cp "$ud" /run/cloud/part-0.shellscript ;;
      *) grep -qi '^content-type: *multipart' "$ud" && awk -v dir=/run/cloud -f /etc/mime.awk "$ud" ;;
    esac
  fi
  for f in /run/cloud/part-*.cloud-config; do [ -f "$f" ] && awk -f /etc/cloud.awk "$f" >>/run/cloud/records; done
  [ -f /run/cidata/network-config ] && awk -f /etc/cloud.awk /run/cidata/network-config >>/run/cloud/records
  TAB=$(printf '\t')
  add_user() { # busybox-static has no adduser: one passwd + shadow line, a home, a group
    grep -q "^$1:" /etc/passwd && return 0
    uid=$(awk -F: 'BEGIN { m = 999 } $3 > m { m = $3 } END { print m + 1 }' /etc/passwd)
    echo "$1:x:$uid:100::/home/$1:/bin/sh" >>/etc/passwd
    echo "$1:!:19000:0:99999:7:::" >>/etc/shadow
    mkdir -p "/home/$1" && chown "$uid:100" "/home/$1" && chmod 700 "/home/$1"
  }
  set_hash() { # busybox-static has no chpasswd: replace the hash field of user $1 by $2
    awk -F: -v OFS=: -v u="$1" -v h="$2" '$1 == u { $2 = h } { print }' /etc/shadow >/etc/shadow.new &&
      chmod 600 /etc/shadow.new && mv /etc/shadow.new /etc/shadow
  }
  while IFS="$TAB" read -r kind a b c d e; do
    case "$kind" in
      host)
        case "$a" in ""|*[!A-Za-z0-9.-]*) echo "TINY-BAD-HOSTNAME" ;; *)
          echo "${a%%.*}" >/etc/hostname; hostname "${a%%.*}"; echo "127.0.1.1 $a ${a%%.*}" >>/etc/hosts
          echo "TINY-HOSTNAME ${a%%.*}" ;;
        esac ;;
      user)
        case "$a" in ""|*[!a-z0-9_-]*) echo "TINY-BAD-USER" ;; *)
          add_user "$a"; echo "TINY-USER $a" ;;
        esac ;;
      pass)
        case "$a" in ""|*[!a-z0-9_-]*) echo "TINY-BAD-USER"; continue ;; esac
        add_user "$a"
        if hash=$(printf '%s\n' "$b" | mkpasswd -m sha512 -P 0) && set_hash "$a" "$hash"; then echo "TINY-PASSWORD $a"; else echo "TINY-PASSWORD-FAILED $a"; fi ;;
      key)
        home=$(awk -F: -v u="$a" '$1 == u { print $6 }' /etc/passwd)
        [ -n "$home" ] || continue
        mkdir -p "$home/.ssh" && printf '%s\n' "$b" >>"$home/.ssh/authorized_keys"
        chmod 700 "$home/.ssh"; chmod 600 "$home/.ssh/authorized_keys"
        chown -R "$a" "$home/.ssh"; echo "TINY-SSH-KEY $a" ;;
      dns) echo "nameserver $a" >>/etc/resolv.conf ;;
      search)
        case "$a" in ""|*[!A-Za-z0-9.-]*) echo "TINY-BAD-SEARCH" ;; *) echo "search $a" >>/etc/resolv.conf ;; esac ;;
      net)
        if ! ip link set "$a" up 2>/dev/null; then echo "TINY-NET-FAILED $a no such interface"; continue; fi
        if [ "$b" = dhcp ]; then
          udhcpc -s /etc/udhcpc/default.script -i "$a" -q -n -t 10 -T 1 >/dev/null 2>&1 || echo "TINY-NET-FAILED $a dhcp"
        elif ip addr add "$c/$d" dev "$a"; then
          [ -n "$e" ] && ip route add default via "$e" dev "$a"
          echo "TINY-NET-UP $a $c/$d"
        else
          echo "TINY-NET-FAILED $a static $c/$d"
        fi ;;
    esac
  done </run/cloud/records
  # User scripts run in order but in the background (as cloud-init's final stage): a script that
  # waits for a peer or never ends must not keep the logins away.
  (
    n=0
    for f in /run/cloud/part-*.shellscript; do
      [ -f "$f" ] || continue
      n=$((n + 1))
      chmod 700 "$f"
      echo "TINY-SCRIPT-START $n"
      ( cd /root && "$f" ) </dev/null; rc=$?
      echo "TINY-SCRIPT-DONE $n rc=$rc"
    done
    echo TINY-CLOUD-INIT-DONE
  ) &
fi
echo "TINY-LOGIN-READY $(hostname)"
EOF
chmod 755 "$ROOT/etc/init.d/rcS"

log "packing initramfs"
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -9 >"$WORK/initrd.img"

cat >"$WORK/syslinux.cfg" <<'EOF'
DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  KERNEL /vmlinuz
  APPEND initrd=/initrd.img console=tty0 console=ttyS0,115200 quiet
EOF

log "making the disk"
PART_SECTORS=$(( DISK_MIB * 2048 - PART_START ))
truncate -s "$(( PART_SECTORS * 512 ))" "$WORK/part.img"
mkfs.vfat -n TINY -h "$PART_START" "$WORK/part.img" >/dev/null
mcopy -i "$WORK/part.img" "$VMLINUZ" ::/vmlinuz
mcopy -i "$WORK/part.img" "$WORK/initrd.img" ::/initrd.img
mcopy -i "$WORK/part.img" "$WORK/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$WORK/part.img"
truncate -s "${DISK_MIB}M" "$WORK/disk.raw"
printf 'label: dos\nstart=%s, type=c, bootable\n' "$PART_START" | sfdisk -q "$WORK/disk.raw"
dd if="$MBR_BIN" of="$WORK/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/part.img" of="$WORK/disk.raw" bs=1M seek=1 conv=notrunc status=none
STAGE="$WORK/out"
mkdir -p "$STAGE"
qemu-img convert -q -f raw -O qcow2 -c "$WORK/disk.raw" "$STAGE/tiny.qcow2"
printf 'recipe=%s\nkernel=%s\nkver=%s\nbusybox=%s\nvirtual_size=%s\n' "$RECIPE" "$(basename "$KDEB")" "$KVER" "$(basename "$BDEB")" "$(( DISK_MIB * 1024 * 1024 ))" >"$STAGE/stamp"
OLD="$CACHE_ROOT/tiny.old.$$"
[[ -e "$OUT" ]] && mv "$OUT" "$OLD"
mv "$STAGE" "$OUT"
rm -rf "$OLD"
log "built in $OUT"
printf '%s\n' "$OUT"
